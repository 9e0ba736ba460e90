"""The gradient-boosted trees baseline: LightGBM (Ke et al. 2017, "LightGBM: A Highly Efficient
Gradient Boosting Decision Tree", NeurIPS) on the concatenated standardized features.

One booster for classification (``binary`` for two classes, ``multiclass`` with softmax for
more), one ``binary`` booster per label for multi-label data and one ``regression`` (squared
error) booster per target value. Each boosts for at most ``rounds`` rounds and stops early when
its validation loss (the objective's: log loss or squared error) has not improved for
``early_stopping`` rounds; the model keeps the trees up to the best round. The outputs are the
raw scores: class logits (``[0, s]`` for two classes), label logits or values.

The fitted ensembles are kept in LightGBM's own text format, as the bytes of a ``uint8``
tensor (``model_text``) in ``model.safetensors``: the checksum that ``config.json`` records
covers them, loading runs no pickle, and ``config.json`` stays small and readable (it records
only the size of each booster's text).

LightGBM is an optional dependency: ``pip install 'intermodal[gbdt]'``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from intermodal.baselines.base import ClassicalBaseline
from intermodal.baselines.features import FeatureVectors, build_features, feature_reason
from intermodal.data.dataset import MultimodalDataset
from intermodal.saving import record_arguments, register_module
from intermodal.training.context import RunContext

INSTALL = "pip install 'intermodal[gbdt]'"
EARLY_STOPPING = 20
"""Rounds without a lower validation loss before a booster stops."""
MAX_BIN = 63
"""Histogram bins per feature. Finding the splits of a tree costs features x bins per leaf, so
on small data with many features (mfeat: 1,400 training samples, 649 features, 10 trees per
round) the bins dominate: 63 instead of LightGBM's default 255 took 2.3x less CPU time for the
same mean accuracy over 3 seeds (``benchmarks/gbdt_bins.py``)."""


def import_lightgbm() -> Any:
    """The ``lightgbm`` module, or an error that says which extra installs it."""
    try:
        import lightgbm
    except ImportError:
        raise ImportError(f"the gbdt baseline needs LightGBM: {INSTALL}") from None
    return lightgbm


def gbdt_reason(dataset: MultimodalDataset) -> str | None:
    """Why the gbdt baseline does not apply to ``dataset`` (no feature vector, or LightGBM is
    not installed), or None."""
    if importlib.util.find_spec("lightgbm") is None:
        return f"needs LightGBM, which is not installed: {INSTALL}"
    return feature_reason(dataset)


@register_module
class GradientBoostedTrees(ClassicalBaseline):
    """LightGBM boosters with early stopping on validation (see the module's description).

    Args:
        features: the feature vectors (see :mod:`intermodal.baselines.features`).
        output_dim: K classes, labels or target values.
        task: ``classification``, ``multilabel`` or ``regression``.
        num_leaves, learning_rate, min_child_samples, feature_fraction: LightGBM's settings
            (the fraction of features each tree may use).
        rounds: boosting rounds, at most.
        early_stopping: rounds without a lower validation loss before boosting stops.
        max_bin: histogram bins per feature (LightGBM's default is 255; the benchmark's 63 fits
            mfeat in less than half the time, see ``MAX_BIN``).
        model_sizes: bytes of each booster's model text (set by fitting; saved so that loading
            builds the buffer at its size).

    Shape:
        ``{m: (B, *shape_m)}, mask {m: (B,)} -> (B, K)``
    """

    engine = "lightgbm"
    model_text: Tensor

    def __init__(
        self,
        features: FeatureVectors,
        output_dim: int,
        task: str,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        rounds: int = 1000,
        min_child_samples: int = 20,
        feature_fraction: float = 1.0,
        early_stopping: int = EARLY_STOPPING,
        max_bin: int = MAX_BIN,
        model_sizes: Sequence[int] = (),
    ) -> None:
        super().__init__(features, output_dim, task)
        if num_leaves < 2 or max_bin < 2 or min(rounds, early_stopping, min_child_samples) < 1:
            raise ValueError(
                "num_leaves and max_bin must be at least 2 and rounds, early_stopping and "
                f"min_child_samples positive, got {num_leaves}, {max_bin}, {rounds}, "
                f"{early_stopping}, {min_child_samples}"
            )
        if not learning_rate > 0 or not 0 < feature_fraction <= 1:
            raise ValueError(
                f"learning_rate must be positive and feature_fraction in (0, 1], got "
                f"{learning_rate} and {feature_fraction}"
            )
        self.settings = {
            "num_leaves": num_leaves,
            "learning_rate": learning_rate,
            "min_child_samples": min_child_samples,
            "feature_fraction": feature_fraction,
            "max_bin": max_bin,
        }
        self.rounds, self.early_stopping = rounds, early_stopping
        self.model_sizes = [int(size) for size in model_sizes]
        if self.model_sizes and len(self.model_sizes) != self.boosters_needed:
            raise ValueError(
                f"model_sizes must hold {self.boosters_needed} sizes (one per booster), got "
                f"{len(self.model_sizes)}"
            )
        self.register_buffer("model_text", torch.zeros(sum(self.model_sizes), dtype=torch.uint8))
        self._cache: tuple[tuple[int, int], list[Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None  # boosters are rebuilt from model_text
        return state

    @property
    def boosters_needed(self) -> int:
        """One booster for classification, one per label or target value otherwise."""
        return 1 if self.task == "classification" else self.output_dim

    def texts(self) -> list[str]:
        """Each booster's model in LightGBM's text format."""
        data = self.model_text.cpu().numpy().tobytes()
        ends = np.cumsum(self.model_sizes).tolist()
        return [data[a:b].decode("utf-8") for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def boosters(self) -> list[Any]:
        """The fitted ``lightgbm.Booster`` objects, rebuilt from ``model_text`` when it
        changes."""
        if not self.model_sizes:
            raise RuntimeError(f"{type(self).__name__} is not fitted: train it with fit()")
        key = (self.model_text.data_ptr(), self.model_text._version)
        if self._cache is None or self._cache[0] != key:
            lightgbm = import_lightgbm()
            self._cache = (key, [lightgbm.Booster(model_str=text) for text in self.texts()])
        return self._cache[1]

    @property
    def parameter_count(self) -> int:
        """A split threshold per inner node and a value per leaf, over every tree."""
        leaves = [
            int(n) for text in self.texts() for n in re.findall(r"^num_leaves=(\d+)", text, re.M)
        ]
        return sum(2 * n - 1 for n in leaves)

    def predict_features(self, x: Tensor) -> Tensor:
        rows = x.detach().cpu().numpy()
        threads = torch.get_num_threads()
        scores = [
            np.asarray(b.predict(rows, raw_score=True, num_threads=threads)).reshape(len(rows), -1)
            for b in self.boosters()
        ]
        out = np.concatenate(scores, axis=1)
        if self.task == "classification" and self.output_dim == 2:
            out = np.concatenate([np.zeros_like(out), out], axis=1)
        return torch.from_numpy(out).to(x.device)

    def load_engine(self) -> None:
        import_lightgbm()

    def parameters_of(self, seed: int, threads: int) -> dict[str, Any]:
        """LightGBM's parameters of one booster of this task."""
        if self.task == "classification" and self.output_dim > 2:
            objective: dict[str, Any] = {"objective": "multiclass", "num_class": self.output_dim}
        elif self.task == "regression":
            objective = {"objective": "regression"}
        else:
            objective = {"objective": "binary"}
        return {
            **objective,
            **self.settings,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": threads,
            "verbosity": -1,
        }

    def fit_features(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray,
        y_val: Tensor,
        threads: int,
        seed: int,
    ) -> dict[str, Any]:
        lightgbm = import_lightgbm()
        params = self.parameters_of(seed, threads)
        if self.task == "classification":
            columns = [(y, y_val.numpy())]
        else:
            targets, values = y.reshape(len(y), -1), y_val.numpy().reshape(len(y_val), -1)
            columns = [
                (np.ascontiguousarray(targets[:, j]), np.ascontiguousarray(values[:, j]))
                for j in range(targets.shape[1])
            ]
        texts, rounds, trained, curves = [], [], [], []
        for target, target_val in columns:
            train = lightgbm.Dataset(x, target, params={"verbosity": -1})
            val = lightgbm.Dataset(x_val, target_val, reference=train)
            record: dict[str, Any] = {}
            booster = lightgbm.train(
                params,
                train,
                num_boost_round=self.rounds,
                valid_sets=[val],
                valid_names=["val"],
                callbacks=[
                    lightgbm.early_stopping(self.early_stopping, verbose=False),
                    lightgbm.record_evaluation(record),
                ],
            )
            best = booster.best_iteration or booster.current_iteration()
            texts.append(booster.model_to_string(num_iteration=best).encode("utf-8"))
            rounds.append(best)
            curve = next(iter(record["val"].values()))
            trained.append(len(curve))
            curves.append(curve)
        self.model_sizes = [len(text) for text in texts]
        self.model_text = torch.frombuffer(bytearray(b"".join(texts)), dtype=torch.uint8)
        self._cache = None
        record_arguments(self, model_sizes=self.model_sizes)
        if len(columns) == 1:
            history = [{"round": i + 1, "val_loss": float(v)} for i, v in enumerate(curves[0])]
            return {
                "chosen": {"rounds": rounds[0]},
                "history": history,
                "best_epoch": rounds[0] - 1,
                "epochs": trained[0],
            }
        history = [
            {"target": j, "rounds": r, "val_loss": float(curve[r - 1])}
            for j, (r, curve) in enumerate(zip(rounds, curves, strict=True))
        ]
        return {"chosen": {"rounds": ",".join(map(str, rounds))}, "history": history}


def build_gbdt(
    dataset: MultimodalDataset,
    context: RunContext,
    num_leaves: int = 31,
    learning_rate: float = 0.1,
    rounds: int = 1000,
    min_child_samples: int = 20,
    feature_fraction: float = 1.0,
    early_stopping: int = EARLY_STOPPING,
    max_bin: int = MAX_BIN,
) -> GradientBoostedTrees:
    """The benchmark's gradient-boosted trees baseline of ``dataset`` (its training split)."""
    import_lightgbm()
    return GradientBoostedTrees(
        build_features(dataset),
        dataset.output_dim,
        dataset.task,
        num_leaves=num_leaves,
        learning_rate=learning_rate,
        rounds=rounds,
        min_child_samples=min_child_samples,
        feature_fraction=feature_fraction,
        early_stopping=early_stopping,
        max_bin=max_bin,
    )
