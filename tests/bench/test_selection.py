"""Choosing a method on validation: the best mean validation score, not the test maximum."""

from __future__ import annotations

import math

import pandas as pd

from intermodal.bench.selection import chosen_on_validation
from intermodal.metrics import metric_info


def runs(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["method", "seed", "accuracy", "val_accuracy"])


def test_the_best_validation_mean_is_chosen_whatever_the_test_says() -> None:
    table = runs(
        [
            ("a", 0, 0.99, 0.80),  # the test maximum ...
            ("a", 1, 0.70, 0.82),
            ("b", 0, 0.90, 0.90),  # ... but b is better on validation
            ("b", 1, 0.91, 0.86),
        ]
    )
    choice = chosen_on_validation(table, metric_info("classification", "accuracy"))
    assert choice is not None and choice.method == "b"
    assert math.isclose(choice.scores["a"], (0.80 + 0.82) / 2)
    assert math.isclose(choice.score, (0.90 + 0.86) / 2) and choice.seeds == {"a": 2, "b": 2}


def test_lower_is_better_ties_and_missing_scores() -> None:
    mae = metric_info("regression", "mae")
    table = pd.DataFrame(
        {"method": ["a", "b", "c"], "seed": [0, 0, 0], "val_mae": [0.5, 0.2, float("nan")]}
    )
    choice = chosen_on_validation(table, mae)
    assert choice is not None and choice.method == "b" and choice.unscored == ["c"]
    tied = runs([("x", 0, 0.5, 0.7), ("y", 0, 0.9, 0.7)])
    assert chosen_on_validation(tied, metric_info("classification", "accuracy")).method == "x"
    old = tied.drop(columns=["val_accuracy"])  # runs saved by an earlier version
    assert chosen_on_validation(old, metric_info("classification", "accuracy")) is None
