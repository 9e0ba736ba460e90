"""The interaction profile of a data set: what a recommendation reads before any model trains.

Following Liang et al., "Quantifying & Modeling Multimodal Interactions: An Information
Decomposition Framework" (NeurIPS 2023, arXiv 2302.12247), a data set is described by the
partial information decomposition (PID) of I(X1, X2; Y) into redundancy R, the uniqueness of each
modality U1, U2 and synergy S, normalized to sum to one so that data sets of different sizes,
class counts and signal strengths can be compared. Two quick probes complete it:

- **PID per pair of modalities** (:func:`intermodal.analysis.pid`), in bits, on the samples where
  both are present. Each modality's features are flattened, reduced to at most
  ``PID_COMPONENTS`` principal components (k-means in thousands of dimensions clusters noise),
  and discretized by k-means into the most cells that leave ``SAMPLES_PER_CELL`` samples per cell
  of the (x1, x2, y) table (:func:`intermodal.analysis.clusters_for`, at most 10 per modality),
  exactly as ``intermodal.analysis.profile`` chooses them.
- **Unimodal strength**: the cross-validated accuracy of a linear probe (logistic regression on
  the standardized features, reduced to at most ``PROBE_COMPONENTS`` principal components inside
  each fold) per modality, against the majority-class rate.

Bias: the plug-in estimate of a mutual information from a table of counts is biased upwards by
about ``(cells_X - 1)(cells_Y - 1) / (2 N ln 2)`` bits (Miller 1955). With 10 samples per cell the
joint term I(X1, X2; Y) carries about 0.07 bits of upward bias whatever N is, and most of it shows
up as synergy; ``PairProfile.bias_bits`` states the estimate for each pair. The bank's data sets
(:mod:`intermodal.recommend.bank`) are profiled by these same probes, so the bias is shared by
the data and the entries it is compared with.

Orientation: within a pair the modality with the stronger linear probe comes first ("strong",
then "weak"), so that a bank entry with information unique to its first modality matches data
whose stronger modality holds unique information, whichever name that modality has.

More than two modalities: the profile is the **mean over all pairs** of the oriented, normalized
decompositions (it still sums to one); the pair with the most synergy is reported too.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from intermodal.analysis.pid import LN2, SAMPLES_PER_CELL, clusters_for, pid
from intermodal.data.dataset import MultimodalDataset

PID_COMPONENTS = 16
"""Principal components of a modality that its PID's k-means reads (the bank's modalities have
8 features, so this changes nothing there)."""
PROBE_COMPONENTS = 64
"""Principal components of a modality that its linear probe reads."""
PROBE_FOLDS = 3
"""Folds of the cross-validated linear probe."""
MAX_SAMPLES = 4000
"""Samples the probes read at most (a stratified subsample, drawn with the seed): enough for
10 cells per modality with 4 classes, and a bounded time on large data."""
MAX_CELLS = 10
"""Cells per modality at most, as ``intermodal.analysis.profile`` uses."""
PARTS = ("redundancy", "unique_strong", "unique_weak", "synergy")
"""The four parts of a normalized, oriented profile, in the order of its vector."""


class ProfileError(ValueError):
    """The data cannot be profiled (one modality, a constant target, a task the bank lacks)."""


@dataclass(frozen=True)
class PairProfile:
    """The PID of one pair of modalities, ``strong`` first (the stronger linear probe).

    ``bits``: R, U_strong, U_weak, S and their total I(X_strong, X_weak; Y), in bits;
    ``normalized``: R, U_strong, U_weak, S divided by their total (sums to one);
    ``cells``: k-means cells per modality; ``samples``: samples used; ``bias_bits``: the
    Miller-Madow estimate of the upward bias of the total, ``(cells^2 - 1)(classes - 1) /
    (2 N ln 2)``."""

    strong: str
    weak: str
    bits: dict[str, float]
    normalized: dict[str, float]
    cells: int
    samples: int
    bias_bits: float


@dataclass(frozen=True)
class InteractionProfile:
    """What the probes found in a data set.

    Attributes:
        dataset: its name; samples: its size; classes: classes of its target.
        modalities: modality -> cross-validated linear-probe accuracy (unimodal strength).
        chance: the majority-class rate (what a probe that learned nothing reaches).
        pairs: one :class:`PairProfile` per pair of profiled modalities.
        normalized: R, U_strong, U_weak, S (``PARTS``), the mean over pairs of each pair's
            normalized decomposition; sums to one.
        aggregate: how ``normalized`` was formed (``"the one pair"`` or ``"mean over N pairs"``).
        most_synergy: the pair (``"a / b"``) with the largest normalized synergy.
        notes: facts worth stating (modalities not profiled, a total below its bias).
    """

    dataset: str
    samples: int
    classes: int
    modalities: dict[str, float]
    chance: float
    pairs: list[PairProfile]
    normalized: dict[str, float]
    aggregate: str
    most_synergy: str
    notes: list[str] = field(default_factory=list)

    def vector(self) -> np.ndarray:
        """``normalized`` as a vector ``(4,)`` in the order of ``PARTS``."""
        return np.array([self.normalized[p] for p in PARTS])

    @property
    def strongest(self) -> str:
        """The modality with the best linear probe (ties: the first name)."""
        return max(sorted(self.modalities), key=lambda m: self.modalities[m])

    @property
    def weakest(self) -> str:
        return min(sorted(self.modalities), key=lambda m: self.modalities[m])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _flat(data: MultimodalDataset, modality: str, rows: np.ndarray) -> np.ndarray:
    return data.modalities[modality][rows].reshape(len(rows), -1).double().numpy()


def _reduce(x: np.ndarray, components: int) -> np.ndarray:
    """``x`` (N, D) standardized and projected on its first ``components`` principal
    components when D is larger (by SVD; constant columns are left out)."""
    std = x.std(axis=0)
    x = (x[:, std > 0] - x[:, std > 0].mean(axis=0)) / std[std > 0]
    if x.shape[1] <= components:
        return x
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:components].T


def _subsample(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` samples, stratified by ``y`` (sorted)."""
    if len(y) <= limit:
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(np.arange(len(y)), train_size=limit, stratify=y, random_state=seed)
    return np.sort(kept)


def probe_strength(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Cross-validated accuracy of a linear probe on ``x`` (N, D) for labels ``y`` (N,).

    Logistic regression (L2, C = 1) on standardized features reduced to at most
    ``PROBE_COMPONENTS`` principal components, fitted within each of ``PROBE_FOLDS`` stratified
    folds (fewer when a class has fewer samples), at most 300 L-BFGS iterations (a probe that
    has not converged by then is kept: it measures strength, not the optimum); the mean accuracy
    over the folds."""
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = np.bincount(y)
    folds = min(PROBE_FOLDS, int(counts[counts > 0].min()))
    if folds < 2:
        raise ProfileError("a class has a single sample: too few for a cross-validated probe")
    steps: list[Any] = [StandardScaler()]
    if x.shape[1] > PROBE_COMPONENTS:
        steps.append(PCA(PROBE_COMPONENTS, random_state=seed))
    steps.append(LogisticRegression(C=1.0, max_iter=300))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a probe that stops at 300 iterations is still a probe
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(make_pipeline(*steps), x, y, cv=split).mean())


def _pair(
    a: str, b: str, xa: np.ndarray, xb: np.ndarray, y: np.ndarray, seed: int
) -> PairProfile | None:
    classes = len(np.unique(y))
    cells = clusters_for(len(y), classes, max_clusters=MAX_CELLS)
    if cells < 2:
        return None
    parts = pid(_reduce(xa, PID_COMPONENTS), _reduce(xb, PID_COMPONENTS), y, cells, seed)
    total = parts.total
    bits = {
        "redundancy": parts.redundancy,
        "unique_strong": parts.unique1,
        "unique_weak": parts.unique2,
        "synergy": parts.synergy,
        "total": total,
    }
    raw = np.array([max(bits[p], 0.0) for p in PARTS])
    normalized = raw / raw.sum() if raw.sum() > 0 else np.full(4, 0.25)
    bias = (cells * cells - 1) * (classes - 1) / (2 * len(y) * LN2)
    return PairProfile(
        a,
        b,
        {k: round(float(v), 6) for k, v in bits.items()},
        {p: round(float(v), 6) for p, v in zip(PARTS, normalized, strict=True)},
        cells,
        len(y),
        round(float(bias), 6),
    )


def _labels(data: MultimodalDataset) -> np.ndarray:
    if data.task != "classification":
        raise ProfileError(
            f"{data.name} is a {data.task} data set; the interaction bank holds classification "
            "data sets only, so there is nothing to compare it with"
        )
    y = data.targets.numpy()
    if len(np.unique(y)) < 2:
        raise ProfileError(
            f"the target of {data.name} is constant (one class in {len(y)} samples): there is "
            "nothing to predict; check the target column"
        )
    return y


def interaction_profile(
    data: MultimodalDataset, seed: int = 0, threads: int = 1
) -> InteractionProfile:
    """The interaction profile of a classification data set (see the module docstring).

    Args:
        data: at least two modalities with numeric values (vectors, sequences, images,
            audio; text modalities are left out and a note says so); a classification target
            of at least two classes.
        seed: the subsample, the k-means starts and the probe folds.
        threads: BLAS threads of the probes (1 by default: on small matrices more threads
            mostly contend, and many times over on a busy machine).

    Raises:
        ProfileError: fewer than two numeric modalities (nothing to fuse), a constant target,
            a task other than classification, or too few samples for 2 cells per modality.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _profile(data, seed)


def _profile(data: MultimodalDataset, seed: int) -> InteractionProfile:
    y_all = _labels(data)
    notes: list[str] = []
    numeric = [m for m in data.modality_names if data.kinds[m] != "text"]
    text = [m for m in data.modality_names if data.kinds[m] == "text"]
    if text:
        notes.append(f"not profiled (text has no numeric features to probe): {', '.join(text)}")
    if len(numeric) < 2:
        only = ", ".join(data.modality_names)
        raise ProfileError(
            f"{data.name} has one modality to profile ({only}): nothing to fuse; train a "
            "unimodal model or a classical baseline (intermodal bench --methods "
            "unimodal,linear,gbdt)"
        )
    classes = len(np.unique(y_all))
    if clusters_for(len(y_all), classes, max_clusters=MAX_CELLS) < 2:
        raise ProfileError(
            f"{len(y_all)} samples of {classes} classes are too few for a PID estimate (2 cells "
            f"per modality need {4 * classes * SAMPLES_PER_CELL} samples, {SAMPLES_PER_CELL} per "
            "cell of the table)"
        )
    rows = _subsample(y_all, MAX_SAMPLES, seed)
    if len(rows) < len(y_all):
        notes.append(f"probes read a stratified subsample of {len(rows)} of {len(y_all)} samples")
    y = y_all[rows]
    masks = {m: data.masks[m].numpy()[rows] for m in numeric}
    strength: dict[str, float] = {}
    for m in numeric:
        present = masks[m]
        kept = np.unique(y[present], return_inverse=True)[1]
        strength[m] = round(probe_strength(_flat(data, m, rows[present]), kept, seed), 6)
    pairs: list[PairProfile] = []
    for a, b in itertools.combinations(numeric, 2):
        if strength[b] > strength[a]:
            a, b = b, a
        both = masks[a] & masks[b]
        labels = np.unique(y[both], return_inverse=True)[1]
        if len(np.unique(labels)) < 2:
            notes.append(f"no PID of {a} / {b}: one class where both are present")
            continue
        found = _pair(a, b, _flat(data, a, rows[both]), _flat(data, b, rows[both]), labels, seed)
        if found is None:
            notes.append(
                f"no PID of {a} / {b}: {int(both.sum())} samples are too few for 2 cells per "
                f"modality with {SAMPLES_PER_CELL} samples per cell"
            )
            continue
        if found.bits["total"] <= found.bias_bits:
            notes.append(
                f"{a} / {b}: I(X; Y) = {found.bits['total']:.3f} bits is within its estimated "
                f"bias ({found.bias_bits:.3f} bits): the pair says little about the target"
            )
        pairs.append(found)
    if not pairs:
        raise ProfileError(
            f"no pair of modalities of {data.name} could be profiled: "
            + "; ".join(n for n in notes if n.startswith("no PID"))
        )
    mean = np.mean([[p.normalized[k] for k in PARTS] for p in pairs], axis=0)
    mean = mean / mean.sum()
    richest = max(pairs, key=lambda p: p.normalized["synergy"])
    counts = np.bincount(y)
    return InteractionProfile(
        dataset=data.name,
        samples=len(data),
        classes=int((counts > 0).sum()),
        modalities=strength,
        chance=round(float(counts.max() / counts.sum()), 6),
        pairs=pairs,
        normalized={p: round(float(v), 6) for p, v in zip(PARTS, mean, strict=True)},
        aggregate="the one pair" if len(pairs) == 1 else f"mean over {len(pairs)} pairs",
        most_synergy=f"{richest.strong} / {richest.weak}",
        notes=notes,
    )


def dominant(normalized: dict[str, float]) -> str:
    """The largest part of a normalized profile (``PARTS`` order breaks ties)."""
    return max(PARTS, key=lambda p: (normalized[p], -PARTS.index(p)))
