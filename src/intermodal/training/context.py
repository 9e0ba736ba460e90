"""The run context (seed, budget, device, threads) that flows from a caller into builders and
``fit``, and the thread policy for training many small models on a few cores."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from torch import nn

    from intermodal.data.splits import DataSplits
    from intermodal.training.fit import FitResult

from intermodal.models.classifier import STRATEGIES
from intermodal.training.stopping import MIN_DELTA, check_min_delta

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


def auto_threads(workers: int = 1) -> int:
    """Intra-op threads per process when ``workers`` processes train side by side.

    Each worker gets its share of the cores. A single process on a machine of at most two cores
    uses one thread: the models trained here run for microseconds per operation, so a second
    thread gains at most about 1.3x on an idle machine, while its spinning OpenMP threads make
    steps many times slower whenever another process holds a core
    (``benchmarks/threads.py`` measures both).
    """
    cores = available_cores()
    if workers > 1:
        return max(1, cores // workers)
    return 1 if cores <= 2 else min(cores, 4)


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (``None``: leave the setting alone)."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be a positive number, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(accelerator: str = "auto") -> torch.device:
    """The torch device for ``accelerator`` (``auto``: a CUDA GPU if there is one, else the CPU;
    ``fit`` then times a few training steps on both and trains on the faster, see
    :mod:`intermodal.training.accelerator`).

    Raises:
        ValueError: for an unknown name, or a GPU that this machine does not have.
    """
    if accelerator not in ACCELERATORS:
        raise ValueError(f"unknown accelerator {accelerator!r}; choose one of {list(ACCELERATORS)}")
    if accelerator == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if accelerator in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"--accelerator {accelerator}: this machine has no CUDA GPU that PyTorch can use "
                f"(PyTorch {torch.__version__}); use --accelerator cpu or auto"
            )
        return torch.device("cuda")
    if accelerator == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("--accelerator mps: Apple's MPS backend is not available here")
        return torch.device("mps")
    return torch.device("cpu")


class Params(Mapping[str, Any]):
    """An immutable, hashable, picklable mapping of setting names to JSON scalars (``int``,
    ``float``, ``str``, ``bool``, ``None``): the settings a builder reads (widths, ranks,
    dropout, loss weights)."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        items = dict(values or {})
        for name, value in items.items():
            if not isinstance(name, str) or not (
                value is None or isinstance(value, (bool, int, float, str))
            ):
                raise ValueError(
                    f"params must map names to JSON scalars (numbers, strings, booleans, None), "
                    f"got {name!r}: {value!r}"
                )
        self._items = tuple(sorted(items.items()))

    def __getitem__(self, name: str) -> Any:
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        return json.dumps(dict(self))


@dataclass(frozen=True)
class RunContext:
    """How to train: passed by a command to every builder and to :func:`fit`.

    Attributes:
        seed: seeds the split, the initialization and training.
        max_epochs, patience: the training budget; early stopping after ``patience`` epochs
            without an improvement of the validation quantity.
        min_delta: the minimum relative improvement that counts (0.1: 10%; see
            :class:`~intermodal.training.stopping.EarlyStopping`).
        batch_size: training batch size.
        lr, weight_decay: AdamW's settings.
        accelerator: ``auto`` (the faster of the GPU and the CPU for the work, timed: see
            :mod:`intermodal.training.accelerator`), ``cpu``, ``gpu``/``cuda`` or ``mps``.
        devices: devices (processes) per run; more than one trains with Lightning's DDP.
        strategy: Lightning strategy for several devices (``auto``, ``ddp``, ``ddp_spawn``).
        threads: intra-op CPU threads while training (``None``: leave PyTorch's setting).
        loss: the name of a loss of the task (``None``: the task's default; see
            ``intermodal.losses.LOSSES``).
        missing: what a fusion model does with an absent modality (``zero``, ``mean``,
            ``learned`` or ``dropout``; see ``intermodal.models.FusionClassifier``).
        modality_dropout: the probability of dropping a modality with the ``dropout``
            strategy.
        params: the builder's settings (widths, ranks, dropout, loss weights: JSON scalars,
            stored immutably); a builder reads them with :meth:`param`, so empty params give
            its defaults. Search spaces (``intermodal.tuning``) name them.
    """

    seed: int = 0
    max_epochs: int = 100
    patience: int = 10
    min_delta: float = MIN_DELTA
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    threads: int | None = None
    loss: str | None = None
    missing: str = "zero"
    modality_dropout: float = 0.5
    params: Mapping[str, Any] = field(default_factory=Params)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Params):
            object.__setattr__(self, "params", Params(self.params))
        for name in ("max_epochs", "patience", "batch_size", "devices"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_min_delta(self.min_delta)
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads}")
        if self.accelerator not in ACCELERATORS:
            raise ValueError(
                f"unknown accelerator {self.accelerator!r}; choose one of {list(ACCELERATORS)}"
            )
        if self.missing not in STRATEGIES:
            raise ValueError(
                f"unknown missing-modality strategy {self.missing!r}; use one of {STRATEGIES}"
            )
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")

    def with_(self, **changes: Any) -> RunContext:
        """A copy with some fields changed, e.g. ``context.with_(seed=1)``."""
        return replace(self, **changes)

    def param(self, name: str, default: Any) -> Any:
        """The builder setting ``name`` from :attr:`params`, or ``default`` when not set."""
        return self.params.get(name, default)

    def as_dict(self) -> dict[str, Any]:
        settings = asdict(self)
        settings["params"] = dict(self.params)
        return settings

    def fit(self, model: nn.Module, data: DataSplits, **options: Any) -> FitResult:
        """``fit(model, data)`` with this context's settings (``options`` override them)."""
        from intermodal.training.fit import fit

        settings: dict[str, Any] = {**self.as_dict(), **options}
        for model_option in ("missing", "modality_dropout", "params"):
            settings.pop(model_option)
        return fit(model, data, **settings)
