"""The results folder: one benchmark at a time writes it (an OS lock), a benchmark that ends
before its first saved run leaves it as it was, and a corrupt results.json is rebuilt by a
resume without training."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from intermodal.bench import ResultsFolder, register_method, unregister_method
from intermodal.bench.results import LOCK
from intermodal.cli import main
from intermodal.data import MultimodalDataset
from intermodal.training import RunContext

QUICK = ["--methods", "early", "--seeds", "1", "--epochs", "2", "--jobs", "1", "--quiet"]
QUICK += ["--no-report"]


def write_blobs(path: Path, per_class: int = 40, seed: int = 0) -> Path:
    """A CSV of three classes with two vector modalities ``a`` (4 features) and ``b`` (3)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), per_class)
    frame = pd.DataFrame({"target": y})
    for name, width in (("a", 4), ("b", 3)):
        values = rng.normal(size=(3, width))[y] * 2 + rng.normal(size=(len(y), width))
        for i in range(width):
            frame[f"{name}.{i}"] = values[:, i]
    frame.to_csv(path, index=False)
    return path


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``, hidden ones included, with the bytes of each file."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the runs that start training."""
    import intermodal.bench.executors as executors

    started: list[str] = []
    original = executors.run_task

    def spy(dataset: Any, task: Any, splits: Any) -> Any:
        started.append(task.label)
        return original(dataset, task, splits)

    monkeypatch.setattr(executors, "run_task", spy)
    return started


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a command that exits with code 2."""
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


# --- the lock ------------------------------------------------------------------------------


def test_a_second_benchmark_into_a_folder_in_use_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    data = str(write_blobs(tmp_path / "blobs.csv"))
    out = tmp_path / "results"
    argv = ["bench", "--dataset", data, *QUICK, "--output", str(out)]
    holder = ResultsFolder(out)  # another benchmark's open folder (its own descriptor)
    before = tree(out)
    assert LOCK in before
    for extra in ([], ["--resume"], ["--overwrite"]):
        error = refused([*argv, *extra], capsys)
        assert error == (
            f"intermodal bench: error: {out} is in use by another benchmark (process "
            f"{os.getpid()}), which writes its results there; wait for it to finish, or choose "
            "another --output\n"
        )
    assert trained == [] and tree(out) == before
    holder.close()
    assert main(argv) == 0 and trained == ["early s0"]
    assert not (out / LOCK).exists()  # released, and its file removed


def test_the_lock_of_a_process_that_died_is_released_by_the_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    """Another process holds the folder's lock with flock (as a benchmark does); while it lives
    the folder is refused, and once it is killed the same command runs, the stale lock file
    being no file of the results."""
    out = tmp_path / "results"
    out.mkdir()
    hold = (
        "import fcntl, os, sys, time\n"
        f"handle = os.open({str(out / LOCK)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(handle, fcntl.LOCK_EX)\n"
        "os.write(handle, str(os.getpid()).encode())\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        data = str(write_blobs(tmp_path / "blobs.csv"))
        argv = ["bench", "--dataset", data, *QUICK, "--output", str(out)]
        error = refused(argv, capsys)
        assert f"{out} is in use by another benchmark (process {holder.pid})" in error
        assert trained == [] and sorted(p.name for p in out.iterdir()) == [LOCK]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / LOCK).is_file()  # a crash leaves the file, not the lock
    assert main(argv) == 0 and trained == ["early s0"]
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "results.json").is_file() and not (out / LOCK).exists()


def test_two_descriptors_of_one_lock_file_exclude_each_other(tmp_path: Path) -> None:
    """The lock is the system's (flock on the file's open description), not this module's
    bookkeeping: a descriptor opened independently cannot take it while a folder holds it."""
    folder = ResultsFolder(tmp_path / "results")
    other = os.open(tmp_path / "results" / LOCK, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert os.read(other, 100).decode().strip() == str(os.getpid())
        folder.close()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the folder is closed
    finally:
        os.close(other)


# --- a benchmark refused before its first run leaves the folder as it was ------------------


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("one-sample", "class 3 has only 1 samples"),
        ("five-rows", "class 0 has only 2 samples"),
    ],
)
def test_a_refused_data_set_leaves_no_folder_and_the_fixed_command_works(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trained: list[str],
    rows: str,
    message: str,
) -> None:
    good = pd.read_csv(write_blobs(tmp_path / "good.csv"))
    bad = (
        pd.concat([good, good.iloc[:1].assign(target=3)], ignore_index=True)
        if rows == "one-sample"
        else good.iloc[[0, 1, 40, 41, 80]]
    )
    data = tmp_path / "data.csv"
    bad.to_csv(data, index=False)
    out = tmp_path / "new" / "deeper" / "results"  # its parents are created, then removed
    argv = ["bench", "--dataset", str(data), *QUICK, "--output", str(out)]
    assert message in refused(argv, capsys)
    assert not (tmp_path / "new").exists() and trained == []
    good.to_csv(data, index=False)  # fixed: the same command simply works
    assert main(argv) == 0 and trained == ["early s0"]
    assert (out / "results.json").is_file()


def test_a_refused_benchmark_leaves_an_existing_folder_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    good = write_blobs(tmp_path / "good.csv")
    one = pd.read_csv(good)
    one = pd.concat([one, one.iloc[:1].assign(target=3)], ignore_index=True)
    one.to_csv(tmp_path / "one.csv", index=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["bench", "--dataset", str(tmp_path / "one.csv"), *QUICK]
    refused([*argv, "--output", str(empty)], capsys)
    assert tree(empty) == {}  # no lock file, no settings.json
    results = tmp_path / "results"
    assert main(["bench", "--dataset", str(good), *QUICK, "--output", str(results)]) == 0
    (results / ".DS_Store").write_bytes(b"")
    before = tree(results)
    trained.clear()
    refused([*argv, "--output", str(results), "--overwrite"], capsys)
    assert tree(results) == before and trained == []


@pytest.fixture
def failing_method() -> Iterator[str]:
    """A method whose model cannot be built: it fails after the folder is bound, before any
    run finishes."""

    def build(dataset: MultimodalDataset, context: RunContext) -> Any:
        raise ValueError("this method cannot be built")

    register_method("unbuildable", "unimodal", "fails when built")(build)
    yield "unbuildable"
    unregister_method("unbuildable")


def test_a_benchmark_that_fails_before_its_first_saved_run_is_undone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], failing_method: str
) -> None:
    """settings.json is written and the results of ``--overwrite`` set aside; the failure of the
    first run puts the old results back, byte for byte, and a new folder is removed."""
    data = str(write_blobs(tmp_path / "blobs.csv"))
    out = tmp_path / "results"
    assert main(["bench", "--dataset", data, *QUICK, "--output", str(out)]) == 0
    before = tree(out)
    argv = ["bench", "--dataset", data, *QUICK, "--methods", failing_method]
    assert "cannot be built" in refused([*argv, "--output", str(out), "--overwrite"], capsys)
    assert tree(out) == before
    assert "cannot be built" in refused([*argv, "--output", str(tmp_path / "new")], capsys)
    assert not (tmp_path / "new").exists()


def test_ctrl_c_before_the_first_run_finishes_leaves_the_folder_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import intermodal.bench.executors as executors

    data = str(write_blobs(tmp_path / "blobs.csv"))
    out = tmp_path / "results"
    argv = ["bench", "--dataset", data, *QUICK, "--output", str(out)]
    assert main(argv) == 0
    before = tree(out)

    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(executors, "run_task", interrupted)
    capsys.readouterr()
    assert main([*argv, "--overwrite"]) == 130
    assert capsys.readouterr().err == (
        f"intermodal bench: interrupted before any run finished; {out} is left as it was\n"
    )
    assert tree(out) == before
    assert main([*argv[:-1], str(tmp_path / "new")]) == 130
    assert not (tmp_path / "new").exists()


def test_a_settings_file_alone_is_no_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    """A benchmark killed before its first saved run (no chance to undo) leaves settings.json
    alone; it holds no result, so a new benchmark, or a resume with other settings, takes the
    folder without --overwrite."""
    data = str(write_blobs(tmp_path / "blobs.csv"))
    out = tmp_path / "results"
    argv = ["bench", "--dataset", data, *QUICK, "--output", str(out)]
    assert main(argv) == 0
    settings = json.loads((out / "settings.json").read_text())
    left = tmp_path / "left"
    left.mkdir()
    (left / "settings.json").write_text(json.dumps({**settings, "samples": 151}))
    trained.clear()
    assert main([*argv[:-1], str(left)]) == 0 and trained == ["early s0"]
    assert json.loads((left / "settings.json").read_text())["samples"] == 120
    for entry in out.iterdir():  # all but settings.json, as a killed benchmark leaves it
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (out / "settings.json").write_text(json.dumps({**settings, "epochs": 7}))
    trained.clear()
    assert main([*argv, "--resume"]) == 0 and trained == ["early s0"]
    assert json.loads((out / "settings.json").read_text())["epochs"] == 2


# --- a corrupt results.json ----------------------------------------------------------------


def test_report_on_a_truncated_results_json_advises_a_resume_that_rebuilds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trained: list[str]
) -> None:
    data = str(write_blobs(tmp_path / "blobs.csv"))
    out = tmp_path / "results"
    argv = ["bench", "--dataset", data, "--methods", "early,late-mean", "--seeds", "2"]
    argv += ["--epochs", "2", "--jobs", "1", "--quiet", "--no-report", "--output", str(out)]
    assert main(argv) == 0
    whole = json.loads((out / "results.json").read_text())
    runs = {p.name: p.read_bytes() for p in (out / "runs").iterdir()}
    text = (out / "results.json").read_text()
    (out / "results.json").write_text(text[: len(text) // 2])
    error = refused(["report", str(out)], capsys)
    assert "results.json is corrupt" in error
    assert f"run the same intermodal bench command with --resume --output {out}" in error
    trained.clear()
    assert main([*argv, "--resume"]) == 0
    assert trained == []  # rebuilt from the saved runs, without training
    assert {p.name: p.read_bytes() for p in (out / "runs").iterdir()} == runs
    rebuilt = json.loads((out / "results.json").read_text())
    assert rebuilt["runs"] == whole["runs"] and rebuilt["leaderboard"] == whole["leaderboard"]
    assert main(["report", str(out)]) == 0
