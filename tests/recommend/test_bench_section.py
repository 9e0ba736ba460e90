"""The benchmark records the recommendation before training and compares it after."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from intermodal.bench.runner import run_benchmark, save_results
from intermodal.data import make_interaction_dataset
from intermodal.recommend import compare_with_runs


def test_results_and_summary_open_with_the_recommendation(tmp_path: Path) -> None:
    data = make_interaction_dataset("synergistic", n=600, seed=4)
    result = run_benchmark(
        data, methods="early,bilinear", seeds=1, epochs=2, report=False, progress=False
    )
    assert result.recommendation is not None and "recommended" in result.recommendation
    folder = save_results(result, tmp_path / "out", report=True)
    results = json.loads((folder.path / "results.json").read_text())
    before = results["recommendation"]["before_training"]
    after = results["recommendation"]["after_training"]
    assert [r["method"] for r in after["recommended"]] == [
        r["method"] for r in before["recommended"]
    ]
    summary = (folder.path / "summary.md").read_text()
    assert summary.split("\n## ")[1].startswith("Recommended before training vs chosen on")
    assert 'id="recommendation"' in (folder.path / "report.html").read_text()


def test_one_modality_skips_the_recommendation_cheaply() -> None:
    data = make_interaction_dataset("unique", n=300).select(["x1"])
    result = run_benchmark(
        data, methods="unimodal", seeds=1, epochs=1, report=False, progress=False
    )
    assert result.recommendation is not None
    assert "nothing to fuse" in result.recommendation["skipped"]


def test_percent_of_best_is_the_validation_best_recommended_over_the_best() -> None:
    runs = pd.DataFrame(
        {
            "method": ["a", "b", "c", "d"],
            "accuracy": [0.9, 0.8, 0.95, 0.7],
            "val_accuracy": [0.85, 0.9, 0.99, 0.6],
        }
    )
    found = {"recommended": [{"method": m} for m in ("a", "b", "x")]}
    compared = compare_with_runs(found, runs, "accuracy")
    assert compared["picked"] == "b" and compared["best"] == "c"
    assert compared["percent_of_best"] == pytest.approx(0.8 / 0.95)
    assert compared["not_run"] == ["x"]
    assert compared["chosen"] == "c" and compared["chosen_percent"] == pytest.approx(1.0)
