"""Collapsed runs: a model that gives every test sample the same answer has learned nothing
from its inputs (a majority-class or mean predictor), whatever its score says.

A collapsed run is marked on the leaderboard (``collapsed``: how many of a method's runs
collapsed), in ``results.csv`` and the report, and is not counted as a result: the method is
listed after the ranked ones, without an interval or a test against the best, and cannot be
chosen on validation (:mod:`intermodal.bench.verdict` leaves it out of the verdict too).
"""

from __future__ import annotations

import torch
from torch import Tensor

from intermodal.metrics import predictions

RELATIVE_SPREAD = 1e-4
"""Regression outputs are constant when their spread (max - min) over the test samples is at
most this fraction of the targets' standard deviation (1 where the targets are constant)."""


def collapse(task: str, outputs: Tensor, targets: Tensor) -> str | None:
    """Why a run's test outputs are collapsed, or None when they are not.

    Args:
        task: ``classification``, ``multilabel`` or ``regression``.
        outputs: the model's test outputs: ``(N, K)`` logits, or ``(N,)`` / ``(N, K)`` values.
        targets: the test targets: ``(N,)`` labels, ``(N, K)`` label sets or values.

    Returns:
        ``"one class (3) for every test sample"``, ``"one label set ..."``, ``"constant
        values ..."``; None where the outputs vary, or where the targets do not (a test part
        of one class cannot tell a collapsed model from a right one).
    """
    if len(outputs) < 2:
        return None
    if task == "classification":
        chosen = predictions(outputs, task)
        if len(torch.unique(targets)) < 2 or len(torch.unique(chosen)) > 1:
            return None
        return f"one class ({int(chosen[0])}) for every test sample"
    if task == "multilabel":
        sets = predictions(outputs, task)
        if len(torch.unique(targets, dim=0)) < 2 or len(torch.unique(sets, dim=0)) > 1:
            return None
        return "one label set for every test sample"
    values = outputs.double().reshape(len(outputs), -1)
    truth = targets.double().reshape(len(targets), -1)
    scale = truth.std(dim=0, correction=0)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    spread = values.max(dim=0).values - values.min(dim=0).values
    if bool((truth.max(dim=0).values == truth.min(dim=0).values).all()):
        return None
    if bool((spread <= RELATIVE_SPREAD * scale).all()):
        return "constant values for every test sample"
    return None
