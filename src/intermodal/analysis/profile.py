"""Heterogeneity and connection profile of a multimodal data set."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from intermodal.analysis.pid import LN2, discretize, mutual_information, pid
from intermodal.coordination.cca import canonical_correlations
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import holdout_split


@dataclass
class Profile:
    """``modalities``: one row per modality; ``pairs``: one row per pair of modalities."""

    modalities: pd.DataFrame
    pairs: pd.DataFrame


def probe_accuracy(
    x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Test accuracy of a multinomial logistic regression (a linear probe) on features
    ``(N, ...)`` flattened and standardized on the training part, L2 penalty 1e-3, L-BFGS."""
    x, x_test = (v.reshape(len(v), -1).double() for v in (x_train, x_test))
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
    x, x_test = (x - mean) / std, (x_test - mean) / std
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    weight = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y_train) + 1e-3 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(((x_test @ weight + bias).argmax(1) == y_test).double().mean())


def linear_probe_accuracy(data: MultimodalDataset, modality: str, seed: int = 0) -> float:
    """Test accuracy of a linear probe (see :func:`probe_accuracy`) on one modality, on a
    stratified 70/30 split of ``data``."""
    train, test = holdout_split(data, size=0.3, seed=seed)
    return probe_accuracy(
        train.modalities[modality], train.targets, test.modalities[modality], test.targets
    )


def profile(data: MultimodalDataset, n_clusters: int = 10, seed: int = 0) -> Profile:
    """Describe each modality and each pair of modalities of ``data``.

    Per modality: kind and shape; value statistics (mean, std, min, max over present samples);
    missing rate (fraction of samples where it is absent); a linear probe's test accuracy; and
    I(X_m; Y) in bits, a plug-in estimate after k-means discretization into ``n_clusters`` cells
    (biased upwards by about ``(cells - 1)(classes - 1) / (2 N ln 2)`` bits).
    Per pair: the top three canonical correlations and the PID in bits (see ``pid``).
    """
    y = data.targets.numpy()
    flat = {k: v.reshape(len(data), -1).numpy() for k, v in data.modalities.items()}
    rows = []
    for key in data.modality_names:
        present = data.masks[key].numpy()
        values = flat[key][present]
        codes = discretize(flat[key], n_clusters, seed)
        counts = np.zeros((codes.max() + 1, data.n_classes))
        np.add.at(counts, (codes, y), 1.0)
        rows.append(
            {
                "modality": key,
                "kind": data.kinds[key],
                "shape": "x".join(map(str, data.shapes[key])),
                "mean": float(values.mean()) if len(values) else float("nan"),
                "std": float(values.std()) if len(values) else float("nan"),
                "min": float(values.min()) if len(values) else float("nan"),
                "max": float(values.max()) if len(values) else float("nan"),
                "missing_rate": float(1.0 - present.mean()),
                "probe_accuracy": linear_probe_accuracy(data, key, seed),
                "mutual_information_bits": mutual_information(counts / counts.sum()) / LN2,
            }
        )
    pairs = []
    for a, b in itertools.combinations(data.modality_names, 2):
        correlations = canonical_correlations(flat[a], flat[b], n_components=3)
        decomposition = pid(flat[a], flat[b], y, n_clusters=n_clusters, seed=seed)
        pairs.append(
            {
                "modality_1": a,
                "modality_2": b,
                "canonical_correlations": [round(float(c), 4) for c in correlations],
                **{f"{k}_bits": v for k, v in decomposition.as_dict().items()},
            }
        )
    return Profile(pd.DataFrame(rows), pd.DataFrame(pairs))
