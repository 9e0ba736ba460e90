"""Every task end to end through the command line: regression, multi-label and the sentiment
convention, with the task's metrics in the leaderboard and the report."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intermodal.cli import main
from tests.helpers import write_affect

QUICK = ["--seeds", "1", "--jobs", "1", "--threads", "1", "--quiet"]


def bench(tmp_path: Path, *arguments: str) -> tuple[int, Path]:
    out = tmp_path / "out"
    return main(["bench", *arguments, *QUICK, "--output", str(out)]), out


def test_a_synergistic_regression_is_sorted_by_mae_and_needs_interactions(tmp_path: Path) -> None:
    """y = z1 * z2: a product fits it, an additive fusion cannot (its MAE stays near the one of
    predicting the mean)."""
    code, out = bench(
        tmp_path,
        "--dataset",
        "synthetic-synergistic-regression",
        "--methods",
        "additive,multiplicative",
        "--epochs",
        "40",
        "--patience",
        "5",
        "--no-report",
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["metric"] == "mae" and not results["config"]["higher_is_better"]
    board = pd.DataFrame(results["leaderboard"])
    assert board["mae_mean"].is_monotonic_increasing  # sorted by MAE, lowest first
    mae = dict(zip(board["method"], board["mae_mean"], strict=True))
    assert mae["multiplicative"] < 0.6 * mae["additive"]
    assert {"rmse_mean", "pearson_r_mean", "r2_mean"} <= set(board.columns)


def test_a_multilabel_data_set_end_to_end(tmp_path: Path) -> None:
    code, out = bench(
        tmp_path,
        "--dataset",
        "synthetic-synergistic-multilabel",
        "--methods",
        "early,late-mean,unimodal",
        "--epochs",
        "15",
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["task"] == "multilabel" and results["config"]["metric"] == "micro_f1"
    runs = pd.read_csv(out / "results.csv")
    assert {"micro_f1", "macro_f1", "subset_accuracy", "mean_average_precision"} <= set(runs)
    f1 = dict(zip(runs["method"], runs["micro_f1"], strict=True))
    # labels 0 and 1 need both modalities (XOR, AND): fusion beats either modality alone
    assert f1["early"] > max(f1["unimodal[x1]"], f1["unimodal[x2]"]) + 0.05
    assert (out / "figures" / "missing_subsets.png").is_file()


def test_sentiment_scores_with_the_field_s_metrics_in_the_report(tmp_path: Path) -> None:
    write_affect(tmp_path / "mosi.pkl", n=60)
    code, out = bench(
        tmp_path,
        "--dataset",
        str(tmp_path / "mosi.pkl"),
        "--trust-pickle",
        "--task",
        "regression",
        "--sentiment",
        "--methods",
        "early,unimodal[text]",
        "--epochs",
        "5",
    )
    assert code == 0
    page = (out / "report.html").read_text()
    for metric in ("mae", "pearson_r", "acc2_nonneg", "acc2_nonzero", "f1_nonneg", "acc7"):
        assert f">{metric}<" in page, metric
    assert "lower is better" in page and "interaction types compare predicted classes" in page


def write_utterances(path: Path, seed: int = 0) -> None:
    """Utterance-level features as public CMU-MOSI repositories share them: (videos,
    utterances, features) arrays, masks of real utterances and one-hot polarity labels."""
    rng = np.random.default_rng(seed)
    data = {}
    for part, videos in (("train", 12), ("test", 4)):
        label = rng.integers(0, 2, size=(videos, 5))
        sign = (2 * label - 1)[..., None]
        for modality, size in (("text", 6), ("audio", 4), ("video", 3)):
            data[f"{modality}_{part}"] = rng.normal(size=(videos, 5, size)) + sign
        data[f"{part}_mask"] = (rng.random((videos, 5)) < 0.8).astype(float)
        data[f"{part}_label"] = np.eye(2)[label]
    path.write_bytes(pickle.dumps(data))


def test_utterance_features_benchmarked_from_the_command_line(tmp_path: Path) -> None:
    write_utterances(tmp_path / "utterances.pkl")
    code, out = bench(
        tmp_path,
        "--dataset",
        str(tmp_path / "utterances.pkl"),
        "--trust-pickle",
        "--methods",
        "early,unimodal",
        "--epochs",
        "5",
    )
    assert code == 0
    runs = pd.read_csv(out / "results.csv")
    assert set(runs["method"]) == {"early", "unimodal[audio]", "unimodal[text]", "unimodal[video]"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dataset", "synthetic-mixed-regression", "--metric", "accuracy"], "unknown regression"),
        (["--dataset", "mfeat", "--metric", "mae"], "unknown classification metric 'mae'"),
        (["--dataset", "mfeat", "--task", "regression"], "cannot be changed"),
    ],
)
def test_bad_task_options_leave_no_output(
    tmp_path: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = bench(tmp_path, *arguments)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
