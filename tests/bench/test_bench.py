from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.bench import (
    METHODS,
    ResultsFolder,
    leaderboard,
    register_method,
    resolve_methods,
    run_benchmark,
    save_results,
    unregister_method,
)
from intermodal.bench.methods import build_unimodal
from intermodal.data import MultimodalDataset, load_mfeat
from intermodal.metrics import metric_info
from intermodal.training import RunContext
from tests.helpers import blobs

TIMES = ["train_time_s", "latency_ms"]


def test_resolve_expands_per_modality_methods_and_skips_what_does_not_apply() -> None:
    jobs, skipped = resolve_methods("unimodal,early", blobs())
    assert [job.name for job in jobs] == ["unimodal[a]", "unimodal[b]", "early"]
    assert jobs[0].modalities == ("a",) and jobs[2].modalities == ("a", "b")
    jobs, skipped = resolve_methods("all", blobs().select(["a"]))
    assert [job.name for job in jobs] == ["unimodal[a]", "linear", "gbdt"]  # one view: no [a]
    assert {name for name, _ in skipped} == set(METHODS) - {"unimodal", "linear", "gbdt"}
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
    assert dict(skipped).keys() == two_modal | {"very-early"}  # mfeat's views are not signals
    assert "choose two with --modalities" in dict(skipped)["bilinear"]
    names = {job.name for job in jobs}
    assert set(METHODS) - two_modal - {"unimodal", "very-early"} <= names
    jobs, skipped = resolve_methods("all", mfeat.select(["fou", "pix"]))
    assert dict(skipped).keys() == {"very-early"} and two_modal <= {job.name for job in jobs}


def test_tfn_encoders_shrink_to_keep_the_tensor_small() -> None:
    six = METHODS["tfn"].build(load_mfeat(), RunContext())
    assert set(six.fusion.input_dims.values()) == {4}  # 5 ** 6 = 15,625 <= 16,384
    two = METHODS["tfn"].build(load_mfeat(["fou", "pix"]), RunContext())
    assert set(two.fusion.input_dims.values()) == {64}  # 65 ** 2 fits: no need to shrink


def test_every_registered_method_trains_on_two_modalities() -> None:
    data = blobs().with_signals(["a", "b"])  # so that very early fusion applies
    result = run_benchmark(data, methods="all", seeds=1, epochs=2, threads=1, progress=False)
    assert not result.skipped
    views = {f"{name}[{m}]" for name in ("unimodal", "linear", "gbdt") for m in "ab"}
    expected = (set(METHODS) - {"unimodal"}) | views
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
    table = leaderboard(runs, metric_info("classification", "accuracy"), ["macro_f1"])
    assert table["method"].tolist() == ["x", "y"]
    assert table["accuracy_mean"].tolist() == pytest.approx([0.8, 0.55])
    assert table["accuracy_std"].tolist() == pytest.approx(
        [np.std([0.9, 0.7], ddof=1), np.std([0.5, 0.6], ddof=1)]
    )
    assert table["macro_f1_mean"].tolist() == pytest.approx([0.7, 0.45])
    assert table["train_time_s"].tolist() == pytest.approx([2.0, 3.0])
    assert table["flops"].tolist() == pytest.approx([100.0, 200.0])
    errors = runs.assign(mae=[0.3, 0.1, 0.5, 0.2])
    by_error = leaderboard(errors, metric_info("regression", "mae"))
    assert by_error["method"].tolist() == ["y", "x"]  # lower is better


def test_run_and_save(tmp_path: Path) -> None:
    result = run_benchmark(
        blobs(), methods="unimodal,late-mean", seeds=2, epochs=3, progress=False, report=True
    )
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
    assert set(analysis["emap"]["models"]) == {"late-mean"}
    assert len(analysis["pid"]["pairs"]) == 1
    assert analysis["settings"]["pid_clusters"] == 5


def test_fusion_beats_every_single_view_on_mfeat() -> None:
    result = run_benchmark(
        load_mfeat(),
        methods="early,unimodal",
        seeds=1,
        epochs=40,
        patience=5,
        progress=False,
        report=False,
    )
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


def test_the_run_context_reaches_builders_that_train(monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinated probes and the search train inside their builders with the caller's seed
    and budget, not a fixed one."""
    fit_module = sys.modules["intermodal.training.fit"]
    seen: list[tuple[int, int]] = []
    original = fit_module.fit

    def spy(model, data, **settings):  # type: ignore[no-untyped-def]
        seen.append((settings["seed"], settings["max_epochs"]))
        return original(model, data, **settings)

    monkeypatch.setattr(fit_module, "fit", spy)
    data = blobs()
    METHODS["coord-clip"].build(data, RunContext(seed=7, max_epochs=3))
    assert seen == [(7, 3)]
    seen.clear()
    METHODS["search"].build(data, RunContext(seed=11, max_epochs=10, patience=2))
    assert [s for s, _ in seen] == [11, 12, 13, 14] and {e for _, e in seen} == {2}


def _stable(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=TIMES)


def test_parallel_runs_give_the_results_of_a_serial_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also the per-model analyses (EMAP, subset table) of the first seed's models: computed
    in the workers that trained them (not in the main process), equal to those of a serial
    run."""
    from intermodal.bench import analyses
    from intermodal.training import thread_limit

    def not_here(*_: object) -> None:
        raise AssertionError("a per-model analysis ran in the main process")

    data = blobs()
    settings = {"methods": "early,unimodal,mfm", "seeds": 2, "epochs": 4, "progress": False}
    with thread_limit(1):
        serial = run_benchmark(data, jobs=1, threads=1, **settings)
    with monkeypatch.context() as patch:
        patch.setattr(analyses, "PER_MODEL", dict.fromkeys(analyses.PER_MODEL, not_here))
        parallel = run_benchmark(data, jobs=2, threads=1, output=str(tmp_path / "p"), **settings)
    pd.testing.assert_frame_equal(_stable(serial.runs), _stable(parallel.runs))
    assert serial.analysis is not None and parallel.analysis is not None
    assert set(parallel.analysis["emap"].models) == {"early"}
    assert len(parallel.analysis["missing_subsets"].scores) == 4  # early, mfm, two unimodal
    for name in ("emap", "missing_subsets"):
        assert serial.analysis[name] == parallel.analysis[name], name
    assert len(list((tmp_path / "p" / "runs").glob("*.json"))) == 4 * 2
    for name, model in serial.models.items():
        for p, q in zip(model.parameters(), parallel.models[name].parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_workers_take_unmeasured_methods_first_then_the_longest() -> None:
    """Runs of methods not timed yet go in queue order; then the method whose finished run
    took longest, so that a long last run does not keep one worker busy alone."""
    from intermodal.bench.executors import Task, next_task

    jobs = {name: resolve_methods(name, blobs())[0][0] for name in ("early", "lmf", "gmu")}
    queue = [Task(jobs[name], RunContext(seed=s)) for s in (0, 1) for name in jobs]
    order = []
    seconds = {"early": 1.0}
    while queue:
        task = next_task(queue, seconds)
        order.append(task.label)
        seconds.setdefault(task.job.name, {"lmf": 5.0, "gmu": 3.0}.get(task.job.name, 1.0))
    assert order == ["lmf s0", "gmu s0", "lmf s1", "gmu s1", "early s0", "early s1"]


class Interrupted(RuntimeError):
    pass


def build_interrupted(dataset: MultimodalDataset, context: RunContext) -> torch.nn.Module:
    """A method whose second seed fails, as an interrupted run would."""
    if context.seed == 1:
        raise Interrupted("stopped")
    return build_unimodal(dataset.select(dataset.modality_names[:1]), context)


@pytest.fixture
def interrupted_method() -> Iterator[str]:
    register_method("interrupted", "unimodal", "fails on seed 1")(build_interrupted)
    yield "interrupted"
    unregister_method("interrupted")


def test_an_interrupted_parallel_run_keeps_every_finished_run(
    tmp_path: Path, interrupted_method: str
) -> None:
    data = blobs()
    folder = tmp_path / "results"
    with pytest.raises(Interrupted):
        run_benchmark(
            data,
            methods=f"early,{interrupted_method}",
            seeds=2,
            epochs=3,
            trials=0,  # one task per run (tuned, a method's seeds finish together)
            jobs=2,
            threads=1,
            output=str(folder),
            progress=False,
            report=False,
        )
    saved = {p.name for p in (folder / "runs").iterdir()}
    assert {"early__seed0.json", f"{interrupted_method}__seed0.json"} <= saved
    assert f"{interrupted_method}__seed1.json" not in saved
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / "runs").iterdir()}
    resumed = run_benchmark(
        data,
        methods="early",
        seeds=2,
        epochs=3,
        trials=0,
        output=str(folder),
        resume=True,
        progress=False,
        report=False,
    )
    assert len(resumed.runs) == 2
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "runs").iterdir()}
    assert all(after[name] == stamp for name, stamp in stamps.items())


def test_the_results_folder_owns_the_overwrite_policy(tmp_path: Path) -> None:
    run_benchmark(
        blobs(),
        methods="early",
        seeds=1,
        epochs=2,
        output=str(tmp_path / "r"),
        progress=False,
        report=False,
    )
    with pytest.raises(FileExistsError, match="--overwrite"):
        ResultsFolder(tmp_path / "r")
    ResultsFolder(tmp_path / "r", overwrite=True)
    assert not (tmp_path / "r" / "runs").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="a benchmark did not write"):
        ResultsFolder(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
