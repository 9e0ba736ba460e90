"""Benchmarks on Ray: the same results as a local run, a killed worker's run retried, a failing
run reported. One local Ray instance (two CPUs) serves the whole module."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from intermodal.bench import (
    METHODS,
    BenchResult,
    register_method,
    run_benchmark,
    unregister_method,
)
from intermodal.bench.executors import _ray_run
from intermodal.bench.methods import build_unimodal
from intermodal.data import MultimodalDataset
from intermodal.training import RunContext
from tests.helpers import blobs

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

TIMES = ["train_time_s", "latency_ms"]
TITLE = f"ray::{_ray_run.__name__}"
"""The process title of a Ray worker while it runs one of the benchmark's tasks."""
HOLD = "hold"
"""While a file of this name lies in its folder, the ``held`` method waits before it builds."""
HOLD_MAX_S = 300.0
CATCH_S = 90.0


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """A local Ray instance for the module (``run_ray`` uses it rather than starting its own),
    whose workers run OpenMP with one thread. Its processes take their environment from this
    one when it starts; a ``runtime_env`` would give the same but make Ray replace the workers
    it starts in advance."""
    if ray.is_initialized():
        ray.shutdown()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="warning",
        )
    yield
    ray.shutdown()


def _stable(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=TIMES)


def assert_same_results(local: BenchResult, remote: BenchResult) -> None:
    """Equal run tables (apart from times) and equal seed-0 weights, bit for bit."""
    pd.testing.assert_frame_equal(_stable(local.runs), _stable(remote.runs))
    assert remote.models.keys() == local.models.keys()
    for name, model in local.models.items():
        weights = dict(model.state_dict())
        others = dict(remote.models[name].state_dict())
        assert weights.keys() == others.keys()
        for key, value in weights.items():
            torch.testing.assert_close(others[key], value, rtol=0, atol=0)


def record_attempt(folder: Path, context: RunContext) -> None:
    (folder / f"seed{context.seed}-pid{os.getpid()}").touch()


def attempts(folder: Path) -> dict[int, set[int]]:
    """The processes that built each seed, from the files :func:`record_attempt` leaves."""
    found: dict[int, set[int]] = {}
    for path in folder.glob("seed*-pid*"):
        seed, pid = path.name.removeprefix("seed").split("-pid")
        found.setdefault(int(seed), set()).add(int(pid))
    return found


def build_held(folder: str, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """Early fusion, built after recording the process and seed in ``folder`` and waiting while
    ``folder/hold`` exists (at most five minutes), so that a test can kill the run's worker
    while the run is in progress, however slow the machine."""
    root = Path(folder)
    record_attempt(root, context)
    deadline = time.monotonic() + HOLD_MAX_S
    while (root / HOLD).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return METHODS["early"].build(dataset, context)


class Failed(RuntimeError):
    pass


def build_failing(folder: str, dataset: MultimodalDataset, context: RunContext) -> nn.Module:
    """A unimodal model whose seed 1 fails; each attempt is recorded in ``folder``."""
    record_attempt(Path(folder), context)
    if context.seed == 1:
        raise Failed("seed 1 fails")
    return build_unimodal(dataset.select(dataset.modality_names[:1]), context)


@pytest.fixture
def tried(tmp_path: Path) -> Iterator[Path]:
    """The folder of attempts, with the methods ``held`` and ``failing`` registered on it."""
    folder = tmp_path / "attempts"
    folder.mkdir()
    register_method("held", "fusion", "early fusion held on request")(
        partial(build_held, str(folder))
    )
    register_method("failing", "unimodal", "fails on seed 1")(partial(build_failing, str(folder)))
    yield folder
    unregister_method("held")
    unregister_method("failing")


def test_ray_gives_the_results_of_a_local_run() -> None:
    data = blobs()
    settings = {
        "methods": "early,unimodal,linear,gbdt",
        "seeds": 2,
        "epochs": 3,
        "threads": 1,
        "progress": False,
        "report": False,
    }
    local = run_benchmark(data, jobs=1, **settings)
    remote = run_benchmark(data, backend="ray", jobs=2, **settings)
    assert len(remote.runs) == 5 * 2
    assert_same_results(local, remote)


def test_ray_tunes_as_a_local_run() -> None:
    """A tuned benchmark (a task per method: tuning, then its seeds stacked) gives on Ray the
    choices, runs and weights of a run in this process."""
    settings = {"methods": "early,linear", "seeds": 2, "epochs": 3, "patience": 2, "trials": 2}
    settings |= {"threads": 1, "progress": False, "report": False}
    local = run_benchmark(blobs(), jobs=1, **settings)
    remote = run_benchmark(blobs(), backend="ray", jobs=2, **settings)
    assert_same_results(local, remote)
    assert remote.tuning.keys() == {"early", "linear"}
    for name, record in local.tuning.items():
        assert remote.tuning[name]["params"] == record["params"]
        assert [t["mean"] for t in remote.tuning[name]["trials"]] == [
            t["mean"] for t in record["trials"]
        ]


def environment(name: str) -> str | None:
    return os.environ.get(name)


def test_the_workers_run_one_openmp_thread() -> None:
    assert ray.get(ray.remote(environment).remote("OMP_NUM_THREADS")) == "1"


def running_runs() -> dict[int, psutil.Process]:
    """The Ray worker processes that run a benchmark task now, by pid."""
    found = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join([process.info["name"] or "", *(process.info["cmdline"] or [])])
        if TITLE in title:
            found[process.pid] = process
    return found


def test_a_worker_killed_mid_run_is_retried(tmp_path: Path, tried: Path) -> None:
    """The runs of ``held`` wait in their builder while the hold file exists, so the worker of
    one is killed mid-run (it runs the benchmark's task and has started building) on any
    machine; its attempts show that another process built the run again."""
    data = blobs()
    settings = {
        "methods": "held,unimodal[a]",
        "seeds": 2,
        "epochs": 3,
        "threads": 1,
        "progress": False,
        "report": False,
    }
    local = run_benchmark(data, jobs=1, **settings)
    for path in tried.iterdir():
        path.unlink()
    (tried / HOLD).touch()
    with ThreadPoolExecutor(1) as pool:
        try:
            future = pool.submit(
                run_benchmark,
                data,
                backend="ray",
                jobs=2,
                output=str(tmp_path / "results"),
                **settings,
            )
            deadline = time.monotonic() + CATCH_S
            while True:
                builders = {pid: seed for seed, pids in attempts(tried).items() for pid in pids}
                caught = [p for pid, p in running_runs().items() if pid in builders]
                if caught:
                    break
                if future.done():
                    future.result()
                    pytest.fail("the benchmark finished before any of its runs was held")
                if time.monotonic() > deadline:
                    pytest.fail(f"no Ray worker ran a held run ({TITLE}) within {CATCH_S} s")
                time.sleep(0.02)
            victim = caught[0]
            seed = builders[victim.pid]
            victim.send_signal(signal.SIGKILL)
            _, alive = psutil.wait_procs([victim], timeout=10)
            assert not alive, f"the worker {victim.pid} survived SIGKILL"
        finally:
            (tried / HOLD).unlink(missing_ok=True)
        remote = future.result(timeout=HOLD_MAX_S)
    builders_of = attempts(tried)
    assert victim.pid in builders_of[seed] and len(builders_of[seed]) == 2, (
        f"seed {seed} of held was built by {builders_of[seed]}: its run was not retried after "
        f"worker {victim.pid} was killed"
    )
    assert all(len(pids) == 1 for other, pids in builders_of.items() if other != seed)
    assert len(remote.runs) == 2 * 2
    assert len(list((tmp_path / "results" / "runs").glob("*.json"))) == 2 * 2
    assert_same_results(local, remote)


def test_a_failing_run_on_ray_raises_its_error_and_keeps_the_finished_runs(
    tmp_path: Path, tried: Path
) -> None:
    results = tmp_path / "results"
    with pytest.raises(Failed, match="seed 1 fails"):
        run_benchmark(
            blobs(),
            methods="early,failing",
            seeds=2,
            epochs=3,
            trials=0,  # one task per run (tuned, a method's seeds finish together)
            backend="ray",
            jobs=2,
            threads=1,
            output=str(results),
            progress=False,
            report=False,
        )
    saved = {path.name for path in (results / "runs").glob("*.json")}
    # every finished run is kept; whether early's seed 1 ran before the failure depends on the
    # order the runs were taken in
    assert {"early__seed0.json", "failing__seed0.json"} <= saved
    assert saved <= {"early__seed0.json", "failing__seed0.json", "early__seed1.json"}
    assert {seed: len(pids) for seed, pids in attempts(tried).items()} == {0: 1, 1: 1}, (
        "an error raised by a run is not retried"
    )
