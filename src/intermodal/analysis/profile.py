"""Heterogeneity and connection profile of a multimodal data set."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from intermodal.analysis.pid import (
    LN2,
    SAMPLES_PER_CELL,
    clusters_for,
    discretize,
    mutual_information,
    pid,
)
from intermodal.coordination.cca import canonical_correlations
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.missing import presence_patterns
from intermodal.data.splits import holdout_split


@dataclass
class Profile:
    """``modalities``: one row per modality; ``pairs``: one row per pair of modalities;
    ``patterns``: one row per presence pattern (which modalities a sample has) with its count;
    ``notes``: facts about the targets worth stating (e.g. multi-label samples without any
    label)."""

    modalities: pd.DataFrame
    pairs: pd.DataFrame
    patterns: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


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
    stratified 70/30 split of the samples of ``data`` in which the modality is present (an
    absent one has no values to probe)."""
    present = data.masks[modality]
    if not present.all():
        if not present.any():
            raise ValueError(f"modality {modality!r} is absent in every sample: nothing to probe")
        data = data.subset(present.nonzero().flatten())
    train, test = holdout_split(data, size=0.3, seed=seed)
    return probe_accuracy(
        train.modalities[modality], train.targets, test.modalities[modality], test.targets
    )


def profile(data: MultimodalDataset, n_clusters: int | None = None, seed: int = 0) -> Profile:
    """Describe each modality and each pair of modalities of ``data``.

    Per modality: kind and shape; value statistics (mean, std, min, max over present samples);
    missing rate (fraction of samples where it is absent); for classification a linear probe's
    test accuracy (on the samples where it is present); and I(X_m; Y) in bits, a plug-in
    estimate after k-means discretization into ``n_clusters`` cells (biased upwards by about
    ``(cells - 1)(classes - 1) / (2 N ln 2)`` bits; a regression target is cut into quantile
    bins first, see ``discrete_target``).
    Per pair: the top three canonical correlations and the PID in bits (see ``pid``), on the
    samples where both are present (statistics per modality on the samples where it is).
    Without ``n_clusters``, each estimate takes the most cells (up to 10 per modality) that
    leave ``SAMPLES_PER_CELL`` samples per cell of its table; a pair with too few samples for 2
    cells per modality gets no PID, and a note says so. Text
    modalities are described by their kind, shape and missing rate only. The presence patterns
    count the samples with each combination of present modalities.
    """
    y = discrete_target(data)
    classes = int(y.max()) + 1 if y is not None else 1
    notes: list[str] = []
    numeric = [k for k in data.modality_names if data.kinds[k] != "text"]
    flat = {k: data.modalities[k].reshape(len(data), -1).numpy() for k in numeric}
    rows = []
    for key in data.modality_names:
        present = data.masks[key].numpy()
        row: dict[str, object] = {
            "modality": key,
            "kind": data.kinds[key],
            "shape": "x".join(map(str, data.shapes[key])),
            "missing_rate": float(1.0 - present.mean()),
        }
        if key in flat:
            values = flat[key][present]
            for name, statistic in (("mean", np.mean), ("std", np.std), ("min", np.min)):
                row[name] = float(statistic(values)) if len(values) else float("nan")
            row["max"] = float(values.max()) if len(values) else float("nan")
            row["probe_accuracy"] = float("nan")
            if data.task == "classification":
                per_class = np.bincount(data.targets.numpy()[present], minlength=classes)
                if (per_class[per_class > 0] >= 2).all() and present.any():
                    row["probe_accuracy"] = linear_probe_accuracy(data, key, seed)
                else:
                    notes.append(
                        f"no linear probe of {key}: a class has fewer than 2 samples where it "
                        "is present, too few for a held-out part"
                    )
            if y is not None and present.any():
                cells = n_clusters or min(10, int(present.sum()) // (classes * SAMPLES_PER_CELL))
                codes = discretize(flat[key][present], max(cells, 1), seed)
                counts = np.zeros((codes.max() + 1, int(y.max()) + 1))
                np.add.at(counts, (codes, y[present]), 1.0)
                row["mutual_information_bits"] = mutual_information(counts / counts.sum()) / LN2
        rows.append(row)
    pairs = []
    for a, b in itertools.combinations(numeric, 2):
        both = (data.masks[a] & data.masks[b]).numpy()  # samples where both are present
        if both.sum() < 3:
            continue
        correlations = canonical_correlations(flat[a][both], flat[b][both], n_components=3)
        pair: dict[str, object] = {
            "modality_1": a,
            "modality_2": b,
            "canonical_correlations": [round(float(c), 4) for c in correlations],
        }
        cells = n_clusters or clusters_for(int(both.sum()), classes, max_clusters=10)
        if y is not None and cells >= 2:
            decomposition = pid(flat[a][both], flat[b][both], y[both], n_clusters=cells, seed=seed)
            pair.update({f"{k}_bits": v for k, v in decomposition.as_dict().items()})
        elif y is not None:
            notes.append(
                f"no PID of {a} / {b}: {int(both.sum())} samples are too few for 2 cells per "
                f"modality with {SAMPLES_PER_CELL} samples per cell"
            )
        pairs.append(pair)
    if data.task == "multilabel":
        empty = int((data.targets.sum(dim=1) == 0).sum())
        if empty:
            notes.append(f"{empty} of {len(data)} samples have no label at all")
    if y is None:
        notes.append("no mutual information or PID: a multi-label target is a set, not a value")
    return Profile(
        pd.DataFrame(rows).reindex(columns=PROFILE_COLUMNS),
        pd.DataFrame(pairs),
        presence_patterns(data),
        notes,
    )


PROFILE_COLUMNS = [
    "modality",
    "kind",
    "shape",
    "mean",
    "std",
    "min",
    "max",
    "missing_rate",
    "probe_accuracy",
    "mutual_information_bits",
]


def discrete_target(data: MultimodalDataset, bins: int = 5) -> np.ndarray | None:
    """The target as a discrete variable for information measures: the class; for regression,
    the quantile bin of the value (of the first column; the estimates depend on ``bins``); None
    for multi-label data, whose label sets have up to 2^K values."""
    if data.task == "classification":
        return data.targets.numpy()
    if data.task == "regression":
        values = data.targets.numpy().reshape(len(data), -1)[:, 0]
        edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
        return np.searchsorted(edges, values, side="right")
    return None
