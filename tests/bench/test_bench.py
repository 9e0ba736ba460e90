from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intermodal.bench import METHODS, leaderboard, resolve_methods, run_benchmark, save_results
from intermodal.data import load_mfeat
from tests.conftest import blobs


def test_resolve_expands_per_modality_methods_and_skips_what_does_not_apply() -> None:
    jobs, skipped = resolve_methods("unimodal,early", blobs())
    assert [job.name for job in jobs] == ["unimodal[a]", "unimodal[b]", "early"]
    assert jobs[0].modalities == ("a",) and jobs[2].modalities == ("a", "b")
    jobs, skipped = resolve_methods("all", blobs().select(["a"]))
    assert [job.name for job in jobs] == ["unimodal[a]"]
    assert {name for name, _ in skipped} == set(METHODS) - {"unimodal"}
    assert all("two" in reason for _, reason in skipped)
    assert [job.name for job in resolve_methods(["unimodal[b]"], blobs())[0]] == ["unimodal[b]"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("nope", "unknown method"),
        ("unimodal[z]", "no modality 'z'"),
        ("early[a]", "not run per modality"),
        ("", "no methods"),
    ],
)
def test_resolve_rejects_unknown_names(names: str, message: str) -> None:
    with pytest.raises((KeyError, ValueError), match=message):
        resolve_methods(names, blobs())


def test_two_modal_methods_are_skipped_on_six_views_and_run_on_two() -> None:
    mfeat = load_mfeat()
    jobs, skipped = resolve_methods("all", mfeat)
    two_modal = {"interactions", "bilinear", "coord-cca", "coord-dcca", "coord-clip", "bimodal-ae"}
    assert dict(skipped).keys() == two_modal
    assert "choose two with --modalities" in dict(skipped)["bilinear"]
    names = {job.name for job in jobs}
    assert set(METHODS) - two_modal - {"unimodal"} <= names
    jobs, skipped = resolve_methods("all", mfeat.select(["fou", "pix"]))
    assert not skipped and two_modal <= {job.name for job in jobs}


def test_tfn_encoders_shrink_to_keep_the_tensor_small() -> None:
    six = METHODS["tfn"].build(load_mfeat())
    assert set(six.fusion.input_dims.values()) == {4}  # 5 ** 6 = 15,625 <= 16,384
    two = METHODS["tfn"].build(load_mfeat(["fou", "pix"]))
    assert set(two.fusion.input_dims.values()) == {64}  # 65 ** 2 fits: no need to shrink


def test_every_registered_method_trains_on_two_modalities() -> None:
    result = run_benchmark(blobs(), methods="all", seeds=1, epochs=2, progress=False)
    assert not result.skipped
    expected = (set(METHODS) - {"unimodal"}) | {"unimodal[a]", "unimodal[b]"}
    assert set(result.runs["method"]) == expected
    assert result.runs["accuracy"].between(0, 1).all() and (result.runs["parameters"] > 0).all()


def test_leaderboard_aggregates_runs() -> None:
    runs = pd.DataFrame(
        {
            "method": ["x", "y", "x", "y"],
            "family": ["fusion", "unimodal"] * 2,
            "seed": [0, 0, 1, 1],
            "accuracy": [0.9, 0.5, 0.7, 0.6],
            "macro_f1": [0.8, 0.4, 0.6, 0.5],
            "parameters": [10, 20, 10, 20],
            "flops": [100.0, 200.0, 100.0, 200.0],
            "train_time_s": [1.0, 2.0, 3.0, 4.0],
            "latency_ms": [0.1, 0.2, 0.3, 0.4],
        }
    )
    table = leaderboard(runs)
    assert table["method"].tolist() == ["x", "y"]
    assert table["accuracy_mean"].tolist() == pytest.approx([0.8, 0.55])
    assert table["accuracy_std"].tolist() == pytest.approx(
        [np.std([0.9, 0.7], ddof=1), np.std([0.5, 0.6], ddof=1)]
    )
    assert table["train_time_s"].tolist() == pytest.approx([2.0, 3.0])
    assert table["flops"].tolist() == pytest.approx([100.0, 200.0])


def test_run_and_save(tmp_path: Path) -> None:
    result = run_benchmark(blobs(), methods="unimodal,late-mean", seeds=2, epochs=3, progress=False)
    assert len(result.runs) == 3 * 2 and set(result.runs["seed"]) == {0, 1}
    assert ((result.runs["accuracy"] >= 0) & (result.runs["accuracy"] <= 1)).all()
    save_results(result, tmp_path / "out", report=False)
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"results.csv", "results.json", "summary.md", "analysis.json"} <= written
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(document["runs"]) == 6 and document["config"]["seeds"] == 2
    assert "| late-mean |" in (tmp_path / "out" / "summary.md").read_text()
    saved = pd.read_csv(tmp_path / "out" / "results.csv")
    pd.testing.assert_frame_equal(saved, result.runs, check_dtype=False)
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert set(analysis["emap"]) == {"late-mean"} and len(analysis["pid"]) == 1


def test_fusion_beats_every_single_view_on_mfeat() -> None:
    result = run_benchmark(load_mfeat(), methods="early,unimodal", seeds=1, progress=False)
    scores = dict(
        zip(result.leaderboard["method"], result.leaderboard["accuracy_mean"], strict=True)
    )
    assert scores["early"] >= 0.97
    assert scores["early"] > max(v for k, v in scores.items() if k.startswith("unimodal"))


def test_coordinated_embeddings_with_a_probe_on_the_leaderboard() -> None:
    data = blobs(n_per_class=200)
    result = run_benchmark(
        data, methods="coord-cca,coord-clip", seeds=1, epochs=100, progress=False
    )
    assert set(result.leaderboard["family"]) == {"coordination"}
    assert (result.leaderboard["accuracy_mean"] > 0.8).all()
