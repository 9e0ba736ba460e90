"""The linear baseline: scikit-learn's linear models on the concatenated standardized features.

- classification: multinomial logistic regression (``LogisticRegression``, L2 penalty, lbfgs;
  two classes: the binary model), outputs the class logits ``X W^T + b``;
- multi-label: one-vs-rest logistic regression (``OneVsRestClassifier``), one binary model per
  label, outputs the label logits;
- regression: ridge regression (``Ridge``), outputs the values.

The penalty is chosen on the validation split: each candidate of the grid (``Cs``, inverse
penalties, for the logistic models; ``alphas`` for ridge) is fitted on the training split, and
the one with the lowest validation loss of the task (cross-entropy, binary cross-entropy or
squared error) is kept, the first of equal ones. The model keeps the fitted coefficients as
float64 tensors, so it predicts with a matrix product and saves without pickle.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from intermodal.baselines.base import ClassicalBaseline
from intermodal.baselines.features import FeatureVectors, build_features
from intermodal.data.dataset import MultimodalDataset
from intermodal.saving import register_module
from intermodal.training.context import RunContext

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
"""Inverse penalties of the logistic regressions, tried in this order."""
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""Penalties of ridge regression, tried in this order."""
MAX_ITER = 1000
"""lbfgs iterations of a logistic regression, at most."""
CERTAIN = 1e4
"""The logit magnitude of a certain answer: a class absent from the training split gets
``-CERTAIN``, a label constant there ``+-CERTAIN`` (scikit-learn predicts such a class never and
such a label always the same)."""


@register_module
class LinearBaseline(ClassicalBaseline):
    """A linear model fitted by scikit-learn with the penalty chosen on validation (see the
    module's description).

    Args:
        features: the feature vectors (see :mod:`intermodal.baselines.features`).
        output_dim: K classes, labels or target values.
        task: ``classification``, ``multilabel`` or ``regression``.
        Cs: inverse penalties ``C`` of the logistic regressions, tried in order.
        alphas: penalties ``alpha`` of ridge regression, tried in order.
        max_iter, tol: lbfgs's iteration limit and tolerance.

    Shape:
        ``{m: (B, *shape_m)}, mask {m: (B,)} -> (B, K)``
    """

    engine = "scikit-learn"
    coef: Tensor
    intercept: Tensor

    def __init__(
        self,
        features: FeatureVectors,
        output_dim: int,
        task: str,
        Cs: Sequence[float] = C_GRID,
        alphas: Sequence[float] = ALPHA_GRID,
        max_iter: int = MAX_ITER,
        tol: float = 1e-4,
    ) -> None:
        super().__init__(features, output_dim, task)
        grid = list(alphas if task == "regression" else Cs)
        if not grid or any(not value > 0 for value in grid):
            raise ValueError(f"the penalties to try must be positive numbers, got {grid}")
        self.grid, self.max_iter, self.tol = grid, max_iter, tol
        width = features.width
        self.register_buffer("coef", torch.zeros(output_dim, width, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros(output_dim, dtype=torch.float64))

    @property
    def penalty_name(self) -> str:
        return "alpha" if self.task == "regression" else "C"

    @property
    def parameter_count(self) -> int:
        return self.coef.numel() + self.intercept.numel()

    def predict_features(self, x: Tensor) -> Tensor:
        return x @ self.coef.T + self.intercept

    def load_engine(self) -> None:
        import sklearn.linear_model
        import sklearn.multiclass  # noqa: F401

    def estimator(self, penalty: float) -> Any:
        """The scikit-learn estimator of the task with ``penalty`` (C or alpha)."""
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.multiclass import OneVsRestClassifier

        if self.task == "regression":
            return Ridge(alpha=penalty)
        logistic = LogisticRegression(C=penalty, max_iter=self.max_iter, tol=self.tol)
        return OneVsRestClassifier(logistic) if self.task == "multilabel" else logistic

    def set_coefficients(self, fitted: Any, y: np.ndarray) -> None:
        """Copy a fitted estimator's coefficients into ``coef`` ``(K, F)`` and ``intercept``
        ``(K,)``."""
        coef = np.zeros(tuple(self.coef.shape))
        intercept = np.zeros(self.output_dim)
        if self.task == "regression":
            coef[:] = np.reshape(fitted.coef_, coef.shape)
            intercept[:] = np.reshape(fitted.intercept_, -1)
        elif self.task == "multilabel":
            for k, model in enumerate(fitted.estimators_):
                if hasattr(model, "coef_"):
                    coef[k], intercept[k] = model.coef_[0], model.intercept_[0]
                else:  # a label constant in training: scikit-learn predicts that constant
                    intercept[k] = CERTAIN if y[0, k] else -CERTAIN
        else:
            classes = fitted.classes_.astype(int)
            intercept[:] = -CERTAIN
            if len(classes) == 2:  # the binary model: the logit of the second class
                coef[classes[1]], intercept[classes[1]] = fitted.coef_[0], fitted.intercept_[0]
                intercept[classes[0]] = 0.0
            else:
                coef[classes], intercept[classes] = fitted.coef_, fitted.intercept_
        self.coef.copy_(torch.from_numpy(coef))
        self.intercept.copy_(torch.from_numpy(intercept))

    def fit_features(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray,
        y_val: Tensor,
        threads: int,
        seed: int,
    ) -> dict[str, Any]:
        from sklearn.exceptions import ConvergenceWarning

        target = y.astype(np.float64) if self.task == "regression" else y
        history: list[dict[str, Any]] = []
        best: tuple[float, float, Tensor, Tensor] | None = None
        validation = torch.from_numpy(x_val)
        for trial, penalty in enumerate(self.grid):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                fitted = self.estimator(penalty).fit(x, target)
            self.set_coefficients(fitted, y)
            scores = self.validation(validation, y_val)
            converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            history.append(
                {"trial": trial, self.penalty_name: penalty, **scores, "converged": converged}
            )
            if best is None or scores["val_loss"] < best[0]:
                best = (scores["val_loss"], penalty, self.coef.clone(), self.intercept.clone())
        assert best is not None
        self.coef.copy_(best[2])
        self.intercept.copy_(best[3])
        return {"chosen": {self.penalty_name: best[1]}, "history": history}


def build_linear(
    dataset: MultimodalDataset,
    context: RunContext,
    Cs: Sequence[float] = C_GRID,
    alphas: Sequence[float] = ALPHA_GRID,
) -> LinearBaseline:
    """The benchmark's linear baseline of ``dataset`` (its training split)."""
    return LinearBaseline(build_features(dataset), dataset.output_dim, dataset.task, Cs, alphas)
