"""Termination signals stop a benchmark as Ctrl-C does, and the worker processes follow a main
process that dies without stopping them."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

import intermodal
from intermodal.cli import main
from intermodal.interrupts import (
    Terminated,
    exit_code,
    exit_with_main,
    release_workers,
    signals_as_interrupts,
)


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


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes among ``processes`` that still run (zombies have ended)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            continue
    return running


@pytest.fixture
def parallel_bench(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[str], Path]]]:
    """Start ``intermodal bench --jobs 2`` on a small CSV in a process of its own, with runs
    long enough that some are in progress when the test acts; every process it leaves is
    killed at the end."""
    started: list[psutil.Process] = []

    def start() -> tuple[subprocess.Popen[str], Path]:
        data = write_blobs(tmp_path / "blobs.csv")
        output = tmp_path / "results"
        source = str(Path(intermodal.__file__).parents[1])
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": source}
        argv = [sys.executable, "-m", "intermodal.cli", "bench", "--dataset", str(data)]
        argv += ["--methods", "early,unimodal", "--seeds", "3", "--epochs", "200"]
        argv += ["--patience", "200", "--jobs", "2", "--threads", "1", "--quiet"]
        argv += ["--no-report", "--output", str(output)]
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        started.append(psutil.Process(process.pid))
        return process, output

    yield start
    for process in started:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for member in family:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def caught_signals() -> Iterator[list[int]]:
    """SIGTERM and SIGHUP sent to this process by a test end up here, not in the test run's
    death, if the code under test fails to handle them; the previous handlers come back."""
    caught: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, frame: caught.append(number))
        for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    yield caught
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def a_run_is_saved(output: Path) -> bool:
    return (output / "runs").is_dir() and any((output / "runs").glob("*.json"))


def test_sigterm_stops_a_parallel_bench_like_ctrl_c_and_leaves_no_process(
    parallel_bench: Callable[[], tuple[subprocess.Popen[str], Path]],
) -> None:
    bench, output = parallel_bench()
    wait_until(lambda: a_run_is_saved(output), 180, "a finished run")
    family = psutil.Process(bench.pid).children(recursive=True)
    workers = [p for p in family if "forkserver" in " ".join(p.cmdline())]
    assert len(workers) >= 3  # the forkserver and the two workers forked from it
    bench.send_signal(signal.SIGTERM)
    _, error = bench.communicate(timeout=60)
    assert bench.returncode == 128 + signal.SIGTERM == 143
    lines = error.strip().splitlines()
    assert len(lines) == 1, error  # one line: no traceback, no warning of leaked semaphores
    saved = sorted((output / "runs").glob("*.json"))
    count = f"{len(saved)} finished run{'s are' if len(saved) > 1 else ' is'}"
    assert lines[0] == (
        f"intermodal bench: stopped by SIGTERM; {count} saved in {output / 'runs'}: run the "
        "same command with --resume to continue (saved runs are not trained again)"
    )
    wait_until(lambda: not alive(family), 10, "the end of every process of the benchmark")
    for path in saved:  # whole files only
        assert json.loads(path.read_text())["epochs"] >= 1
        assert path.with_suffix(".npy").is_file()


def test_workers_exit_when_the_main_process_is_killed(
    parallel_bench: Callable[[], tuple[subprocess.Popen[str], Path]],
) -> None:
    """SIGKILL (or the out-of-memory killer) gives the main process no chance to clean up; its
    workers, whose parent is the forkserver, notice and exit."""
    bench, output = parallel_bench()
    wait_until(lambda: a_run_is_saved(output), 180, "a finished run")
    family = psutil.Process(bench.pid).children(recursive=True)
    assert len(family) >= 3
    bench.kill()
    _, error = bench.communicate(timeout=60)
    assert bench.returncode == -signal.SIGKILL
    wait_until(lambda: not alive(family), 10, "the end of every process of the benchmark")
    assert "the benchmark's main process has ended; exiting" in error


def test_sighup_while_training_says_what_was_saved(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caught_signals: list[int],
) -> None:
    """SIGHUP (a closed terminal) mid-run, in this process: the finished run is kept, the message
    says how to resume, the exit code is 129 and the previous handler is back."""
    import intermodal.bench.executors as executors

    original = executors.run_task
    started: list[str] = []

    def hang_up_in_second_run(dataset: Any, task: Any, splits: Any) -> Any:
        started.append(task.label)
        if len(started) == 2:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(30)  # the signal's exception ends this at once
        return original(dataset, task, splits)

    monkeypatch.setattr(executors, "run_task", hang_up_in_second_run)
    out = tmp_path / "results"
    argv = ["bench", "--dataset", str(write_blobs(tmp_path / "blobs.csv")), "--jobs", "1"]
    argv += ["--methods", "early,late-mean", "--seeds", "1", "--epochs", "2", "--quiet"]
    argv += ["--no-report", "--output", str(out)]
    before = signal.getsignal(signal.SIGHUP)
    capsys.readouterr()
    assert main(argv) == 129
    assert signal.getsignal(signal.SIGHUP) is before
    error = capsys.readouterr().err
    assert error == (
        f"intermodal bench: stopped by SIGHUP; 1 finished run is saved in {out / 'runs'}: run "
        "the same command with --resume to continue (saved runs are not trained again)\n"
    )
    assert caught_signals == []  # the command's own handler took it
    started.clear()
    assert main([*argv, "--resume"]) == 0 and started == ["late-mean s0"]


def test_the_first_signal_raises_and_later_ones_are_ignored_until_the_block_ends(
    caught_signals: list[int],
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    caught = []
    with signals_as_interrupts():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except KeyboardInterrupt as stop:  # Terminated is a KeyboardInterrupt
            caught.append(stop)
        os.kill(os.getpid(), signal.SIGTERM)  # while cleaning up: ignored
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) is before and caught_signals == []
    (stop,) = caught
    assert isinstance(stop, Terminated) and stop.signum == signal.SIGTERM
    assert exit_code(stop) == 143 and exit_code(KeyboardInterrupt()) == 130


def _watched(main_alive: Connection, alive: Connection) -> None:
    alive.close()  # a forked child inherits the writing end: only the parent may hold it
    exit_with_main(main_alive)
    time.sleep(60)


@pytest.mark.parametrize("goodbye", [False, True])
def test_a_watched_worker_exits_when_the_main_process_goes(
    goodbye: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    """The end of the pipe (the main process is gone) or a goodbye on it ends the worker in a
    moment; only the first says so."""
    context = multiprocessing.get_context("fork")
    main_alive, alive = context.Pipe(duplex=False)
    child = context.Process(target=_watched, args=(main_alive, alive))
    child.start()
    main_alive.close()
    capfd.readouterr()
    if goodbye:
        release_workers(alive, 1)
    else:
        alive.close()  # as when this process ends
    child.join(10)
    assert child.exitcode == 1
    said = capfd.readouterr().err
    assert ("the benchmark's main process has ended; exiting" in said) is not goodbye
