"""Architecture search over fusion operators and encoder depths."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits
from intermodal.encoders.mlp import MLP
from intermodal.fusion.additive import AdditiveFusion
from intermodal.fusion.concat import ConcatFusion
from intermodal.fusion.gated import GatedFusion
from intermodal.fusion.late import LateFusion
from intermodal.fusion.low_rank import LowRankFusion
from intermodal.fusion.multiplicative import MultiplicativeFusion
from intermodal.fusion.nonlinear import NonlinearFusion
from intermodal.fusion.polynomial import PolynomialFusion
from intermodal.models.classifier import FusionClassifier

FusionFactory = Callable[[dict[str, int], int], nn.Module]

SEARCH_FUSIONS: dict[str, FusionFactory] = {
    "concat": lambda dims, out: ConcatFusion(dims, out),
    "additive": lambda dims, out: AdditiveFusion(dims, out),
    "multiplicative": lambda dims, out: MultiplicativeFusion(dims, out),
    "low_rank": lambda dims, out: LowRankFusion(dims, out, rank=4),
    "polynomial": lambda dims, out: PolynomialFusion(dims, out, order=2, rank=4),
    "gated": lambda dims, out: GatedFusion(dims, out),
    "nonlinear": lambda dims, out: NonlinearFusion(dims, out),
    "late": lambda dims, out: LateFusion(dims, out, "weighted"),
}
"""Fusion operators the search chooses from, for any number of modalities. ``late`` outputs
class logits itself (no head)."""


def build_candidate(
    config: Mapping[str, Any],
    dataset: MultimodalDataset,
    feature_dim: int = 64,
    fused_dim: int = 128,
) -> FusionClassifier:
    """The untrained classifier of a search configuration ``{"fusion": name, "depths": {m: k}}``:
    per modality an MLP encoder with k hidden layers, the named fusion, and a linear head."""
    fusion_name, depths = config["fusion"], config["depths"]
    if fusion_name not in SEARCH_FUSIONS:
        raise KeyError(f"unknown fusion {fusion_name!r}; choose from {sorted(SEARCH_FUSIONS)}")
    encoders = {
        key: MLP(
            dataset.shapes[key][0],
            feature_dim,
            hidden_dims=(2 * feature_dim,) * depths[key],
            dropout=0.1,
            final_activation=True,
        )
        for key in dataset.modality_names
    }
    dims = dict.fromkeys(dataset.modality_names, feature_dim)
    if fusion_name == "late":
        return FusionClassifier(encoders, SEARCH_FUSIONS["late"](dims, dataset.n_classes))
    return FusionClassifier(
        encoders, SEARCH_FUSIONS[fusion_name](dims, fused_dim), MLP(fused_dim, dataset.n_classes)
    )


class FusionSearch:
    """Search which fusion operator to use and how deep each modality's encoder is before fusion.

    In the spirit of MFAS (Perez-Rua et al., CVPR 2019, https://arxiv.org/abs/1903.06496), which
    searches which layers of unimodal networks to fuse and how, here by seeded random search:
    ``trials`` distinct configurations are drawn from ``fusions x depths^M``, each is trained
    on the training split with early stopping, and the one with the best validation accuracy
    (ties: lower validation loss) wins.

    Args:
        fusions: names from ``SEARCH_FUSIONS`` (default: all).
        depths: hidden layers an encoder may have before fusion.
        trials: the budget, number of configurations trained.
        max_epochs, patience: training of each trial.
        seed: draws the configurations and seeds every trial.

    After ``fit``: ``trials_`` (one row per trial), ``best_config_`` and ``best_model_`` (the
    trained winner, a ``FusionClassifier`` that ``save_model`` can save). ``build(config,
    dataset)`` rebuilds any configuration untrained.
    """

    def __init__(
        self,
        fusions: Sequence[str] | None = None,
        depths: Sequence[int] = (0, 1, 2),
        trials: int = 8,
        max_epochs: int = 30,
        patience: int = 5,
        seed: int = 0,
    ) -> None:
        self.fusions = list(fusions or SEARCH_FUSIONS)
        unknown = sorted(set(self.fusions) - set(SEARCH_FUSIONS))
        if unknown:
            raise KeyError(f"unknown fusions {unknown}; choose from {sorted(SEARCH_FUSIONS)}")
        if trials < 1 or not depths or min(depths) < 0:
            raise ValueError("trials must be positive and depths non-empty and non-negative")
        self.depths, self.trials = list(depths), trials
        self.max_epochs, self.patience, self.seed = max_epochs, patience, seed

    build = staticmethod(build_candidate)

    def candidates(self, modalities: Sequence[str]) -> list[dict[str, Any]]:
        """``trials`` distinct configurations drawn with the seed (all of them if fewer)."""
        space = list(itertools.product(self.fusions, *[self.depths] * len(modalities)))
        rng = np.random.default_rng(self.seed)
        chosen = rng.choice(len(space), size=min(self.trials, len(space)), replace=False)
        return [
            {"fusion": space[i][0], "depths": dict(zip(modalities, space[i][1:], strict=True))}
            for i in chosen
        ]

    def fit(self, train: MultimodalDataset, val: MultimodalDataset) -> FusionSearch:
        """Train every drawn configuration on ``train`` and score it on ``val``."""
        from intermodal.metrics import evaluate
        from intermodal.training import fit  # here, so importing fusion needs no Lightning

        if any(train.kinds[key] != "vector" for key in train.modality_names):
            raise ValueError("FusionSearch searches MLP encoders: every modality must be a vector")
        splits = DataSplits(train, val, val)
        rows, best_key, best = [], None, None
        for trial, config in enumerate(self.candidates(train.modality_names)):
            torch.manual_seed(self.seed + trial)
            model = self.build(config, train)
            result = fit(
                model,
                splits,
                max_epochs=self.max_epochs,
                patience=self.patience,
                seed=self.seed + trial,
                accelerator="cpu",
            )
            score = evaluate(result.model, val)["accuracy"]
            val_loss = result.best_val_loss if result.best_val_loss is not None else float("nan")
            rows.append(
                {
                    "trial": trial,
                    "fusion": config["fusion"],
                    "depths": ",".join(f"{k}:{v}" for k, v in config["depths"].items()),
                    "val_accuracy": score,
                    "val_loss": val_loss,
                    "parameters": sum(p.numel() for p in result.model.parameters()),
                    "train_time_s": result.train_time_s,
                }
            )
            key = (score, -val_loss)
            if best_key is None or key > best_key:
                best_key, best = key, (config, result.model)
        assert best is not None
        self.trials_ = pd.DataFrame(rows)
        self.best_config_, self.best_model_ = best
        return self
