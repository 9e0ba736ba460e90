"""The classical baselines in the benchmark: on every leaderboard (jointly and per modality),
skipped with a reason where a modality has no feature vector, their choices recorded, their
models saved and resumed, and the analyses that apply to them run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from intermodal.bench import METHODS, resolve_methods, run_benchmark
from intermodal.data import MultimodalDataset
from tests.helpers import blobs

pytest.importorskip("lightgbm")


def test_all_runs_them_jointly_and_on_each_modality() -> None:
    names = [job.name for job in resolve_methods("all", blobs())[0]]
    for base in ("linear", "gbdt"):
        assert {base, f"{base}[a]", f"{base}[b]"} <= set(names)
        assert METHODS[base].family == "classical"
    alone = [job.name for job in resolve_methods("all", blobs().select(["a"]))[0]]
    assert {"linear", "gbdt"} <= set(alone) and "linear[a]" not in alone  # the same model
    jobs, _ = resolve_methods("linear,linear[b]", blobs())
    assert [(job.name, job.modalities) for job in jobs] == [
        ("linear", ("a", "b")),
        ("linear[b]", ("b",)),
    ]
    with pytest.raises(KeyError, match="not run per modality"):
        resolve_methods("early[a]", blobs())


def test_a_modality_without_a_feature_vector_is_skipped_with_the_reason() -> None:
    data = MultimodalDataset(
        {"img": np.zeros((8, 1, 4, 4)), "v": np.random.default_rng(0).normal(size=(8, 3))},
        np.arange(8) % 2,
    )
    jobs, skipped = resolve_methods("linear,gbdt,linear[v],linear[img]", data)
    assert [job.name for job in jobs] == ["linear[v]"]
    reasons = dict(skipped)
    assert set(reasons) == {"linear", "gbdt", "linear[img]"}
    assert all(
        "img (image) has none" in why and "--backbone img=" in why for why in reasons.values()
    )


def test_runs_record_their_choices_and_resume_from_saved_models(tmp_path: Path) -> None:
    settings = {
        "methods": "linear,gbdt,linear[a],early",
        "seeds": 2,
        "epochs": 2,
        "threads": 1,
        "progress": False,
        "report": True,
        "output": str(tmp_path / "results"),
    }
    result = run_benchmark(blobs(), **settings)
    runs = result.runs.set_index(["method", "seed"])
    for name in ("linear", "gbdt", "linear[a]"):
        assert (runs.loc[name, "family"] == "classical").all()
        assert (runs.loc[name, "parameters"] > 0).all()
    assert runs.loc["linear", "chosen"].str.fullmatch(r"C=[0-9.e-]+").all()
    assert runs.loc["gbdt", "chosen"].str.fullmatch(r"rounds=\d+").all()
    assert runs.loc["early", "chosen"].isna().all()
    assert (runs.loc[["linear", "gbdt"], "accuracy"] > 0.8).all()  # blobs are separable
    assert result.analysis is not None
    subsets = result.analysis["missing_subsets"]
    assert subsets.scores["linear[a]"] == [
        subsets.scores["linear[a]"][0],
        None,
        subsets.scores["linear[a]"][2],
    ]
    assert "presence column" in subsets.strategies["gbdt"]
    assert set(result.analysis["missing_rate"].scores) == {"linear", "gbdt", "early"}
    assert set(result.analysis["emap"].models) == {"early"}  # EMAP: encode-then-predict fusions

    resumed = run_benchmark(blobs(), **{**settings, "resume": True})
    assert resumed.runs.drop(columns=["train_time_s", "latency_ms"]).equals(
        result.runs.drop(columns=["train_time_s", "latency_ms"])
    )
    for name in ("linear", "gbdt"):
        for key, value in result.models[name].state_dict().items():
            assert (resumed.models[name].state_dict()[key] == value).all(), (name, key)


def test_worker_processes_give_the_results_of_a_serial_run() -> None:
    settings = {"methods": "linear,gbdt[b]", "seeds": 2, "threads": 1, "progress": False}
    serial = run_benchmark(blobs(), jobs=1, report=False, **settings)
    parallel = run_benchmark(blobs(), jobs=2, report=False, **settings)
    times = ["train_time_s", "latency_ms"]
    assert serial.runs.drop(columns=times).equals(parallel.runs.drop(columns=times))
    for name, model in serial.models.items():
        for key, value in model.state_dict().items():
            assert (parallel.models[name].state_dict()[key] == value).all(), (name, key)
