"""Architecture search over fusion methods and encoder depths (it trains models, so it lives
beside the trainer rather than among the fusion layers)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits
from intermodal.encoders.mlp import MLP
from intermodal.errors import UnknownNameError
from intermodal.fusion.registry import FUSIONS
from intermodal.models.classifier import FusionClassifier
from intermodal.training.context import RunContext


def search_space() -> list[str]:
    """The fusions a search may choose: the registered ones that fuse any number of vectors."""
    return [name for name, spec in FUSIONS.items() if spec.searchable]


def build_candidate(
    config: Mapping[str, Any],
    dataset: MultimodalDataset,
    feature_dim: int = 64,
    fused_dim: int = 128,
) -> FusionClassifier:
    """The untrained model of a search configuration ``{"fusion": name, "depths": {m: k}}``:
    per modality an MLP encoder with k hidden layers, the named fusion (from ``FUSIONS``), and a
    linear head (none for a fusion that outputs predictions itself)."""
    fusion_name, depths = config["fusion"], config["depths"]
    if fusion_name not in search_space():
        raise UnknownNameError(f"unknown fusion {fusion_name!r}; choose from {search_space()}")
    spec = FUSIONS[fusion_name]
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
    if spec.outputs:
        return FusionClassifier(encoders, spec.build(dims, dataset.output_dim, dataset.task))
    size = feature_dim if spec.keeps_size else fused_dim
    return FusionClassifier(encoders, spec.build(dims, size), MLP(size, dataset.output_dim))


class FusionSearch:
    """Search which fusion to use and how deep each modality's encoder is before fusion.

    In the spirit of MFAS (Perez-Rua et al., CVPR 2019, https://arxiv.org/abs/1903.06496), which
    searches which layers of unimodal networks to fuse and how, here by seeded random search:
    ``trials`` distinct configurations are drawn from ``fusions x depths^M``, each is trained
    on the training split with early stopping, and the one with the best validation score in
    the task's primary metric (ties: lower validation loss) wins.

    Args:
        fusions: names from :func:`search_space` (default: all of them).
        depths: hidden layers an encoder may have before fusion.
        trials: the budget, number of configurations trained.
        context: seed and training budget of every trial (trial t uses seed ``seed + t``); the
            seed also draws the configurations.

    After ``fit``: ``trials_`` (one row per trial), ``best_config_`` and ``best_model_`` (the
    trained winner, a ``FusionClassifier`` that ``save_model`` can save). ``build(config,
    dataset)`` rebuilds any configuration untrained.
    """

    def __init__(
        self,
        fusions: Sequence[str] | None = None,
        depths: Sequence[int] = (0, 1, 2),
        trials: int = 8,
        context: RunContext | None = None,
    ) -> None:
        self.fusions = list(fusions or search_space())
        unknown = sorted(set(self.fusions) - set(search_space()))
        if unknown:
            raise UnknownNameError(f"unknown fusions {unknown}; choose from {search_space()}")
        if trials < 1 or not depths or min(depths) < 0:
            raise ValueError("trials must be positive and depths non-empty and non-negative")
        self.depths, self.trials = list(depths), trials
        self.context = context or RunContext(max_epochs=30, patience=5)

    build = staticmethod(build_candidate)

    def candidates(self, modalities: Sequence[str]) -> list[dict[str, Any]]:
        """``trials`` distinct configurations drawn with the seed (all of them if fewer)."""
        space = list(itertools.product(self.fusions, *[self.depths] * len(modalities)))
        rng = np.random.default_rng(self.context.seed)
        chosen = rng.choice(len(space), size=min(self.trials, len(space)), replace=False)
        return [
            {"fusion": space[i][0], "depths": dict(zip(modalities, space[i][1:], strict=True))}
            for i in chosen
        ]

    def fit(self, train: MultimodalDataset, val: MultimodalDataset) -> FusionSearch:
        """Train every drawn configuration on ``train`` and score it on ``val``."""
        from intermodal.metrics import PRIMARY, evaluate, metric_info
        from intermodal.training.fit import seed_everything

        if any(train.kinds[key] != "vector" for key in train.modality_names):
            raise ValueError("FusionSearch searches MLP encoders: every modality must be a vector")
        splits = DataSplits(train, val, val)
        rows, best_key = [], None
        best: tuple[dict[str, Any], nn.Module] | None = None
        for trial, config in enumerate(self.candidates(train.modality_names)):
            context = self.context.with_(seed=self.context.seed + trial)
            seed_everything(context.seed)
            result = context.fit(self.build(config, train), splits)
            metric = metric_info(val.task, PRIMARY[val.task])
            value = evaluate(result.model, val)[metric.name]
            score = value if metric.higher_is_better else -value
            val_loss = result.best_val_loss if result.best_val_loss is not None else float("nan")
            rows.append(
                {
                    "trial": trial,
                    "fusion": config["fusion"],
                    "depths": ",".join(f"{k}:{v}" for k, v in config["depths"].items()),
                    f"val_{metric.name}": value,
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
