"""Where the runs of a benchmark train: in this process, in worker processes, or on Ray.

A run is one (method, seed) pair (a (method, seed, fold) triple under K-fold cross-validation).
Every executor calls :func:`run_task` with the same arguments, and a run seeds everything it
uses from its seed, so the results do not depend on the executor (for the same number of
threads per run). Finished runs come back one at a time, so the caller
saves each at once and an interrupted benchmark loses no finished run.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from torch import Tensor, nn
from tqdm import tqdm

from intermodal.bench.analyses import AnalysisSettings, model_analyses
from intermodal.bench.crossval import replicate_split, with_fold
from intermodal.bench.registry import Job
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.missing import hide_at_random
from intermodal.data.preprocessing import Preprocessor
from intermodal.data.splits import DataSplits
from intermodal.interrupts import exit_with_main, release_workers
from intermodal.training.context import RunContext


@dataclass(frozen=True)
class Task:
    """One run: ``job`` trained with ``context`` (its seed draws the split); with ``analyse``,
    the report's per-model analyses of the trained model follow in the same process. Under
    K-fold cross-validation, ``fold`` of ``folds`` (see :mod:`intermodal.bench.crossval`)."""

    job: Job
    context: RunContext
    sentiment: bool = False
    train_missing: float = 0.0
    analyse: AnalysisSettings | None = None
    fold: int | None = None
    folds: int | None = None

    @property
    def label(self) -> str:
        fold = "" if self.fold is None else f" f{self.fold}"
        return f"{self.job.name} s{self.context.seed}{fold}"


Result = tuple[dict[str, Any], nn.Module, Tensor, dict[str, Any]]
"""What a run gives: its result row, its trained model, its test outputs and the per-model
analyses of its model (empty unless the task asks for them)."""
Outcome = tuple[Task, dict[str, Any], nn.Module, Tensor, dict[str, Any]]
"""A finished run: its task and its :data:`Result`."""


def run_task(
    dataset: MultimodalDataset, task: Task, splits: dict[tuple[int, int | None], DataSplits]
) -> Result:
    """Train and test one run (see :func:`intermodal.bench.runner.run_job`), then, with
    ``task.analyse``, analyse its model (see :func:`intermodal.bench.analyses.model_analyses`);
    ``splits`` caches the standardized split of each (seed, fold). A run of a fold has its
    ``fold`` in its row."""
    from intermodal.bench.runner import run_job

    key = (task.context.seed, task.fold)
    if key not in splits:
        splits[key] = prepare_splits(dataset, key[0], task.train_missing, task.fold, task.folds)
    row, model, outputs = run_job(task.job, splits[key], task.context, task.sentiment)
    analysed = {}
    if task.analyse is not None:
        analysed = model_analyses(task.job.family, model, splits[key].test, task.analyse)
    return with_fold(row, task.fold), model, outputs, analysed


def prepare_splits(
    dataset: MultimodalDataset,
    seed: int,
    train_missing: float = 0.0,
    fold: int | None = None,
    folds: int | None = None,
) -> DataSplits:
    """The split of ``seed`` (or its fold ``fold`` of ``folds``, see
    :func:`~intermodal.bench.crossval.replicate_split`) preprocessed with
    :func:`split_preprocessor` (standardized with its training part's statistics); with
    ``train_missing``, each modality of each training sample is hidden with that probability
    (at least one kept), seeded by ``seed``."""
    raw = replicate_split(dataset, seed, fold, folds)
    splits = Preprocessor.fit(raw.train).transform_splits(raw)
    if train_missing > 0:
        train = hide_at_random(splits.train, train_missing, seed=seed)
        splits = DataSplits(train, splits.val, splits.test)
    return splits


def split_preprocessor(
    dataset: MultimodalDataset, seed: int, fold: int | None = None, folds: int | None = None
) -> Preprocessor:
    """The preprocessing of the runs of ``seed`` (and ``fold``), fitted on the training part of
    its split: what a model of those runs is saved with, so that it reads raw data."""
    return Preprocessor.fit(replicate_split(dataset, seed, fold, folds).train)


_WORKER: dict[str, Any] = {}
"""A worker process's data set and split cache."""


def _worker_init(dataset: MultimodalDataset, threads: int, main_alive: Connection) -> None:
    exit_with_main(main_alive)
    # progress bars lock among this process's threads only: no system semaphore, which a
    # worker that is stopped mid-run would leave to the resource tracker (and its warning)
    tqdm.set_lock(threading.RLock())
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(dataset=dataset, splits={})


def _worker_run(task: Task) -> Result:
    return run_task(_WORKER["dataset"], task, _WORKER["splits"])


def next_task(queue: list[Task], seconds: dict[str, float]) -> Task:
    """Take the next run from ``queue``: one of a method whose training time is not known yet
    (in queue order), else one of the method that took longest (``seconds`` by method name, from
    its finished runs). Long runs start early, so the workers finish together instead of one
    waiting for the other's last long run; the results do not depend on the order."""
    chosen = max(queue, key=lambda task: seconds.get(task.job.name, float("inf")))
    queue.remove(chosen)
    return chosen


def _worker_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes, forked from a server process that has imported intermodal and
    PyTorch once (the ``forkserver`` method, where the platform has it): a new pool starts in a
    fraction of a second instead of importing everything again in each worker. Like ``spawn``,
    workers share no state with the calling process; the main module is imported as with
    ``spawn``, so methods registered there are known to the workers. Elsewhere, ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # torch._dynamo: PyTorch's optimizers import it when first built (about 2 s)
    context.set_forkserver_preload(["__main__", "intermodal.bench.runner", "torch._dynamo"])
    return context


def run_serial(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    running: Callable[[list[str]], None] | None = None,
    **_: Any,
) -> Iterator[Outcome]:
    """Each run in this process, in order."""
    splits: dict[tuple[int, int | None], DataSplits] = {}
    for task in tasks:
        if running is not None:
            running([task.label])
        yield task, *run_task(dataset, task, splits)


def run_processes(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    workers: int,
    threads: int,
    running: Callable[[list[str]], None] | None = None,
) -> Iterator[Outcome]:
    """Runs in ``workers`` spawned processes with ``threads`` intra-op threads each. The data set
    is sent to each worker once; finished runs are yielded as they complete. When a run fails,
    no new run starts, the runs in progress finish (and are yielded), then the error is
    raised. An exception here (Ctrl-C, :class:`~intermodal.interrupts.Terminated`) stops
    the workers; a worker exits by itself when this process dies without stopping it (see
    :func:`~intermodal.interrupts.exit_with_main`)."""
    context = _worker_context()
    main_alive, alive = context.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(dataset, threads, main_alive),
    )
    pending: dict[Future[Result], Task] = {}
    queue = list(tasks)
    seconds: dict[str, float] = {}
    failure: BaseException | None = None
    try:
        while queue or pending:
            while queue and failure is None and len(pending) < workers:
                task = next_task(queue, seconds)
                pending[pool.submit(_worker_run, task)] = task
            if running is not None:
                running([t.label for t in pending.values()])
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error  # let the runs in progress finish, then raise
                    continue
                outcome = future.result()
                seconds[task.job.name] = outcome[0]["train_time_s"]
                yield task, *outcome
            if failure is not None and not pending:
                raise failure
    finally:
        if pending:  # stopped: the workers exit now, then the pool is shut down
            release_workers(alive, workers)
        pool.shutdown(wait=True, cancel_futures=True)
        release_workers(alive, 0)
        main_alive.close()


def run_ray(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    workers: int,
    threads: int,
    running: Callable[[list[str]], None] | None = None,
    retries: int = 3,
) -> Iterator[Outcome]:
    """Runs as Ray tasks, each with ``threads`` CPUs, at most ``workers`` at a time (0: as many
    as the cluster holds). Connects to the cluster in ``RAY_ADDRESS`` or starts a local Ray
    instance; a task whose worker dies is retried up to ``retries`` times by Ray."""
    ray = import_ray()
    if not tasks:
        return
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            include_dashboard=False,
            log_to_driver=False,
            logging_level="warning",
        )
    remote = ray.remote(num_cpus=threads, max_retries=retries)(_ray_run)
    data = ray.put(dataset)
    queue = list(tasks)
    pending: dict[Any, Task] = {}
    seconds: dict[str, float] = {}
    limit = workers or len(queue)
    failure: BaseException | None = None
    try:
        while queue or pending:
            while queue and failure is None and len(pending) < limit:
                task = next_task(queue, seconds)
                pending[remote.remote(data, task, threads)] = task
            if running is not None:
                running([t.label for t in pending.values()])
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the run raised
                    failure = failure or error.as_instanceof_cause()
                    continue
                except ray.exceptions.RayError as error:  # its worker died more than retries
                    failure = failure or error
                    continue
                seconds[task.job.name] = outcome[0]["train_time_s"]
                yield task, *outcome
            if failure is not None and not pending:
                raise failure
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _ray_run(dataset: MultimodalDataset, task: Task, threads: int) -> Result:
    import torch

    torch.set_num_threads(threads)
    return run_task(dataset, task, {})


def import_ray() -> Any:
    """The ``ray`` module, or an error that says which extra installs it."""
    try:
        import ray
    except ImportError:
        raise ImportError("--backend ray needs Ray: pip install 'intermodal[ray]'") from None
    return ray
