"""The tuned benchmark: every method gets the same trials on the first seed's training and
validation data, the chosen setting trains on every seed (stacked), and the choice is recorded;
``trials`` 0 is the untuned benchmark, run for run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import nn

import intermodal.bench.runner as runner
from intermodal.bench import BenchConfig, resolve_methods, run_benchmark, save_results
from intermodal.bench.executors import prepare_splits
from intermodal.bench.results import ResultsFolder
from intermodal.bench.verdict import TRIALS, TUNING
from intermodal.cli import main
from intermodal.data import MultimodalDataset, load_dataset
from intermodal.data.splits import holdout_split
from intermodal.encoders.dropout import Dropout

TIMES = ["train_time_s", "latency_ms"]
QUICK = {"epochs": 4, "patience": 2, "threads": 1, "report": False, "progress": False}


@pytest.fixture(scope="module")
def small() -> MultimodalDataset:
    """150 samples of two mfeat views: small data, so tuning is cross-validated."""
    data = load_dataset("mfeat").select(["fou", "kar"])
    kept, _ = holdout_split(data, size=1 - 150 / len(data), seed=1234)
    return kept


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same runs, every column but the times (NaN equal to NaN)."""
    pd.testing.assert_frame_equal(
        a.drop(columns=TIMES).reset_index(drop=True), b.drop(columns=TIMES).reset_index(drop=True)
    )


def without_times(record: dict[str, Any]) -> dict[str, Any]:
    """A tuning record without its seconds (which vary from run to run)."""
    out = {k: v for k, v in record.items() if k != "time_s"}
    out["trials"] = [{k: v for k, v in t.items() if k != "time_s"} for t in record["trials"]]
    return out


def test_no_trials_give_the_rows_of_the_plain_path(small: MultimodalDataset) -> None:
    """``trials`` 0: every run trains alone at its method's defaults, as one call of run_job
    on its seed's split gives it, and no run records a setting."""
    config = BenchConfig(methods=("early", "linear"), seeds=2, jobs=1, trials=0, **QUICK)
    result = run_benchmark(small, config)
    assert "params" not in result.runs and result.tuning == {}
    jobs, _ = resolve_methods(["early", "linear"], small)
    expected = []
    for seed in (0, 1):
        splits = prepare_splits(small, seed)
        for job in jobs:
            row, _, _ = runner.run_job(job, splits, config.context(seed))
            expected.append(row)
    assert not result.runs.pop("collapsed").any()  # the benchmark's check, not a run's
    same_rows(result.runs, pd.DataFrame(expected))


def test_trials_are_recorded_and_applied(
    small: MultimodalDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chosen setting is the one every seed trains with (the optimizers' learning rate, the
    encoders' dropout), and results.json, results.csv, summary.md and the report record it."""
    trained: list[list[tuple[float, float]]] = []  # the seeds' settings, one list per method
    fit_many = runner.fit_many

    def spy(models: Any, data: Any, contexts: Any, **options: Any) -> Any:
        trained.append([(c.lr, c.weight_decay) for c in contexts])
        return fit_many(models, data, contexts, **options)

    monkeypatch.setattr(runner, "fit_many", spy)
    # a fixed learning rate and dropout: whichever trial is chosen has them
    space = {"early": {"lr": 0.004, "dropout": 0.3, "width": 32}}
    config = BenchConfig(
        methods=("early", "linear"), seeds=2, jobs=1, trials=3, search_space=space, **QUICK
    )
    result = run_benchmark(small, config)
    early = result.tuning["early"]
    assert len(early["trials"]) == 3 and early["budget"] == 3 and early["folds"] == 5
    chosen = early["params"]
    assert chosen == early["trials"][early["chosen"]]["params"]
    assert (chosen["lr"], chosen["dropout"], chosen["width"]) == (0.004, 0.3, 32)
    assert trained[0] == [(0.004, chosen["weight_decay"])] * 2  # both seeds, one call
    model = result.models["early"]
    rates = {m.p for m in model.modules() if isinstance(m, nn.Dropout | Dropout)}
    assert rates == {0.3}
    assert all(encoder.out_features == 32 for encoder in _last_linears(model))
    setting = runner.describe_params(chosen)
    assert list(result.runs.loc[result.runs["method"] == "early", "params"]) == [setting] * 2
    assert result.tuning["linear"]["params"] == {}  # no settings: one trial, exhaustively
    assert len(result.tuning["linear"]["trials"]) == 1
    board = result.leaderboard.set_index("method")
    assert board.loc["early", "params"] == setting

    folder = save_results(result, tmp_path / "out", report=True)
    saved = json.loads((folder.path / "results.json").read_text())
    assert saved["config"][TRIALS] == 3
    assert without_times(saved[TUNING]["early"]) == without_times(early)
    assert set(pd.read_csv(folder.path / "results.csv")["params"]) == {setting, "defaults"}
    summary = (folder.path / "summary.md").read_text()
    assert "## Tuning" in summary and setting in summary
    assert "equal budgets of 3 trials" in summary
    assert 'id="tuning"' in (folder.path / "report.html").read_text()


def _last_linears(model: nn.Module) -> list[nn.Linear]:
    """The last linear layer of each modality's encoder."""
    return [
        [m for m in encoder.modules() if isinstance(m, nn.Linear)][-1]
        for encoder in model.encoders.values()
    ]


def test_resume_does_not_tune_again_and_keeps_the_budget(
    small: MultimodalDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BenchConfig(methods=("early",), seeds=2, jobs=1, trials=2, **QUICK)
    out = tmp_path / "out"
    first = run_benchmark(small, config, output=str(out))
    assert (out / "tuning" / "early.json").is_file()
    for suffix in (".json", ".npy"):  # the second seed's run is lost
        (out / "runs" / f"early__seed1{suffix}").unlink()
    calls: list[str] = []
    tune_job = runner.tune_job

    def counted(job: Any, *args: Any, **options: Any) -> Any:
        calls.append(job.name)
        return tune_job(job, *args, **options)

    monkeypatch.setattr(runner, "tune_job", counted)
    again = run_benchmark(small, config, output=str(out), resume=True)
    assert calls == []
    assert without_times(again.tuning["early"]) == without_times(first.tuning["early"])
    assert list(again.runs["params"]) == list(first.runs["params"])
    with pytest.raises(ValueError, match="trials: 2 saved, 3 now"):
        run_benchmark(small, config.with_(trials=3), output=str(out), resume=True)
    folder = ResultsFolder(out, overwrite=True)  # the tuning record is the benchmark's own
    assert not (out / "tuning").exists()
    folder.close()


def test_serial_and_processes_give_the_same_runs_and_choices(small: MultimodalDataset) -> None:
    config = BenchConfig(methods=("early", "linear"), seeds=2, trials=2, **QUICK)
    serial = run_benchmark(small, config.with_(jobs=1))
    parallel = run_benchmark(small, config.with_(jobs=2))
    same_rows(serial.runs, parallel.runs)
    assert {k: without_times(v) for k, v in serial.tuning.items()} == {
        k: without_times(v) for k, v in parallel.tuning.items()
    }
    for name, model in serial.models.items():
        other = parallel.models[name].state_dict()
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, other[key], rtol=0, atol=0)


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a command that exits with code 2 (from main, or argparse's exit
    for an option's bad value)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code  # type: ignore[assignment]
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


@pytest.mark.usefixtures("cwd")
def test_bad_tuning_input_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--methods", "early", "--seeds", "1", "--epochs", "1", "--quiet"]
    argv += ["--no-report", "--jobs", "1", "--output", str(tmp_path / "out")]
    assert "--trials: must be 0 (no tuning)" in one_line_error([*argv, "--trials", "-1"], capsys)
    for spec, message in [
        ("{nosuch: {lr: 0.01}}", "search_space names unknown methods ['nosuch']"),
        ("{early: {rank: [2, 4]}}", "early has no setting 'rank'"),
        ("{early: {lr: [0.1, 0.01]}}", "search_space.early.lr"),
        ("[1, 2]", "search_space must map method names"),
    ]:
        path = tmp_path / "config.yaml"
        path.write_text(f"search_space: {spec}\n")
        assert message in one_line_error([*argv, "--config", str(path)], capsys)
    path.write_text("trials: -2\n")
    assert "trials must be 0" in one_line_error([*argv, "--config", str(path)], capsys)
    assert not (tmp_path / "out").exists()
    assert "--trials: must be 0" in one_line_error(
        ["train", "--method", "early", "--output", str(tmp_path / "m"), "--trials", "x"], capsys
    )


@pytest.mark.usefixtures("cwd")
def test_a_resume_with_other_trials_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--dataset", "synthetic-mixed", "--methods", "linear"]
    argv += ["--seeds", "1", "--quiet", "--no-report", "--jobs", "1", "--trials", "1"]
    argv += ["--output", str(tmp_path / "out")]
    assert main(argv) == 0
    error = one_line_error([*argv[:-4], "--trials", "2", *argv[-2:], "--resume"], capsys)
    assert "trials: 1 saved, 2 now" in error


def test_train_tunes_on_its_training_and_validation_data(
    small: MultimodalDataset, tmp_path: Path
) -> None:
    from intermodal.bench.train import save_trained, train_model

    config = BenchConfig(trials=2, seed=0, search_space={"early": {"dropout": 0.25}}, **QUICK)
    trained = train_model(small, "early", config)
    assert trained.tuning is not None and len(trained.tuning["trials"]) == 2
    assert trained.tuning["params"]["dropout"] == 0.25
    model = trained.pipeline.model
    rates = {m.p for m in model.modules() if isinstance(m, nn.Dropout | Dropout)}
    assert rates == {0.25}
    path = save_trained(trained, tmp_path / "model", config)
    metadata = json.loads((path / "config.json").read_text())
    assert metadata["metadata"]["params"] == trained.tuning["params"]
