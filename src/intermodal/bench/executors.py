"""Where the runs of a benchmark train: in this process, in worker processes, or on Ray.

A run is one (method, seed) pair, or a (method, seed, fold) triple under K-fold
cross-validation. A task is the runs that train together: one run when the methods are not
tuned (``trials`` 0), else every seed of a method (of one fold) still to run, tuned first on the
first seed's training and validation data and then trained together
(:func:`~intermodal.training.stacked.fit_many`: stacked where it stacks). Every executor
calls :func:`run_task` with the same arguments, and a task seeds everything it uses from its
seeds, so the results do not depend on the executor (for the same number of threads per run).
Finished tasks come back one at a time, so the caller saves each of their runs at once and an
interrupted benchmark loses no finished run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queues
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """The runs of ``job`` that train together: with ``context`` (its seed, or each of
    ``seeds`` in its place; every seed draws its split). With ``trials`` > 0 the method is
    tuned first on the training and validation data of seed ``first`` (default: the first of
    the seeds) with that budget, unless ``params`` gives the setting already chosen (a resumed
    benchmark's saved tuning record); its seeds then train together with the chosen
    setting (``fit_many``). With ``analyse``, the report's per-model analyses of the model of seed
    ``first`` follow in the same process. ``metric`` ranks the trials (default: the task's
    primary metric). Under K-fold cross-validation, the runs are those of ``fold`` of
    ``folds`` (see :mod:`intermodal.bench.crossval`): each fold tunes on its own training
    part."""

    job: Job
    context: RunContext
    sentiment: bool = False
    train_missing: float = 0.0
    analyse: AnalysisSettings | None = None
    fold: int | None = None
    folds: int | None = None
    seeds: tuple[int, ...] = ()
    trials: int = 0
    params: Mapping[str, Any] | None = None
    first: int | None = None
    metric: str | None = None

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds of the task's runs, in order."""
        return self.seeds or (self.context.seed,)

    @property
    def first_seed(self) -> int:
        """The seed whose data tuning reads and whose model is analysed."""
        return self.run_seeds[0] if self.first is None else self.first

    @property
    def tunes(self) -> bool:
        """Whether the task tunes its method (trials, and no setting chosen before)."""
        return self.trials > 0 and self.params is None

    @property
    def fold_label(self) -> str:
        return "" if self.fold is None else f" f{self.fold}"

    @property
    def label(self) -> str:
        seeds = self.run_seeds
        if len(seeds) == 1:
            return f"{self.job.name} s{seeds[0]}{self.fold_label}"
        consecutive = list(seeds) == list(range(seeds[0], seeds[0] + len(seeds)))
        listed = f"{seeds[0]}-{seeds[-1]}" if consecutive else ",".join(map(str, seeds))
        return f"{self.job.name} s{listed}{self.fold_label}"


Result = tuple[dict[str, Any], nn.Module, Tensor, dict[str, Any]]
"""What a run gives: its result row, its trained model, its test outputs and the per-model
analyses of its model (empty unless the task asks for them)."""


@dataclass
class TaskResult:
    """What a task gives: one :data:`Result` per seed (in ``Task.run_seeds`` order) and, where
    it tuned, the tuning record (:meth:`~intermodal.tuning.TuningResult.as_dict`)."""

    runs: list[Result]
    tuning: dict[str, Any] | None = None
    seconds: float = 0.0


Outcome = tuple[Task, TaskResult]
"""A finished task and what it gave."""

Status = Callable[[str, str], None]
"""``status(task label, what it does now)``: e.g. ``("early s0-2", "tuning early")``."""

_STATUS: list[Status] = []
"""Where :func:`run_task` reports what it does (set by the executors; empty: nowhere)."""


def _report(task: Task, text: str) -> None:
    for status in _STATUS:
        status(task.label, text)


def run_task(
    dataset: MultimodalDataset, task: Task, splits: dict[tuple[int, int | None], DataSplits]
) -> TaskResult:
    """Train and test the runs of ``task``: tune its method where it asks (see
    :func:`intermodal.bench.runner.tune_job`), then train every seed with the chosen setting
    (:func:`intermodal.bench.runner.run_jobs`: one stacked model where they stack; one run:
    :func:`intermodal.bench.runner.run_job`), then, with ``task.analyse``, analyse the model of
    seed ``task.first_seed`` (see :func:`intermodal.bench.analyses.model_analyses`);
    ``splits`` caches the standardized split of each (seed, fold); a run of a fold has its
    ``fold`` in its row."""
    from intermodal.bench.runner import describe_params, run_job, run_jobs, tune_job

    started = time.perf_counter()
    seeds = task.run_seeds
    fold, folds = task.fold, task.folds
    for seed in seeds:
        if (seed, fold) not in splits:
            splits[seed, fold] = prepare_splits(dataset, seed, task.train_missing, fold, folds)
    record = None
    params: Mapping[str, Any] | None = task.params
    if task.tunes:
        _report(task, f"tuning {task.job.name}")
        raw = replicate_split(dataset, task.first_seed, fold, folds)
        if task.train_missing > 0:
            hidden = hide_at_random(raw.train, task.train_missing, seed=task.first_seed)
            raw = DataSplits(hidden, raw.val, raw.test)
        context = task.context.with_(seed=task.first_seed)
        result = tune_job(task.job, raw, context, task.trials, task.metric)
        record, params = result.as_dict(), result.params
        _report(task, task.label)
    if task.trials == 0:
        outcomes = [
            run_job(task.job, splits[seed, fold], task.context.with_(seed=seed), task.sentiment)
            for seed in seeds
        ]
    else:
        contexts = [task.context.with_(seed=seed) for seed in seeds]
        outcomes = run_jobs(
            task.job, [splits[seed, fold] for seed in seeds], contexts, params or {}, task.sentiment
        )
        for row, _, _ in outcomes:
            row["params"] = describe_params(params or {})
    runs: list[Result] = []
    for seed, (row, model, outputs) in zip(seeds, outcomes, strict=True):
        analysed = {}
        if task.analyse is not None and seed == task.first_seed:
            test = splits[seed, fold].test
            analysed = model_analyses(task.job.family, model, test, task.analyse)
        runs.append((with_fold(row, fold), model, outputs, analysed))
    return TaskResult(runs, record, time.perf_counter() - started)


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


def _worker_init(
    dataset: MultimodalDataset,
    threads: int,
    main_alive: Connection,
    status: Any = None,
) -> None:
    exit_with_main(main_alive)
    if status is not None:  # what a task does now goes to the main process's progress bar
        _STATUS[:] = [lambda label, text: status.put((label, text))]
    # progress bars lock among this process's threads only: no system semaphore, which a
    # worker that is stopped mid-run would leave to the resource tracker (and its warning)
    tqdm.set_lock(threading.RLock())
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(dataset=dataset, splits={})


def _worker_run(task: Task) -> TaskResult:
    return run_task(_WORKER["dataset"], task, _WORKER["splits"])


def next_task(queue: list[Task], seconds: dict[str, float]) -> Task:
    """Take the next task from ``queue``: one of a method whose time is not known yet (in queue
    order), else one of the method that took longest (``seconds`` by method name, from its
    finished tasks). Long tasks start early, so the workers finish together instead of one
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


def _labels(pending: Sequence[Task], doing: Mapping[str, str]) -> list[str]:
    """What each task in progress does now (its label, or ``tuning METHOD`` while it tunes)."""
    return [doing.get(task.label, task.label) for task in pending]


def run_serial(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    running: Callable[[list[str]], None] | None = None,
    **_: Any,
) -> Iterator[Outcome]:
    """Each task in this process, in order."""
    splits: dict[tuple[int, int | None], DataSplits] = {}
    before = list(_STATUS)
    if running is not None:
        _STATUS[:] = [lambda _, text: running([text])]
    try:
        for task in tasks:
            if running is not None:
                running([task.label])
            yield task, run_task(dataset, task, splits)
    finally:
        _STATUS[:] = before


def run_processes(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    workers: int,
    threads: int,
    running: Callable[[list[str]], None] | None = None,
) -> Iterator[Outcome]:
    """Tasks in ``workers`` spawned processes with ``threads`` intra-op threads each. The data
    set is sent to each worker once; finished tasks are yielded as they complete. When a task
    fails, no new task starts, the tasks in progress finish (and are yielded), then the error is
    raised. An exception here (Ctrl-C, :class:`~intermodal.interrupts.Terminated`) stops
    the workers; a worker exits by itself when this process dies without stopping it (see
    :func:`~intermodal.interrupts.exit_with_main`). While a task tunes, ``running`` hears
    ``tuning METHOD`` for it."""
    context = _worker_context()
    main_alive, alive = context.Pipe(duplex=False)
    status = context.Queue() if running is not None else None
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(dataset, threads, main_alive, status),
    )
    pending: dict[Future[TaskResult], Task] = {}
    queue = list(tasks)
    seconds: dict[str, float] = {}
    doing: dict[str, str] = {}
    failure: BaseException | None = None
    try:
        while queue or pending:
            while queue and failure is None and len(pending) < workers:
                task = next_task(queue, seconds)
                pending[pool.submit(_worker_run, task)] = task
            if running is not None:
                running(_labels(list(pending.values()), doing))
            done: set[Future[TaskResult]] = set()
            while not done:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                if status is not None and _drain(status, doing) and running is not None:
                    running(_labels(list(pending.values()), doing))
            for future in done:
                task = pending.pop(future)
                doing.pop(task.label, None)
                error = future.exception()
                if error is not None:
                    failure = failure or error  # let the tasks in progress finish, then raise
                    continue
                outcome = future.result()
                seconds[task.job.name] = outcome.seconds
                yield task, outcome
            if failure is not None and not pending:
                raise failure
    finally:
        if pending:  # stopped: the workers exit now, then the pool is shut down
            release_workers(alive, workers)
        pool.shutdown(wait=True, cancel_futures=True)
        release_workers(alive, 0)
        main_alive.close()
        if status is not None:
            status.close()
            status.join_thread()


def _drain(status: Any, doing: dict[str, str]) -> bool:
    """Read the workers' status messages into ``doing`` (label -> what it does); whether there
    were any."""
    changed = False
    while True:
        try:
            label, text = status.get_nowait()
        except queues.Empty:
            return changed
        doing[label] = text
        changed = True


def run_ray(
    dataset: MultimodalDataset,
    tasks: Sequence[Task],
    workers: int,
    threads: int,
    running: Callable[[list[str]], None] | None = None,
    retries: int = 3,
) -> Iterator[Outcome]:
    """Tasks on Ray, each with ``threads`` CPUs, at most ``workers`` at a time (0: as many as
    the cluster holds). Connects to the cluster in ``RAY_ADDRESS`` or starts a local Ray
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
                except ray.exceptions.RayTaskError as error:  # the task raised
                    failure = failure or error.as_instanceof_cause()
                    continue
                except ray.exceptions.RayError as error:  # its worker died more than retries
                    failure = failure or error
                    continue
                seconds[task.job.name] = outcome.seconds
                yield task, outcome
            if failure is not None and not pending:
                raise failure
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _ray_run(dataset: MultimodalDataset, task: Task, threads: int) -> TaskResult:
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
