"""The contracts between models and the code that trains and analyses them.

A model is a ``torch.nn.Module``; these protocols name the methods that the trainer, the benchmark
and the analyses rely on. They are checked with ``isinstance`` (structural typing), so a user's
model needs no base class: it needs the methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from torch import Tensor

if TYPE_CHECKING:
    from intermodal.data.dataset import MultimodalDataset
    from intermodal.data.splits import DataSplits
    from intermodal.training.context import RunContext
    from intermodal.training.fit import FitResult


@runtime_checkable
class Predictor(Protocol):
    """A model of the modalities it names: ``model(inputs, mask) -> outputs (B, K)`` (class
    logits, label logits or predicted values)."""

    @property
    def modalities(self) -> list[str]: ...

    def __call__(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor: ...


@runtime_checkable
class PreparesData(Protocol):
    """A model that reads raw data of a known schema (a :class:`~intermodal.models.Pipeline`):
    ``prepare(dataset)`` matches a data set to it by name before prediction, so prediction and
    metrics call it first."""

    def prepare(self, dataset: MultimodalDataset) -> MultimodalDataset: ...


@runtime_checkable
class EncodeThenPredict(Protocol):
    """A predictor split into per-modality encoding and the rest, so that analyses can encode
    each modality once and run only ``classify`` on many combinations (EMAP)."""

    @property
    def modalities(self) -> list[str]: ...

    def encode(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]: ...

    def classify(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor: ...


@runtime_checkable
class TrainsItself(Protocol):
    """A model with its own training objective (reconstruction, prior matching, a pair loss).

    ``training_loss`` is what the optimizer minimizes and may be random (augmentation, prior
    samples). ``validation_loss`` is deterministic and measures the task, so that early stopping
    and best-weight selection do not follow noise; ``validation_objective`` names it in one line.
    ``monitor`` says what early stopping follows: ``"loss"`` (the validation loss) or
    ``"metric"`` (the task's primary validation metric, for a model whose task term keeps
    shrinking long after its predictions stop improving).
    """

    validation_objective: str
    monitor: str

    def training_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor: ...

    def validation_loss(
        self, inputs: Mapping[str, Tensor], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor: ...


@runtime_checkable
class FitsItself(Protocol):
    """A model that is not trained by gradient descent but fits its own estimator (a linear
    model, gradient-boosted trees): ``fit`` hands it the splits and the run context (seed,
    threads) and returns what ``fit_estimator`` returns. It fits on ``data.train`` and chooses
    its settings (a penalty, a number of boosting rounds) on ``data.val``; the result's
    ``chosen`` records them."""

    def fit_estimator(self, data: DataSplits, context: RunContext) -> FitResult: ...
