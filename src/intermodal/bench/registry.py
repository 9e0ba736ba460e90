"""The method registry: a method is a name plus a builder of an untrained model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError
from intermodal.training.context import RunContext
from intermodal.tuning.space import SearchSpace, override_spaces, training_space

Builder = Callable[[MultimodalDataset, RunContext], nn.Module]
"""Builds a model for a data set (its training split: shapes, kinds, task and classes) in a run
context. A builder that must train before it returns (a search, a coordinated space) trains with
the context's seed and budget."""


@dataclass(frozen=True)
class Method:
    """A benchmarkable method.

    Attributes:
        name: the name used on the command line and in reports.
        family: ``unimodal``, ``fusion``, ``coordination``, ``fission`` or ``classical``.
        build: the builder (a module-level function or a ``functools.partial`` of one, so that
            worker processes can receive it). A ``per_modality`` method is built once per
            modality, on the data set restricted to that modality, and reported as
            ``name[modality]``.
        description: one line for listings.
        applies: returns why the method cannot run on a data set, or None when it can.
        space: the settings a tuner may change (see :mod:`intermodal.tuning`), each with its
            default, which the builder reads from ``context.params`` (``lr`` and
            ``weight_decay`` from the context's fields); without one, ``lr`` and
            ``weight_decay``.
        views: the method runs on all modalities as ``name`` and also on each modality alone
            as ``name[modality]`` (both under ``all``; ``name[modality]`` names one view).
    """

    name: str
    family: str
    build: Builder
    description: str
    per_modality: bool = False
    applies: Callable[[MultimodalDataset], str | None] | None = None
    space: SearchSpace = field(default_factory=training_space)
    views: bool = False


METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    family: str,
    description: str,
    per_modality: bool = False,
    applies: Callable[[MultimodalDataset], str | None] | None = None,
    space: SearchSpace | None = None,
    views: bool = False,
) -> Callable[[Builder], Builder]:
    """Decorator that registers a builder under ``name`` for ``intermodal bench``, with the
    search space of the settings it reads (default: ``lr`` and ``weight_decay``)."""

    def decorate(build: Builder) -> Builder:
        if name in METHODS:
            raise ValueError(f"a method named {name!r} is already registered")
        if per_modality and views:
            raise ValueError("a method is either per_modality or has views, not both")
        METHODS[name] = Method(
            name,
            family,
            build,
            description,
            per_modality,
            applies,
            training_space() if space is None else space,
            views,
        )
        return build

    return decorate


def unregister_method(name: str) -> None:
    """Remove a registered method (for plug-ins and tests that register their own)."""
    METHODS.pop(name, None)


@dataclass(frozen=True)
class Job:
    """One method to run on one view of a data set: ``name`` as reported, ``modalities`` it
    uses, ``space`` its method's search space. Jobs are sent to worker processes, so they hold
    only picklable parts."""

    name: str
    family: str
    build: Builder
    modalities: tuple[str, ...]
    space: SearchSpace = field(default_factory=training_space)

    @property
    def method(self) -> str:
        """The registered method's name (``unimodal`` for ``unimodal[fou]``)."""
        return self.name.partition("[")[0]


def method_spaces(search_space: Mapping[str, Any] | None = None) -> dict[str, SearchSpace]:
    """Every registered method's search space, with a user's overrides (``search_space``:
    method name -> ``{setting: spec}``, see :func:`~intermodal.tuning.space.override_spaces`).

    Raises:
        UnknownNameError: a method that is not registered, or a setting its space lacks.
        ValueError: a spec of the wrong type, an empty or reversed range.
    """
    return override_spaces(search_space or None, {name: m.space for name, m in METHODS.items()})


def with_spaces(jobs: Sequence[Job], search_space: Mapping[str, Any] | None) -> list[Job]:
    """``jobs`` with their methods' spaces overridden by ``search_space`` (see
    :func:`method_spaces`); a view (``unimodal[fou]``) takes its method's space."""
    if not search_space:
        return list(jobs)
    spaces = method_spaces(search_space)
    return [replace(job, space=spaces[job.method]) for job in jobs]


def resolve_methods(
    names: str | Sequence[str], dataset: MultimodalDataset
) -> tuple[list[Job], list[tuple[str, str]]]:
    """Expand ``names`` (``"all"`` or method names, ``unimodal[fac]`` for one view) into jobs.

    ``all`` runs every method, and a method with ``views`` also on each modality alone (on data
    of two modalities or more).

    Returns:
        The jobs and a list of ``(name, reason)`` for methods that do not apply to ``dataset``.
    """
    requested = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    requested = list(dict.fromkeys(n for n in requested if n))
    if not requested:
        raise ValueError(f"no methods given; choose 'all' or some of {sorted(METHODS)}")
    if "all" in requested:
        several = len(dataset.modality_names) > 1
        requested = [
            entry
            for name, method in METHODS.items()
            for entry in (
                [name, *(f"{name}[{m}]" for m in dataset.modality_names)]
                if method.views and several
                else [name]
            )
        ]
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    for entry in requested:
        base, _, view = entry.partition("[")
        view = view.rstrip("]")
        if base not in METHODS:
            raise UnknownNameError(
                f"unknown method {entry!r}; available: {sorted(METHODS)} or 'all'"
            )
        method = METHODS[base]
        alone = method.per_modality or method.views
        if view and (not alone or view not in dataset.modality_names):
            raise UnknownNameError(
                f"{entry!r}: {base} is not run per modality"
                if not alone
                else f"{entry!r}: the data set has no modality {view!r} ({dataset.modality_names})"
            )
        if method.per_modality or view:
            for modality in [view] if view else dataset.modality_names:
                reason = method.applies(dataset.select([modality])) if method.applies else None
                if reason:
                    skipped.append((f"{base}[{modality}]", reason))
                else:
                    jobs.append(
                        Job(
                            f"{base}[{modality}]",
                            method.family,
                            method.build,
                            (modality,),
                            method.space,
                        )
                    )
            continue
        reason = method.applies(dataset) if method.applies else None
        if reason:
            skipped.append((base, reason))
        else:
            jobs.append(
                Job(
                    base,
                    method.family,
                    method.build,
                    tuple(dataset.modality_names),
                    method.space,
                )
            )
    return jobs, skipped
