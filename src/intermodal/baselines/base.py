"""What every classical baseline shares: a :class:`FeatureVectors` front end, an estimator that
fits itself (``fit_estimator``, called by :func:`intermodal.training.fit`) and the model
contract ``model(inputs, mask) -> outputs (B, K)``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from intermodal.baselines.features import FeatureVectors
from intermodal.data.dataset import TASKS, MultimodalDataset
from intermodal.data.splits import DataSplits
from intermodal.losses import LOSSES, task_loss
from intermodal.training.context import RunContext
from intermodal.training.fit import FitResult
from intermodal.training.objective import validation_scores

ABSENT = "zero-filled feature block (the training mean) and a presence column per modality"


def fitted_threads(context: RunContext) -> int:
    """The threads an estimator fits with: the run context's, else PyTorch's setting."""
    return context.threads or torch.get_num_threads()


class ClassicalBaseline(nn.Module):
    """A model that fits a classical estimator on :class:`FeatureVectors`.

    Subclasses define ``engine`` (the library that fits), :meth:`predict_features` and
    :meth:`fit_features`, and count their fitted values in ``parameter_count``.

    Args:
        features: the feature vectors of the modalities the model reads.
        output_dim: K, the task's outputs (classes, labels or target values).
        task: ``classification``, ``multilabel`` or ``regression``.

    Shape:
        ``{m: (B, *shape_m)}, mask {m: (B,)} -> (B, K)`` float32 (logits or values)
    """

    engine = ""
    absent = ABSENT

    def __init__(self, features: FeatureVectors, output_dim: int, task: str) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
        if output_dim < 1 or (task == "classification" and output_dim < 2):
            raise ValueError(f"output_dim must be at least 1 (2 classes), got {output_dim}")
        self.features, self.output_dim, self.task = features, output_dim, task

    @property
    def modalities(self) -> list[str]:
        return self.features.modalities

    @property
    def parameter_count(self) -> int:
        """The number of fitted values (coefficients, thresholds, leaf values)."""
        raise NotImplementedError

    def predict_features(self, x: Tensor) -> Tensor:
        """Outputs ``(B, K)`` float64 from standardized features ``(B, F)`` float64."""
        raise NotImplementedError

    def load_engine(self) -> None:
        """Import the library that fits (before its thread pools are limited: a limit reaches
        only the libraries already loaded)."""

    def fit_features(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray,
        y_val: Tensor,
        threads: int,
        seed: int,
    ) -> dict[str, Any]:
        """Fit on training features ``x`` ``(N, F)`` and targets ``y``, choosing settings on
        ``x_val``, ``y_val``; returns the ``FitResult`` fields ``chosen``, ``history``,
        ``best_epoch`` and ``epochs``."""
        raise NotImplementedError

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        with torch.no_grad():
            return self.predict_features(self.features(inputs, mask)).float()

    def validation(self, x_val: Tensor, y_val: Tensor) -> dict[str, float]:
        """The validation loss of the task (cross-entropy in nats, binary cross-entropy or
        squared error, the neural models' default losses) and metrics of the current fit."""
        outputs = self.predict_features(x_val)
        target = y_val.double() if self.task != "classification" else y_val
        loss = float(task_loss(self.task)(outputs, target))
        return {"val_loss": loss, **validation_scores(self.task, outputs, y_val, self.output_dim)}

    def _check(self, data: MultimodalDataset) -> None:
        if data.task != self.task or data.output_dim != self.output_dim:
            raise ValueError(
                f"{type(self).__name__} was built for {self.task} with {self.output_dim} outputs; "
                f"the data set is {data.task} with {data.output_dim}"
            )

    def fit_estimator(self, data: DataSplits, context: RunContext) -> FitResult:
        """Standardize on ``data.train``, fit the estimator there and choose its settings on
        ``data.val`` (see the subclass), deterministically given ``context.seed``, with
        ``context.threads`` threads."""
        from threadpoolctl import threadpool_limits

        train, val = data.train, data.val
        self._check(train)
        threads = fitted_threads(context)
        start = time.perf_counter()
        self.cpu()
        with torch.no_grad():
            self.features.fit(train)
            x = self.features(train.modalities, train.masks).numpy()
            x_val = self.features(val.modalities, val.masks)
        self.load_engine()
        with threadpool_limits(limits=threads):
            found = self.fit_features(
                x, train.targets.numpy(), x_val.numpy(), val.targets, threads, context.seed
            )
        with torch.no_grad():
            scores = self.validation(x_val, val.targets)
        self.eval()
        return FitResult(
            model=self,
            train_time_s=time.perf_counter() - start,
            best_val_loss=scores["val_loss"],
            best_epoch=found.get("best_epoch"),
            epochs=found.get("epochs"),
            world_size=1,
            history=found["history"],
            monitor=f"validation loss: {LOSSES[self.task][0]}",
            engine=self.engine,
            chosen=found["chosen"],
        )
