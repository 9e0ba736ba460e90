"""Per-sample interaction types of the multimodal taxonomy, from unimodal and fused responses.

The behavioural taxonomy (Partan & Marler, Science 1999; used for multimodal machine learning by
Liang, Zadeh & Morency, "Foundations and Trends in Multimodal Machine Learning", 2023) compares the
response to each modality alone with the response to both. Here a response is a classifier's
probability vector: ``p1`` and ``p2`` from models of one modality each, ``p12`` from the
multimodal model, with predicted classes r1, r2, r12 and ``conf_m = p_m[r12]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from intermodal.errors import DataTypeError

TYPES = (
    "redundancy (enhanced)",
    "redundancy (equivalent)",
    "dominance (modality 1)",
    "dominance (modality 2)",
    "independence",
    "modulation",
    "emergence",
)


@dataclass
class InteractionTypes:
    """``types``: one label of ``TYPES`` per sample; ``summary``: per type the count, fraction,
    the fused model's accuracy on those samples (when targets are given) and example indices."""

    types: np.ndarray
    summary: pd.DataFrame


def _probabilities(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as a float64 array, refusing text and NaN or infinite entries (the message
    speaks of probabilities; for ``target``, of labels)."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        what = "class labels" if name == "target" else "class probabilities"
        raise DataTypeError(f"{name} must hold {what} (numbers), got {array.dtype}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(array), -1).any(axis=1))
        raise ValueError(
            f"{name} holds NaN or infinite values in {len(rows)} of {len(array)} samples (first "
            f"in row {int(rows[0])}): "
            + (
                "drop those samples"
                if name == "target"
                else "the model's probabilities must be finite (diverged weights?)"
            )
        )
    return array


def interaction_types(
    p1: np.ndarray,
    p2: np.ndarray,
    p12: np.ndarray,
    target: np.ndarray | None = None,
    delta: float = 0.1,
    examples: int = 5,
) -> InteractionTypes:
    """Classify each sample's interaction, in this order:

    - **redundancy**: r1 = r2 = r12; *enhanced* if the fused confidence in r12 exceeds both
      unimodal confidences by more than ``delta``, else *equivalent*;
    - **emergence**: r12 is neither r1 nor r2, a response no modality gives alone;
    - otherwise r1 != r2 and r12 is one of them:
      **independence** if ``p12`` is the average of ``p1`` and ``p2`` (L1 distance <= ``delta``:
      both separate responses, combined without interaction);
      **dominance** of modality m if r12 = r_m and ``|p12[r12] - p_m[r12]| <= delta`` (m's
      response, unchanged, wins); else **modulation** (one modality changes the strength of the
      other's response).

    Args:
        p1, p2, p12: ``(N, K)`` class probabilities.
        target: optional ``(N,)`` labels, to report accuracy per type.
    """
    p1, p2, p12 = (_probabilities(name, p) for name, p in (("p1", p1), ("p2", p2), ("p12", p12)))
    if not (p1.shape == p2.shape == p12.shape) or p1.ndim != 2:
        raise ValueError(
            f"p1, p2, p12 must share one shape (N, K), got {p1.shape}, {p2.shape}, {p12.shape}"
        )
    if len(p1) == 0:
        raise ValueError("p1, p2 and p12 hold no samples: interaction types need at least one")
    if target is not None:
        target = _probabilities("target", target)  # labels: numbers, finite
        if len(target) != len(p1):
            raise ValueError(f"target has {len(target)} labels for {len(p1)} samples")
    rows = np.arange(len(p1))
    r1, r2, r12 = p1.argmax(1), p2.argmax(1), p12.argmax(1)
    c1, c2, c12 = p1[rows, r12], p2[rows, r12], p12[rows, r12]
    average = np.abs(p12 - (p1 + p2) / 2).sum(axis=1) <= delta
    types = np.select(
        [
            (r1 == r2) & (r2 == r12) & (c12 > np.maximum(c1, c2) + delta),
            (r1 == r2) & (r2 == r12),
            (r12 != r1) & (r12 != r2),
            average,
            (r12 == r1) & (np.abs(c12 - c1) <= delta),
            (r12 == r2) & (np.abs(c12 - c2) <= delta),
        ],
        [TYPES[0], TYPES[1], TYPES[6], TYPES[4], TYPES[2], TYPES[3]],
        default=TYPES[5],
    )
    records = []
    for name in TYPES:
        members = np.flatnonzero(types == name)
        record = {"type": name, "count": len(members), "fraction": len(members) / len(types)}
        if target is not None:
            correct = r12[members] == np.asarray(target)[members]
            record["fused_accuracy"] = float(correct.mean()) if len(members) else float("nan")
        record["examples"] = members[:examples].tolist()
        records.append(record)
    return InteractionTypes(types, pd.DataFrame(records))
