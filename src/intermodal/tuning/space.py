"""Search spaces: the settings of a method that a tuner may change, each with its default.

A setting is a :class:`Float`, an :class:`Int` or a :class:`Choice`. Its ``default`` is the
method's setting without tuning, and the first trial of every tuning run uses the defaults. A
setting is *stackable* when it does not change the architecture (learning rate, weight decay, a
dropout rate, a loss weight), so models that differ only in stackable settings can be trained
as one stacked model; widths, ranks, heads and orders are architectural.

A method declares its space beside its builder (``register_method(..., space=...)``); the
builder reads each setting with ``context.param(name, default)``, except ``lr`` and
``weight_decay``, which are the run context's own fields (see :func:`apply_params`). A user
narrows or widens a space from YAML with :func:`override_spaces`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from intermodal.errors import UnknownNameError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from intermodal.training.context import RunContext

Scalar: TypeAlias = "bool | int | float | str | None"

CONTEXT_FIELDS = ("lr", "weight_decay")
"""Settings that are fields of the run context (AdamW's), not builder params."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Float:
    """A real setting in ``[low, high]``, sampled uniformly or, with ``log``, log-uniformly."""

    low: float
    high: float
    default: float
    log: bool = False
    stackable: bool = True

    def __post_init__(self) -> None:
        if not all(_number(v) and math.isfinite(v) for v in (self.low, self.high, self.default)):
            raise ValueError(
                f"a float setting needs finite numbers, got low={self.low!r}, "
                f"high={self.high!r}, default={self.default!r}"
            )
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-uniform setting needs low > 0, got {self.low}")
        if not self.low <= self.default <= self.high:
            raise ValueError(f"the default {self.default} is outside [{self.low}, {self.high}]")

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def contains(self, value: Any) -> bool:
        return _number(value) and self.low <= value <= self.high

    def points(self) -> tuple[Scalar, ...] | None:
        return None

    def describe(self) -> str:
        return f"float [{self.low:g}, {self.high:g}]{' log' if self.log else ''}"


@dataclass(frozen=True)
class Int:
    """An integer setting in ``[low, high]`` (both included), optionally log-uniform."""

    low: int
    high: int
    default: int
    log: bool = False
    stackable: bool = False

    def __post_init__(self) -> None:
        for value in (self.low, self.high, self.default):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(
                    f"an integer setting needs integers, got low={self.low!r}, "
                    f"high={self.high!r}, default={self.default!r}"
                )
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got [{self.low}, {self.high}]")
        if self.log and self.low < 1:
            raise ValueError(f"a log-uniform integer setting needs low >= 1, got {self.low}")
        if not self.low <= self.default <= self.high:
            raise ValueError(f"the default {self.default} is outside [{self.low}, {self.high}]")

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )

    def points(self) -> tuple[Scalar, ...] | None:
        return tuple(range(self.low, self.high + 1))

    def describe(self) -> str:
        return f"int [{self.low}, {self.high}]{' log' if self.log else ''}"


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (JSON scalars); a single option fixes the setting."""

    options: tuple[Scalar, ...]
    default: Scalar
    stackable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        if not self.options:
            raise ValueError("a choice needs at least one option")
        for option in self.options:
            if not (option is None or isinstance(option, (bool, int, float, str))):
                raise ValueError(f"options must be numbers, strings or booleans, got {option!r}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options {list(self.options)} repeat a value")
        if self.default not in self.options:
            raise ValueError(f"the default {self.default!r} is not among {list(self.options)}")

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.options)

    def contains(self, value: Any) -> bool:
        return any(value == o and type(value) is type(o) for o in self.options)

    def points(self) -> tuple[Scalar, ...] | None:
        return self.options

    def describe(self) -> str:
        return f"one of {list(self.options)}"


Param: TypeAlias = "Float | Int | Choice"


class SearchSpace(Mapping[str, Param]):
    """Named settings in declaration order (the order trials and records list them).

    ``SearchSpace(lr=Float(1e-4, 1e-2, 1e-3, log=True), rank=Int(2, 16, 4, log=True))``;
    ``a | b`` joins two spaces (``b`` wins on a shared name).
    """

    def __init__(self, params: Mapping[str, Param] | None = None, **more: Param) -> None:
        items = {**(params or {}), **more}
        for name, param in items.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"setting names must be non-empty strings, got {name!r}")
            if not isinstance(param, (Float, Int, Choice)):
                raise TypeError(f"setting {name!r} must be a Float, Int or Choice, got {param!r}")
        self._params: tuple[tuple[str, Param], ...] = tuple(items.items())

    def __getitem__(self, name: str) -> Param:
        for key, param in self._params:
            if key == name:
                return param
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._params)
        return f"SearchSpace({inner})"

    def __or__(self, other: SearchSpace) -> SearchSpace:
        return SearchSpace({**dict(self._params), **dict(other._params)})

    def defaults(self) -> dict[str, Scalar]:
        """Every setting at its default: the first trial."""
        return {name: param.default for name, param in self._params}

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna's distribution of every setting."""
        return {name: param.distribution() for name, param in self._params}

    def architecture(self, params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The architectural (not stackable) values of ``params``: trials with equal values
        build models of one architecture."""
        return tuple((name, params[name]) for name, p in self._params if not p.stackable)

    def size(self) -> int | None:
        """The number of distinct settings when every setting is discrete, else None."""
        counts = [param.points() for _, param in self._params]
        if any(points is None for points in counts):
            return None
        return math.prod(len(points) for points in counts if points is not None)

    def grid(self) -> list[dict[str, Scalar]]:
        """Every setting of a discrete space, the defaults first, then in declaration order."""
        points = [param.points() for _, param in self._params]
        if any(p is None for p in points):
            raise ValueError("a space with a float setting has no finite grid")
        names = [name for name, _ in self._params]
        default = self.defaults()
        rest = [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*[p for p in points if p is not None])
        ]
        return [default, *(p for p in rest if p != default)]

    def check(self, params: Mapping[str, Any]) -> None:
        """Raise if ``params`` names a setting outside the space or a value outside its range."""
        unknown = sorted(set(params) - set(self))
        if unknown:
            raise UnknownNameError(f"unknown settings {unknown}; the space has {list(self)}")
        for name, value in params.items():
            if not self[name].contains(value):
                raise ValueError(f"{name}={value!r} is outside {self[name].describe()}")

    def describe(self) -> dict[str, str]:
        """One line per setting: its range, default and whether it is stackable."""
        return {
            name: f"{param.describe()}, default {param.default!r}"
            + ("" if param.stackable else ", architectural")
            for name, param in self._params
        }


def training_space() -> SearchSpace:
    """AdamW's learning rate (log-uniform over two decades around 1e-3) and weight decay
    (log-uniform 1e-6 .. 1e-2 around 1e-4): the settings every gradient-trained model has."""
    return SearchSpace(
        lr=Float(1e-4, 1e-2, 1e-3, log=True),
        weight_decay=Float(1e-6, 1e-2, 1e-4, log=True),
    )


def apply_params(context: RunContext, params: Mapping[str, Any]) -> RunContext:
    """``context`` with the settings of a trial: ``lr`` and ``weight_decay`` as its AdamW
    fields, the others as the builder's ``params``."""
    fields = {name: params[name] for name in CONTEXT_FIELDS if name in params}
    rest = {name: value for name, value in params.items() if name not in CONTEXT_FIELDS}
    return context.with_(**fields, params=rest)


# ----------------------------------------------------------------------------------------------
# Overrides from YAML


def _parse_float(value: Any) -> Any:
    """``value`` with numbers written as text (``"1e-4"``) read as floats, in lists too."""
    if isinstance(value, list):
        return [_parse_float(v) for v in value]
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _override_one(method: str, name: str, param: Param, spec: Any) -> Param:
    """``param`` changed by a user's ``spec``: a scalar fixes it, ``[low, high]`` sets a
    numeric range, a list sets a choice's options, and a mapping may give ``low``, ``high``,
    ``log``, ``options`` and ``default``. A default left outside the new range moves to the
    nearest bound (a choice's: to its first option)."""
    where = f"search_space.{method}.{name}"
    if isinstance(spec, Mapping):
        allowed = {"low", "high", "log", "options", "default"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise UnknownNameError(f"{where}: unknown keys {unknown}; use {sorted(allowed)}")
        given = dict(spec)
    elif isinstance(spec, Sequence) and not isinstance(spec, str):
        values = list(spec)
        if isinstance(param, Choice):
            given = {"options": values}
        elif len(values) == 2:
            given = {"low": values[0], "high": values[1]}
        else:
            raise ValueError(
                f"{where}: give [low, high] for a {param.describe()} setting, got {values!r}"
            )
    else:
        given = {"options": [spec], "default": spec}
    if isinstance(param, Float):  # YAML reads 1e-4 (no dot) as a string
        given = {key: _parse_float(value) for key, value in given.items()}
    try:
        if "options" in given:
            if set(given) - {"options", "default"}:
                raise ValueError("options cannot be combined with low, high or log")
            options = given["options"]
            if not isinstance(options, Sequence) or isinstance(options, str):
                raise ValueError(f"options must be a list, got {options!r}")
            if isinstance(param, Int) and not all(
                isinstance(o, int) and not isinstance(o, bool) for o in options
            ):
                raise ValueError(f"an integer setting takes integers, got {list(options)}")
            if isinstance(param, Float) and not all(_number(o) for o in options):
                raise ValueError(f"a float setting takes numbers, got {list(options)}")
            if not options:
                raise ValueError("options must not be empty")
            kept = param.default if param.default in options else options[0]
            default = given.get("default", kept)
            return Choice(tuple(options), default, stackable=param.stackable)
        if isinstance(param, Choice):
            raise ValueError(f"it is {param.describe()}: give a list of options or one value")
        low, high = given.get("low", param.low), given.get("high", param.high)
        log = given.get("log", param.log)
        if not isinstance(log, bool):
            raise ValueError(f"log must be true or false, got {log!r}")
        if isinstance(param, Int):
            default = given.get("default", min(max(param.default, low), high))
            return Int(low, high, default, log=log, stackable=param.stackable)
        if not all(_number(v) for v in (low, high)):
            raise ValueError(f"low and high must be numbers, got {low!r}, {high!r}")
        default = given.get("default", min(max(param.default, low), high))
        return Float(float(low), float(high), default, log=log, stackable=param.stackable)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def override_space(method: str, space: SearchSpace, spec: Any) -> SearchSpace:
    """``space`` with the settings ``spec`` (``{name: value}``) changed; ``method`` names the
    method in messages. A name the space does not have is an error that lists its names."""
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"search_space.{method} must map setting names to ranges, e.g. "
            f"{{rank: [2, 16]}}; got {spec!r}"
        )
    unknown = sorted(set(spec) - set(space))
    if unknown:
        raise UnknownNameError(
            f"search_space.{method}: {method} has no setting {', '.join(map(repr, unknown))}; "
            f"its settings are {', '.join(space)}"
        )
    changed = {name: _override_one(method, name, space[name], spec[name]) for name in spec}
    return SearchSpace({name: changed.get(name, param) for name, param in space.items()})


def override_spaces(
    spec: Mapping[str, Any] | None, spaces: Mapping[str, SearchSpace]
) -> dict[str, SearchSpace]:
    """The spaces of ``spaces`` (method name -> space) with a user's overrides applied, as a
    YAML file gives them: ``search_space: {lmf: {rank: [2, 16]}, early: {dropout: 0.2}}``.

    Raises:
        UnknownNameError: a method or setting that does not exist (the message lists those
            that do).
        ValueError: a value of the wrong type or an empty or reversed range.
    """
    if spec is None:
        return dict(spaces)
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"search_space must map method names to their settings, e.g. "
            f"{{lmf: {{rank: [2, 16]}}}}; got {spec!r}"
        )
    unknown = sorted(set(spec) - set(spaces))
    if unknown:
        raise UnknownNameError(
            f"search_space names unknown methods {unknown}; the methods are {sorted(spaces)}"
        )
    result = dict(spaces)
    for method, settings in spec.items():
        result[method] = override_space(method, spaces[method], settings)
    return result
