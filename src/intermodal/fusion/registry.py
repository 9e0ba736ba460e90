"""The list of fusion methods: the benchmark, the architecture search, the tests and the speed
benchmark all derive their fusions from :data:`FUSIONS`.

A fusion joins the list with one decorator line on its class::

    @register_fusion("my-fusion", "one line for listings")
    @register_module
    class MyFusion(Fusion):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torch import nn

F = TypeVar("F", bound=type[nn.Module])


@dataclass(frozen=True)
class FusionSpec:
    """A registered fusion method.

    Attributes:
        name: its name in benchmarks and searches (``lmf``, ``late-mean``).
        cls: the fusion class, built as ``cls(input_dims, output_dim, **options)``.
        description: one line for listings.
        options: constructor options of this entry.
        two_modal: defined for exactly two modalities.
        searchable: the architecture search may choose it (it fuses any number of vectors).
        outputs: it maps to the task's outputs itself (late fusion), so no head follows; such a
            fusion takes the task as ``task=`` to combine predictions correctly.
        keeps_size: its output has the size of its inputs (modality shifting).
    """

    name: str
    cls: type[nn.Module]
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    two_modal: bool = False
    searchable: bool = True
    outputs: bool = False
    keeps_size: bool = False

    def build(
        self, input_dims: Mapping[str, int], output_dim: int, task: str | None = None
    ) -> nn.Module:
        """An untrained instance for ``input_dims`` features and ``output_dim`` outputs (of
        ``task``, for a fusion that ``outputs`` predictions)."""
        if self.outputs:
            return self.cls(input_dims, output_dim, **self.options, task=task)
        return self.cls(input_dims, output_dim, **self.options)


FUSIONS: dict[str, FusionSpec] = {}
_LISTENERS: list[Callable[[FusionSpec], None]] = []


def register_fusion(
    name: str,
    description: str,
    *,
    options: Mapping[str, Any] | None = None,
    two_modal: bool = False,
    searchable: bool = True,
    outputs: bool = False,
    keeps_size: bool = False,
) -> Callable[[F], F]:
    """Class decorator that adds a fusion to :data:`FUSIONS` under ``name`` (stack it to register
    one class several times with different ``options``)."""

    def decorate(cls: F) -> F:
        if name in FUSIONS:
            raise ValueError(f"a fusion named {name!r} is already registered")
        spec = FusionSpec(
            name,
            cls,
            description,
            dict(options or {}),
            two_modal,
            searchable and not two_modal,
            outputs,
            keeps_size,
        )
        FUSIONS[name] = spec
        for listener in _LISTENERS:
            listener(spec)
        return cls

    return decorate


def unregister_fusion(name: str) -> None:
    """Remove a fusion from the list (plug-ins and tests that register their own); the
    benchmark method made from it is removed with ``intermodal.bench.unregister_method``."""
    FUSIONS.pop(name, None)


def on_fusion_registered(listener: Callable[[FusionSpec], None]) -> None:
    """Call ``listener`` for every fusion registered so far and every one registered later."""
    _LISTENERS.append(listener)
    for spec in list(FUSIONS.values()):
        listener(spec)
