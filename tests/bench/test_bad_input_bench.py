"""Bad input to the benchmark's command line: each is a one-line error that says what to do, or
a clear message, and loses nothing."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from intermodal._io import write_directory_atomic, write_text_atomic
from intermodal.cli import main
from intermodal.data import load_dataset

BENCH = ["bench", "--dataset", "synthetic-mixed", "--seeds", "1", "--epochs", "1", "--jobs", "1"]
BENCH += ["--quiet", "--no-report"]


pytestmark = pytest.mark.usefixtures("cwd")  # an empty working directory that must stay empty


def started_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the runs that start training (from here on)."""
    import intermodal.bench.executors as executors

    started: list[str] = []
    original = executors.run_task

    def spy(dataset: Any, task: Any, splits: Any) -> Any:
        started.append(task.label)
        return original(dataset, task, splits)

    monkeypatch.setattr(executors, "run_task", spy)
    return started


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the runs that start training."""
    return started_runs(monkeypatch)


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a command that must exit with code 2."""
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


def tree(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


# --- 1. overwrite removes only what a benchmark wrote ----------------------------------------


def test_overwrite_refuses_a_folder_with_other_files_and_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    mine = tmp_path / "mine"
    (mine / "photos").mkdir(parents=True)
    (mine / "thesis.txt").write_text("four years")
    (mine / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    before = tree(mine)
    error = error_of([*BENCH, "--methods", "early", "--output", str(mine), "--overwrite"], capsys)
    assert "thesis.txt" in error and "photos/" in error and "another --output" in error
    assert tree(mine) == before and trained == []


def test_overwrite_refuses_a_folder_named_like_results_without_their_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    """Files in folders a benchmark writes (``models/``, ``figures/``) are not taken for its
    own, and a folder laid out like results is not cleared without intermodal's manifest."""
    mine = tmp_path / "project"
    (mine / "models").mkdir(parents=True)
    (mine / "models" / "weights.pt").write_bytes(b"precious")
    before = tree(mine)
    error = error_of([*BENCH, "--methods", "early", "--output", str(mine), "--overwrite"], capsys)
    assert "models/weights.pt" in error and "did not write" in error
    assert tree(mine) == before and trained == []
    other = tmp_path / "other-tool"  # another program's results.json and figure
    (other / "figures").mkdir(parents=True)
    (other / "figures" / "fig1.png").write_bytes(b"\x89PNG")
    (other / "results.json").write_text('{"accuracy": 0.9}')
    before = tree(other)
    error = error_of([*BENCH, "--methods", "early", "--output", str(other), "--overwrite"], capsys)
    assert "not a results folder of intermodal" in error
    assert tree(other) == before and trained == []


def test_overwrite_replaces_only_the_results_of_a_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    assert main([*BENCH, "--methods", "early", "--output", str(out)]) == 0
    stale = out / "runs" / "late-mean__seed0.json"
    stale.write_text("{}")
    (out / "figures").mkdir()
    (out / "figures" / "my-plot.pdf").write_bytes(b"%PDF")  # the user's, in a results folder
    error = error_of([*BENCH, "--methods", "early", "--output", str(out), "--overwrite"], capsys)
    assert "figures/my-plot.pdf" in error and (out / "figures" / "my-plot.pdf").is_file()
    (out / "figures" / "my-plot.pdf").unlink()
    (out / ".DS_Store").write_bytes(b"")  # hidden files are left alone
    assert main([*BENCH, "--methods", "early", "--output", str(out), "--overwrite"]) == 0
    assert not stale.exists() and (out / "runs" / "early__seed0.json").is_file()
    assert (out / ".DS_Store").is_file()


# --- 2. the working directory ------------------------------------------------------------------

REPORT = {
    "dataset": "stub",
    "modalities": ["x1", "x2"],
    "metric": "accuracy",
    "scores": {"nonlinear": 0.75},
    "pid_of_predictions": None,
    "complexity": {
        "parameters": 10,
        "flops_per_sample": 20,
        "latency_ms_per_sample": 0.5,
        "peak_memory_mb": 1.0,
    },
    "profile": {
        "modalities": [
            {
                "modality": "x1",
                "kind": "vector",
                "shape": "(8,)",
                "missing_rate": 0.0,
                "probe_accuracy": 0.5,
                "mutual_information_bits": 0.1,
            }
        ],
        "pairs": [],
        "patterns": [],
        "notes": [],
    },
}


@pytest.fixture
def diagnosed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``intermodal diagnose`` with its models and analyses replaced by a fixed report; the
    data sets it was called with."""
    import intermodal.bench.diagnose as module

    calls: list[str] = []

    def stub(dataset: Any, modalities: Any = None, config: Any = None) -> dict[str, Any]:
        calls.append(dataset.name)
        return REPORT

    monkeypatch.setattr(module, "diagnose", stub)
    return calls


def test_diagnose_prints_only_unless_told_where_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], diagnosed: list[str]
) -> None:
    assert main(["diagnose", "--dataset", "synthetic-mixed"]) == 0
    assert "Diagnosis of stub" in capsys.readouterr().out  # and the cwd fixture: no file
    out = tmp_path / "reports" / "d.json"
    assert main(["diagnose", "--dataset", "synthetic-mixed", "--output", str(out)]) == 0
    assert out.is_file() and f"written to {out}" in capsys.readouterr().out


def test_diagnose_checks_its_output_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], diagnosed: list[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    error = error_of(["diagnose", "--output", str(tmp_path / "afile" / "d.json")], capsys)
    assert "afile is a file" in error and "--output" in error
    error = error_of(["diagnose", "--output", str(tmp_path)], capsys)
    assert "is a folder" in error
    assert diagnosed == []


# --- 3. resume with other settings -----------------------------------------------------------


def test_resume_with_other_settings_names_each_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    out = tmp_path / "results"
    assert main([*BENCH, "--methods", "early", "--output", str(out)]) == 0
    before = tree(out)
    trained.clear()
    resume = [*BENCH, "--methods", "early", "--output", str(out), "--resume"]
    error = error_of([*resume, "--epochs", "2", "--batch-size", "32"], capsys)
    assert "epochs: 1 saved, 2 now" in error and "batch_size: 64 saved, 32 now" in error
    assert "--overwrite" in error
    error = error_of([*resume, "--modalities", "x1", "--methods", "unimodal"], capsys)
    assert 'modalities: ["x1", "x2"] saved, ["x1"] now' in error
    config = tmp_path / "more.yaml"
    config.write_text(yaml.safe_dump({"train_missing": 0.25, "output": str(out)}))
    error = error_of([*BENCH, "--methods", "early", "--config", str(config), "--resume"], capsys)
    assert "train_missing: 0.0 saved, 0.25 now" in error
    assert tree(out) == before and trained == []
    # settings that do not change a run's result may differ: nothing is trained again
    assert main([*resume, "--threads", "1", "--jobs", "2"]) == 0
    assert (
        trained == []
        and (out / "runs" / "early__seed0.json").read_bytes() == before["runs/early__seed0.json"]
    )


def test_resume_refuses_corrupt_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    (out / "runs").mkdir(parents=True)
    (out / "settings.json").write_text("[1, 2]")
    error = error_of([*BENCH, "--methods", "early", "--output", str(out), "--resume"], capsys)
    assert "settings.json is corrupt" in error and "another --output" in error


def test_a_resume_from_python_checks_the_data_set_passed(tmp_path: Path) -> None:
    from intermodal.bench import BenchConfig, run_benchmark

    out = tmp_path / "results"
    assert main([*BENCH, "--methods", "early", "--output", str(out)]) == 0
    config = BenchConfig(
        methods=("early",), seeds=2, epochs=1, report=False, progress=False, output=str(out)
    )
    with pytest.raises(ValueError, match='dataset: "synthetic-mixed" saved, "synthetic-unique"'):
        run_benchmark(load_dataset("synthetic-unique"), config.with_(resume=True))
    # the same data set resumes, whatever the config's own dataset name says
    result = run_benchmark(load_dataset("synthetic-mixed"), config.with_(resume=True))
    assert sorted(result.runs["seed"]) == [0, 1]


def test_the_default_loss_named_explicitly_resumes(tmp_path: Path, trained: list[str]) -> None:
    out = tmp_path / "results"
    assert main([*BENCH, "--methods", "early", "--output", str(out)]) == 0
    trained.clear()
    argv = [*BENCH, "--methods", "early", "--output", str(out), "--resume"]
    assert main([*argv, "--loss", "cross_entropy"]) == 0 and trained == []


# --- 4. Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_while_training_says_what_was_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import intermodal.bench.executors as executors

    original = executors.run_task
    started: list[str] = []

    def second_run_interrupted(dataset: Any, task: Any, splits: Any) -> Any:
        started.append(task.label)
        if len(started) == 2:
            raise KeyboardInterrupt
        return original(dataset, task, splits)

    monkeypatch.setattr(executors, "run_task", second_run_interrupted)
    out = tmp_path / "results"
    argv = [*BENCH, "--methods", "early,late-mean", "--output", str(out)]
    assert main(argv) == 130
    error = capsys.readouterr().err
    assert f"1 finished run is saved in {out / 'runs'}" in error and "--resume" in error
    saved = (out / "runs" / "early__seed0.json").read_bytes()
    started.clear()
    assert main([*argv, "--resume"]) == 0
    assert started == ["late-mean s0"]  # the saved run is not trained again
    assert (out / "runs" / "early__seed0.json").read_bytes() == saved
    assert (out / "results.json").is_file()


@pytest.fixture
def ctrl_c_in_analysis(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Ctrl-C arrives when the benchmark starts analysing its models (``undo()`` lifts it)."""

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("intermodal.bench.runner.run_analyses", interrupted)
    return monkeypatch


def test_ctrl_c_while_analysing_says_every_run_is_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ctrl_c_in_analysis: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results"
    argv = [*BENCH[:-1], "--methods", "early,late-mean", "--output", str(out)]
    assert main(argv) == 130
    error = capsys.readouterr().err
    assert f"every run (2) is saved in {out / 'runs'}" in error and "--resume" in error
    assert "nothing was written" not in error
    assert len(list((out / "runs").glob("*.json"))) == 2


def test_ctrl_c_without_output_names_the_folder_to_resume(
    cwd: Path, capsys: pytest.CaptureFixture[str], ctrl_c_in_analysis: pytest.MonkeyPatch
) -> None:
    assert main([*BENCH[:-1], "--methods", "early"]) == 130  # the default results folder
    error = capsys.readouterr().err
    (folder,) = (cwd / "intermodal-results").iterdir()
    assert f"--resume --output {folder.relative_to(cwd)} " in error
    ctrl_c_in_analysis.undo()  # also undoes the working directory
    ctrl_c_in_analysis.chdir(cwd)
    resume = [*BENCH, "--methods", "early", "--resume", "--output", str(folder.relative_to(cwd))]
    assert main(resume) == 0 and (folder / "results.json").is_file()
    shutil.rmtree(cwd / "intermodal-results")


# --- 5, 6. duplicated names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--methods", "early,early"], "methods lists early more than once"),
        (["--methods", "all,early"], "'all' already includes early"),
        (["--methods", "unimodal,unimodal[x1]"], "['unimodal[x1]'] more than once"),
        (["--methods", "early", "--modalities", "x1,x2,x1"], "modalities lists x1 more than once"),
        (["--methods", " , "], "methods is empty"),
    ],
)
def test_names_given_twice_are_refused(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trained: list[str],
) -> None:
    error = error_of([*BENCH, *arguments, "--output", str(tmp_path / "out")], capsys)
    assert message in error and trained == []


def test_names_given_twice_in_a_config_file_or_to_diagnose_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], diagnosed: list[str]
) -> None:
    config = tmp_path / "twice.yaml"
    config.write_text(yaml.safe_dump({"methods": ["early", "early"], "seeds": 1}))
    error = error_of(["bench", "--config", str(config)], capsys)
    assert str(config) in error and "methods lists early more than once" in error
    error = error_of(["diagnose", "--modalities", "fou,fou"], capsys)
    assert "--modalities names fou more than once" in error and diagnosed == []
    error = error_of(["align", "--views", "fou", "fou"], capsys)
    assert "--views names fou twice" in error


# --- 7. config files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- mfeat\n- early\n", "must hold a mapping of settings ('key: value' lines), got a list"),
        ("seeds: zero\n", "seeds must be an integer, got 'zero'"),
        ("epochs: 0\n", "epochs must be a positive integer, got 0"),
        ("report: maybe\n", "report must be true or false, got 'maybe'"),
        ("backbones: bert\n", "backbones must be a mapping"),
        ("output: [a, b]\n", "output must be a string"),
        ("", "is empty"),
        ("seeds: [1\n", "is not valid YAML at line 2"),
    ],
)
def test_a_bad_config_file_is_a_one_line_error_naming_the_file(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text(text)
    error = error_of(["bench", "--config", str(config)], capsys)
    assert str(config) in error and message in error


def test_data_sets_of_one_file_name_in_a_grid_do_not_share_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.csv").write_text("x,target\n1,0\n")
    config = tmp_path / "grid.yaml"
    datasets = [str(tmp_path / "a" / "data.csv"), str(tmp_path / "b" / "data.csv")]
    config.write_text(yaml.safe_dump({"dataset": datasets, "output": str(tmp_path / "out")}))
    error = error_of(["bench", "--config", str(config)], capsys)
    assert "share the results folder" in error and not (tmp_path / "out").exists()


# --- 8. the output path is checked before any training ------------------------------------------


def test_an_output_under_a_file_is_an_error_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "results"
    error = error_of([*BENCH, "--methods", "early", "--output", str(out)], capsys)
    assert f"cannot create the results folder {out}" in error and "is a file" in error
    assert trained == []
    # in a grid, the second benchmark's folder is checked before the first one trains
    (tmp_path / "grid").mkdir()
    (tmp_path / "grid" / "synthetic-unique").write_text("x")
    config = tmp_path / "grid.yaml"
    grid = {"dataset": ["synthetic-mixed", "synthetic-unique"], "output": str(tmp_path / "grid")}
    config.write_text(yaml.safe_dump({**grid, "methods": "early"}))
    error = error_of([*BENCH, "--config", str(config)], capsys)
    assert "synthetic-unique is a file" in error and trained == []


def test_an_unwritable_output_is_an_error_before_training(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trained: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    access = os.access  # root may write anywhere: answer for the locked folder as for a user

    def user_access(path: os.PathLike[str] | str, mode: int, **kwargs: object) -> bool:
        return Path(path) != locked and access(path, mode)

    monkeypatch.setattr(os, "access", user_access)
    try:
        error = error_of([*BENCH, "--methods", "early", "--output", str(locked / "r")], capsys)
        assert "cannot write" in error and "--output" in error and trained == []
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# --- 9. permissions follow the umask ---------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(folder: Path) -> set[tuple[str, int]]:
    """The (kind, permission bits) of everything under ``folder``."""
    return {
        ("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)) for p in folder.rglob("*")
    }


def test_results_and_models_follow_the_umask(tmp_path: Path, umask: None) -> None:
    out = tmp_path / "results"
    assert main([*BENCH, "--methods", "early", "--output", str(out)]) == 0
    assert (out / "models" / "early" / "model.safetensors").is_file()
    assert modes(out) == {("dir", 0o755), ("file", 0o644)}
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_atomic_writes_follow_the_umask(tmp_path: Path, umask: None) -> None:
    write_text_atomic(tmp_path / "a" / "notes.txt", "shared")

    def write(folder: Path) -> None:  # as a library that writes through a private file
        (folder / "weights").write_bytes(b"w")
        (folder / "weights").chmod(0o600)

    write_directory_atomic(tmp_path / "a" / "model", write, overwrite=False)
    assert modes(tmp_path / "a") == {("dir", 0o755), ("file", 0o644)}
    os.umask(0o077)
    write_text_atomic(tmp_path / "b" / "private.txt", "mine")
    assert stat.S_IMODE((tmp_path / "b" / "private.txt").stat().st_mode) == 0o600


# --- 10, 11. listings and --version --------------------------------------------------------------


@pytest.mark.parametrize("command", ["datasets", "methods"])
@pytest.mark.parametrize("columns", [None, "70"])
def test_listings_fit_the_terminal(
    command: str,
    columns: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from intermodal.bench import METHODS
    from intermodal.data.registry import DATASETS

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert main([command]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= (100 if columns is None else 70)
    names = DATASETS if command == "datasets" else METHODS
    starts = {line.split(":")[0].split()[0] for line in lines if not line.startswith(" ")}
    assert starts == set(names)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    version = importlib.metadata.version("intermodal")
    assert capsys.readouterr().out.strip() == f"intermodal {version}"
