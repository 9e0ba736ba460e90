"""The benchmark: train every method on one data set over several seeds and compare them.

The protocol (every method, classical baselines and unimodal models included, the same way):

1. **Tune on the first seed's training and validation data only**, with the same budget of
   ``trials`` for every method (trial 0 is the method's defaults; see
   :func:`~intermodal.tuning.tune`): cross-validated folds of the pooled training and
   validation parts on small data (fewer than :data:`~intermodal.tuning.folds.SMALL_DATA`
   samples), the fixed validation part otherwise (:func:`~intermodal.tuning.tuning_splits`).
   The test part is never read while tuning. The defaults are kept unless the best trial beats
   them by more than one standard error of the paired difference.
2. **Train the chosen setting on every seed** (the seeds of a method together, with
   :func:`~intermodal.training.stacked.fit_many`: as one stacked model where the architecture
   allows, off the CPU; one at a time on it, where stacking measured slower) and **test each
   once**.
3. Record the choice: ``results.json["tuning"][method]`` (every trial, its state and scores,
   the chosen setting, the reason, the time), the runs' ``params`` column (``lr=0.003,
   weight_decay=1e-05``), the leaderboard and the report.

With ``trials`` 0 nothing is tuned: every run trains alone at the method's defaults.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from intermodal.analysis import model_cost
from intermodal.bench import crossval
from intermodal.bench.analyses import AnalysisInput, AnalysisSettings, run_analyses, to_json
from intermodal.bench.collapse import collapse
from intermodal.bench.config import BenchConfig
from intermodal.bench.executors import (
    Task,
    TaskResult,
    import_ray,
    prepare_splits,
    run_processes,
    run_ray,
    run_serial,
    split_preprocessor,
)
from intermodal.bench.registry import Job, resolve_methods, with_spaces
from intermodal.bench.results import FORMAT, ResultsFolder
from intermodal.bench.selection import VALIDATION_PREFIX, Choice, chosen_on_validation
from intermodal.bench.significance import Significance, significance
from intermodal.bench.verdict import COLLAPSED, counted_runs
from intermodal.bench.verdict import record as record_verdict
from intermodal.coordination.retrieval import retrieval_metrics
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.preprocessing import Preprocessor
from intermodal.data.splits import DataSplits, split_dataset
from intermodal.errors import UnknownNameError
from intermodal.interrupts import signal_of
from intermodal.losses import LOSSES
from intermodal.metrics import METRICS, SENTIMENT, Metric, predict_outputs, score
from intermodal.models.pipeline import Pipeline, bare_model
from intermodal.recommend import bench_recommendation, compare_with_runs, markdown_section
from intermodal.saving import save_model
from intermodal.training.context import RunContext
from intermodal.training.fit import FitResult, seed_everything
from intermodal.training.stacked import fit_many
from intermodal.tuning import TuningResult, apply_params, tune, tuning_splits


class AnalysisInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a termination signal, ``signum``) while the report's analyses ran: every run
    had finished (and, with a results folder, was saved)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class BenchResult:
    """``runs``: one row per (method, seed), or (method, seed, fold) under ``--cv``;
    ``leaderboard``: one row per method, best first; ``analysis``: the typed results of the
    analysis suite on the first seed's models (of its first fold under ``--cv``);
    ``models``: those models (reading preprocessed data), ``preprocessor``: the first seed's
    preprocessing, ``chosen``: the method chosen on validation (see :meth:`pipeline`),
    ``verdict``: does fusion help, and the facts of the run (:mod:`intermodal.bench.verdict`);
    ``recommendation``: the methods the data's interactions recommend before any training
    (:func:`intermodal.recommend.bench_recommendation`); ``tuning``: method (``METHOD__foldF``
    per fold under ``--cv``) -> its tuning record
    (:meth:`~intermodal.tuning.TuningResult.as_dict`; empty without ``trials``)."""

    dataset: str
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] | None = None
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)
    analysis_settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    preprocessor: Preprocessor | None = field(default=None, repr=False)
    chosen: Choice | None = None
    verdict: dict[str, Any] | None = None
    recommendation: dict[str, Any] | None = None
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)

    def pipeline(self, method: str | None = None) -> Pipeline:
        """The first seed's model of ``method`` (default: the one chosen on validation) with
        its preprocessing: it predicts on raw data, as ``models/METHOD/`` holds it."""
        if method is None:
            if self.chosen is None:
                raise ValueError("no method was chosen: the runs have no validation scores")
            method = self.chosen.method
        if method not in self.models or self.preprocessor is None:
            raise UnknownNameError(
                f"no first-seed model of {method!r}; the models are {sorted(self.models)}"
            )
        return Pipeline(self.preprocessor, self.models[method])


def _view(splits: DataSplits, modalities: Sequence[str]) -> DataSplits:
    """The splits restricted to ``modalities`` for training: training and validation samples
    with none of them are dropped. The test split stays whole (the same test set for every
    method; a model reads only its modalities, and one that cannot predict without them says
    so in its ``absent``)."""
    if list(modalities) == splits.train.modality_names:
        return splits
    train, val, test = splits
    return DataSplits(
        train.select(modalities, empty="drop"), val.select(modalities, empty="drop"), test
    )


def run_job(
    job: Job, splits: DataSplits, context: RunContext, sentiment: bool = False
) -> tuple[dict[str, Any], nn.Module, Tensor]:
    """Build, train and test one method with one seed.

    Returns:
        The result row (every metric of the task, cost and time), the trained model and its
        test outputs. ``train_time_s`` counts building too, so a method that searches its
        architecture or fits a coordinated space on the training data is charged for it.
        ``flops`` and ``latency_ms`` are per test sample. ``parameters`` counts trainable
        parameters, or the fitted values of a classical baseline (its ``parameter_count``);
        ``chosen`` lists the settings a model chose on validation (``C=0.1``, ``rounds=140``;
        only for models that choose some).
    """
    data = _view(splits, job.modalities)
    start = time.perf_counter()
    result = train_job(job, data, context)
    train_time = time.perf_counter() - start
    return test_job(job, data, context, result, train_time, sentiment)


def test_job(
    job: Job,
    data: DataSplits,
    context: RunContext,
    result: FitResult,
    train_time: float,
    sentiment: bool = False,
) -> tuple[dict[str, Any], nn.Module, Tensor]:
    """Test a trained run once (``data``: its splits as the method sees them): its result row
    (see :func:`run_job`), its model and its test outputs."""
    outputs = predict_outputs(result.model, data.test)
    test = data.test.batch()
    cost = model_cost(result.model, test.inputs, test.mask)
    fitted = getattr(result.model, "parameter_count", None)
    row = {
        "method": job.name,
        "family": job.family,
        "seed": context.seed,
        **score(data.test.task, outputs, data.test.targets, sentiment=sentiment),
        **validation_scores(result.model, data.val, sentiment),
        **coordination_retrieval(result.model, data.test),
        "parameters": cost.trainable_parameters if fitted is None else fitted,
        "flops": cost.flops_per_sample,
        "train_time_s": train_time,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        **({"chosen": describe_chosen(result.chosen)} if result.chosen else {}),
        "missing": str(getattr(result.model, "absent", "")),
        "latency_ms": cost.latency_ms_per_sample,
    }
    return row, result.model, outputs


def run_jobs(
    job: Job,
    splits: Sequence[DataSplits],
    contexts: Sequence[RunContext],
    params: dict[str, Any] | Any,
    sentiment: bool = False,
) -> list[tuple[dict[str, Any], nn.Module, Tensor]]:
    """Build, train and test ``job`` with the setting ``params`` on several seeds (one split
    and one context per seed, the splits of equal sizes): the seeds train as one stacked model
    where ``fit_many`` stacks them (off the CPU, where the models stack), else one at a time
    (the reason is logged once, see :func:`~intermodal.training.stacked.fit_many`); each is
    tested once. One row per seed, as
    :func:`run_job` gives it; ``train_time_s`` is the seed's building time plus its share of
    the stack's training time."""
    views = [_view(split, job.modalities) for split in splits]
    contexts = [apply_params(context, params) for context in contexts]
    models, built = [], []
    for view, context in zip(views, contexts, strict=True):
        start = time.perf_counter()
        seed_everything(context.seed)
        models.append(job.build(view.train, context))
        built.append(time.perf_counter() - start)
    results = fit_many(models, views, contexts)
    return [
        test_job(job, view, context, result, seconds + result.train_time_s, sentiment)
        for view, context, result, seconds in zip(views, contexts, results, built, strict=True)
    ]


def tune_job(
    job: Job, raw: DataSplits, context: RunContext, trials: int, metric: str | None = None
) -> TuningResult:
    """Tune ``job`` with ``trials`` trials on the training and validation parts of ``raw`` (one
    seed's unstandardized split; its test part is never read): cross-validated on small data,
    the fixed validation part otherwise (:func:`~intermodal.tuning.tuning_splits`), trials
    ranked by ``metric`` (default: the task's primary metric), seeded by ``context.seed``."""
    folds = tuning_splits(raw, seed=context.seed)
    return tune(
        job.build,
        folds,
        context,
        trials,
        space=job.space,
        modalities=job.modalities,
        metric=metric,
    )


def describe_params(params: dict[str, Any] | Any) -> str:
    """A chosen setting as one cell: ``lr=0.003, weight_decay=1e-05`` (reals to 4 significant
    digits); ``defaults`` for a method without settings."""
    cells = [
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in dict(params).items()
    ]
    return ", ".join(cells) or "defaults"


def train_job(job: Job, splits: DataSplits, context: RunContext) -> FitResult:
    """Build ``job``'s model on the training part of ``splits`` (restricted to its modalities,
    see :func:`run_job`) and train it, early-stopping on the validation part: the training of
    one run, for the benchmark and ``intermodal train`` alike. (A tuning search calls it once
    per trial and keeps the trial chosen on validation.)"""
    data = _view(splits, job.modalities)
    seed_everything(context.seed)
    model = job.build(data.train, context)
    return context.fit(model, data)


def validation_scores(
    model: nn.Module, val: MultimodalDataset, sentiment: bool = False
) -> dict[str, float]:
    """Every metric of the task on the validation part, as ``val_<metric>``, in the targets'
    units: what a method is chosen on (see :mod:`intermodal.bench.selection`)."""
    outputs = predict_outputs(model, val)
    scores = score(val.task, outputs, val.targets, sentiment=sentiment)
    return {f"{VALIDATION_PREFIX}{name}": value for name, value in scores.items()}


def describe_chosen(chosen: dict[str, Any]) -> str:
    """Settings chosen on validation as one cell: ``C=0.1``, ``rounds=140``."""
    return ", ".join(f"{name}={value}" for name, value in chosen.items())


def coordination_retrieval(model: nn.Module, test: MultimodalDataset) -> dict[str, float]:
    """For a probe on a coordinated space, retrieval between its two test embeddings: mean
    average precision with category relevance in both directions (classification data)."""
    tower = getattr(model, "tower", None)
    if tower is None or test.task != "classification":
        return {}
    batch = test.batch()
    with torch.no_grad():
        z_a, z_b = tower.eval()(batch.inputs)
    found = retrieval_metrics(z_a, z_b, labels_a=test.targets, labels_b=test.targets)
    return {"map_a_to_b": found["a->b MAP"], "map_b_to_a": found["b->a MAP"]}


COSTS = ("parameters", "flops", "train_time_s", "latency_ms")


def leaderboard(
    runs: pd.DataFrame,
    metric: Metric,
    metrics: Sequence[str] = (),
    tests: Significance | None = None,
) -> pd.DataFrame:
    """One row per method: the mean over seeds of each metric in ``metrics`` and of ``metric``
    (with its sample standard deviation; and of its validation score, which chooses a method),
    the means of the costs, and with ``tests`` the 95%
    interval of the mean, the p-value against the best method and whether it is tied with it.
    Sorted by ``metric``, best first (by its direction); a method with collapsed runs (the
    ``collapsed`` column of ``runs``, see :mod:`intermodal.bench.collapse`) has their count in
    ``collapsed``, no test (``tests`` leaves it out) and comes after the ranked methods."""
    grouped = runs.groupby("method", sort=False)
    name = metric.name
    columns: dict[str, Any] = {
        "family": grouped["family"].first(),
        f"{name}_mean": grouped[name].mean(),
        f"{name}_std": grouped[name].std(ddof=1).fillna(0.0),
    }
    for other in metrics:
        if other != name and other in runs:
            columns[f"{other}_mean"] = grouped[other].mean()
    if VALIDATION_PREFIX + name in runs:
        columns[f"{VALIDATION_PREFIX}{name}_mean"] = grouped[VALIDATION_PREFIX + name].mean()
    for cost in COSTS:
        columns[cost] = grouped[cost].first() if cost == "parameters" else grouped[cost].mean()
    columns["seeds"] = grouped["seed"].nunique()
    if "fold" in runs:  # K-fold cross-validation: the replicates are folds x seeds
        columns["folds"] = grouped["fold"].nunique()
    if COLLAPSED in runs:
        columns[COLLAPSED] = grouped[COLLAPSED].sum().astype(int)
    if "params" in runs:  # the setting tuning chose (the same for every seed)
        columns["params"] = grouped["params"].first()
    table = pd.DataFrame(columns)
    if tests is not None:
        table["ci_low"] = pd.Series(tests.low)
        table["ci_high"] = pd.Series(tests.high)
        table["p_vs_best"] = pd.Series(tests.p_value)
        table["tied_with_best"] = pd.Series(tests.tied).reindex(table.index, fill_value=False)
    table = table.sort_values(f"{name}_mean", ascending=not metric.higher_is_better, kind="stable")
    if COLLAPSED in table:  # collapsed methods are listed, not ranked
        table = table.sort_values(COLLAPSED, key=lambda counts: counts > 0, kind="stable")
    return table.reset_index()


BACKBONE_KINDS = ("text", "image", "audio")


def encode_with_backbones(
    dataset: MultimodalDataset, config: BenchConfig
) -> tuple[MultimodalDataset, dict[str, Any]]:
    """The data set with each modality of ``config.backbones`` replaced by the features of its
    frozen pretrained backbone (vectors), computed once and kept in the feature cache
    (``config.cache_dir``), so that every method, seed and later benchmark reuses them; and the
    cache's hits and misses."""
    from intermodal.data.cache import FeatureCache, encode_modalities
    from intermodal.data.fsdd import data_home
    from intermodal.encoders.pretrained import PretrainedEncoder

    unknown = sorted(set(config.backbones) - set(dataset.modality_names))
    if unknown:
        raise UnknownNameError(
            f"--backbone names modalities {unknown} that {dataset.name} lacks "
            f"({dataset.modality_names})"
        )
    encoders = {}
    for modality, name in config.backbones.items():
        kind = dataset.kinds[modality]
        if kind not in BACKBONE_KINDS:
            raise ValueError(
                f"a pretrained backbone reads text, images or audio; {modality!r} is {kind}"
            )
        encoders[modality] = PretrainedEncoder(name, kind=kind)
    folder = Path(config.cache_dir) if config.cache_dir else data_home() / "features"
    cache = FeatureCache(folder)
    encoded = encode_modalities({"data": dataset}, encoders, cache)["data"]
    return encoded, {"directory": str(folder), "hits": cache.hits, "misses": cache.misses}


def _executor(config: BenchConfig) -> Any:
    if config.backend == "ray":
        import_ray()
        return run_ray
    return run_processes if config.workers > 1 else run_serial


def run_settings(config: BenchConfig, dataset: MultimodalDataset) -> dict[str, Any]:
    """The settings that define each run's result on ``dataset``, as ``settings.json`` records
    them: the data set by its name and size, and the loss by its name (the task's default when
    none is chosen)."""
    return {
        **config.run_settings(),
        "dataset": dataset.name,
        "samples": len(dataset),
        "modalities": dataset.modality_names,
        "loss": config.loss or LOSSES[dataset.task][0],
    }


def prepare_dataset(dataset: MultimodalDataset, config: BenchConfig) -> MultimodalDataset:
    """The data set a benchmark runs on: ``config.signals`` declared ordered, then restricted
    to ``config.modalities`` (an unknown name is an error that lists the modalities)."""
    if config.signals:
        dataset = dataset.with_signals(config.signals)
    if config.modalities:
        dataset = dataset.select(config.modalities)
    return dataset


def run_benchmark(
    dataset: MultimodalDataset,
    config: BenchConfig | None = None,
    folder: ResultsFolder | None = None,
    **settings: Any,
) -> BenchResult:
    """Train and test every method of ``config`` on ``dataset`` for its seeds.

    Seed s draws the stratified 70/15/15 split, or the validation part of a data set's own
    split (see ``split_dataset``), standardizes it on its training part (a ``Preprocessor``,
    which the first seed's models are saved with, so that they read raw data) and seeds the
    initialization and training of every method, so all methods see the same data per seed.
    Training early-stops on the monitored validation quantity (see ``fit``); the metrics of the
    data set's task are measured on the test part, and the leaderboard is sorted by
    ``config.metric`` (the task's primary metric by default) with 95% intervals and paired tests
    against the best method (see :mod:`intermodal.bench.significance`).

    Args:
        dataset: the data set (``config.signals`` declares its ordered vector modalities, then
            ``config.modalities`` restricts it).
        config: the benchmark; ``settings`` are keyword overrides of its fields, e.g.
            ``run_benchmark(data, methods="early,unimodal", seeds=1)``.
        folder: where each finished run is saved at once (``runs/``, and the first seed's models in
            ``models/``). Without it, ``config.output`` opens one (with its overwrite and
            resume policy); with neither, nothing is written.

    With ``config.report``, the analysis suite runs on the first seed's models (see
    :mod:`intermodal.bench.analyses`); its per-model parts (EMAP, the subset table) run with each
    first-seed run, in parallel where the runs are.

    With ``config.cv`` (K), K-fold cross-validation replaces the per-seed split: every
    (method, seed, fold) is a run, and the intervals and paired tests are the corrected
    resampled t-test over the K x seeds replicates (see :mod:`intermodal.bench.crossval`).

    Every seed's split (or folds) is drawn before anything is written; a benchmark that fails or
    is stopped before its first run is saved leaves ``folder`` as it found it (see
    :meth:`ResultsFolder.rollback`).
    """
    config = (config or BenchConfig()).with_(**settings)
    opened = folder is None and config.output is not None
    if opened and config.output is not None:
        folder = ResultsFolder(config.output, config.overwrite, config.resume)
    try:
        return _run_benchmark(dataset, config, folder)
    except BaseException:
        if folder is not None:  # before its first saved run, the folder is left as it was
            folder.rollback()
        raise
    finally:
        if opened and folder is not None:
            folder.close()


def _collect(
    task: Task,
    result: TaskResult,
    folder: ResultsFolder | None,
    preprocessor: Preprocessor,
    first: tuple[int, int | None],
    rows: dict[tuple[str, int, int | None], dict[str, Any]],
    outputs: dict[tuple[str, int, int | None], Tensor],
    models: dict[str, nn.Module],
    per_model: dict[str, dict[str, Any]],
) -> None:
    """Keep (and, with a results folder, save at once) what a finished task gave: its tuning
    record first, then each run, and the model of the ``first`` (seed, fold)."""
    name = task.job.name
    if result.tuning is not None and folder is not None:
        folder.save_tuning(crossval.tuning_key(name, task.fold), result.tuning)
    for row, model, test_outputs, analysed in result.runs:
        seed = int(row["seed"])
        key = crossval.run_key(name, seed, task.fold)
        rows[key], outputs[key] = row, test_outputs
        if folder is not None:
            folder.save_run(row, test_outputs)
        if (seed, task.fold) == first:
            models[name], per_model[name] = model, analysed
            if folder is not None:
                folder.save_model(name, Pipeline(preprocessor, model))


def _run_benchmark(
    dataset: MultimodalDataset, config: BenchConfig, folder: ResultsFolder | None
) -> BenchResult:
    started = time.perf_counter()
    dataset = prepare_dataset(dataset, config)
    # every seed's split first: one that cannot be drawn or learned is refused before any output
    seeds = list(range(config.seed, config.seed + config.seeds))
    if config.cv is not None:
        crossval.check_cv(dataset, config.cv, seeds)
    else:
        for seed in seeds:
            split_dataset(dataset, seed=seed)
    with_spaces([], config.search_space)  # an unknown method or setting: refused before output
    if folder is not None:  # before any work: a resume with other settings is refused first
        folder.bind(run_settings(config, dataset))
    cache_use: dict[str, Any] = {}
    if config.backbones:
        dataset, cache_use = encode_with_backbones(dataset, config)
    metric = config.metric_of(dataset.task)
    analysis_settings = AnalysisSettings(
        seed=config.seed, metric=metric.name, sentiment=config.sentiment
    )
    jobs, skipped = resolve_methods(list(config.methods), dataset)
    jobs = with_spaces(jobs, config.search_space)
    if not jobs:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
        raise ValueError(f"no requested method applies to {dataset.name} ({reasons})")
    names = [job.name for job in jobs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(
            f"methods {list(config.methods)} request {twice} more than once (a per-modality "
            "method such as unimodal already runs every modality); list each run once"
        )
    execute = _executor(config)
    rows: dict[tuple[str, int, int | None], dict[str, Any]] = {}
    outputs: dict[tuple[str, int, int | None], Tensor] = {}
    models: dict[str, nn.Module] = {}
    per_model: dict[str, dict[str, Any]] = {}
    tuning: dict[str, dict[str, Any]] = {}
    tasks = []
    replicates = crossval.replicates(seeds, config.cv)  # (seed, fold) pairs
    first = seeds[0]
    # saved with the first seed's models (of its first fold under --cv)
    preprocessor = split_preprocessor(dataset, *replicates[0], config.cv)
    analyse = analysis_settings if config.report else None
    todo: dict[tuple[str, int | None], list[int]] = {}  # (method, fold) -> seeds to run
    for seed, fold in replicates:
        for job in jobs:
            key = crossval.run_key(job.name, seed, fold)
            saved = folder.finished(*key) if folder else None
            if saved is None:
                todo.setdefault((job.name, fold), []).append(seed)
                if config.trials == 0:  # untuned: one task per run
                    tasks.append(
                        Task(
                            job,
                            config.context(seed),
                            config.sentiment,
                            config.train_missing,
                            analyse if (seed, fold) == replicates[0] else None,
                            fold=fold,
                            folds=config.cv,
                        )
                    )
                continue
            rows[key], outputs[key] = saved
            if (seed, fold) == replicates[0] and folder is not None:
                models[job.name] = bare_model(folder.load_model(job.name))
    folds = list(dict.fromkeys(fold for _, fold in replicates))
    for fold in folds if config.trials > 0 else []:  # tuned: one task per method (and fold)
        for job in jobs:
            name = crossval.tuning_key(job.name, fold)
            record = folder.tuning_record(name) if folder is not None else None
            if record is not None:
                tuning[name] = record
            pending = todo.get((job.name, fold), [])
            if pending:
                tasks.append(
                    Task(
                        job,
                        config.context(pending[0]),
                        config.sentiment,
                        config.train_missing,
                        analyse if (first, fold) == replicates[0] and first in pending else None,
                        fold=fold,
                        folds=config.cv,
                        seeds=tuple(pending),
                        trials=config.trials,
                        params=None if record is None else record["params"],
                        first=first,
                        metric=metric.name,
                    )
                )
    bar = tqdm(
        total=len(jobs) * len(replicates),
        initial=len(rows),
        disable=not config.progress,
        unit="run",
        dynamic_ncols=True,
    )

    def show(labels: list[str]) -> None:
        bar.set_description(", ".join(labels[:3]) + (" ..." if len(labels) > 3 else ""))

    try:
        workers = config.jobs if config.backend == "ray" else config.workers
        finished = execute(
            dataset, tasks, workers=workers, threads=config.context().threads, running=show
        )
        for task, result in finished:
            _collect(
                task, result, folder, preprocessor, replicates[0], rows, outputs, models, per_model
            )
            if result.tuning is not None:
                tuning[crossval.tuning_key(task.job.name, task.fold)] = result.tuning
            bar.update(len(result.runs))
    finally:
        bar.close()
    order = [crossval.run_key(job.name, *rep) for rep in replicates for job in jobs]
    runs = pd.DataFrame([rows[key] for key in order])
    test_splits = [prepare_splits(dataset, s, 0.0, f, config.cv).test for s, f in replicates]
    test_targets = dict(zip(replicates, (part.targets for part in test_splits), strict=True))
    runs[COLLAPSED] = [
        collapse(dataset.task, outputs[key], test_targets[key[1:]]) is not None for key in order
    ]
    counted, _ = counted_runs(runs)
    tested = {
        job.name: [outputs[crossval.run_key(job.name, *rep)] for rep in replicates] for job in jobs
    }
    ratio = None if config.cv is None else crossval.correction_ratio(config.cv)
    ranked = {name: tested[name] for name in tested if name in set(counted["method"])}
    tests = (
        significance(ranked, [part.targets for part in test_splits], metric, test_train_ratio=ratio)
        if ranked
        else None
    )
    shown = [*METRICS[dataset.task], *(SENTIMENT if config.sentiment else ())]
    shown += [name for name in ("map_a_to_b", "map_b_to_a") if name in runs]
    board = leaderboard(runs, metric, shown, tests)
    chosen = chosen_on_validation(counted, metric)
    analysis = None
    if config.report:
        if config.progress:
            print("analysing the first seed's models for the report ...", file=sys.stderr)
        first_runs = runs[runs["seed"] == first]
        if "fold" in first_runs:  # the first seed's first fold
            first_runs = first_runs[first_runs["fold"] == replicates[0][1]]
        scores = first_runs.set_index("method")[metric.name]
        inputs = AnalysisInput(
            data=dataset,
            test=test_splits[0],
            models=models,
            families={job.name: job.family for job in jobs},
            scores={name: float(scores[name]) for name in models},
            higher_is_better=metric.higher_is_better,
            strategies={
                str(row["method"]): str(row["missing"]) for _, row in first_runs.iterrows()
            },
            per_model=per_model,
        )
        try:
            analysis = run_analyses(inputs, analysis_settings)
        except KeyboardInterrupt as stop:
            raise AnalysisInterrupted(signal_of(stop)) from None
    targets, wall = [part.targets for part in test_splits], time.perf_counter() - started
    verdict = record_verdict(dataset, config, runs, tested, targets, metric, seeds, wall, ratio)
    return BenchResult(
        dataset.name,
        runs,
        board,
        skipped,
        {
            **config.as_dict(),
            "task": dataset.task,
            "metric": metric.name,
            "higher_is_better": metric.higher_is_better,
            "metrics": shown,
            "intervals": tests.method if tests is not None else "none (every method collapsed)",
            "methods": [job.name for job in jobs],
            "modalities": dataset.modality_names,
            **({"feature_cache": cache_use} if cache_use else {}),
        },
        analysis,
        models,
        analysis_settings,
        preprocessor,
        chosen,
        verdict,
        tuning={
            crossval.tuning_key(job.name, fold): tuning[crossval.tuning_key(job.name, fold)]
            for fold in folds
            for job in jobs
            if crossval.tuning_key(job.name, fold) in tuning
        },
        recommendation=bench_recommendation(dataset),
    )


def describe_scores(config: dict[str, Any]) -> str:
    """One sentence on what the leaderboard shows."""
    direction = "higher" if config.get("higher_is_better", True) else "lower"
    folds = config.get("cv")
    where, over = "the test split", "seeds"
    if folds:
        where = f"the held-out folds of {folds}-fold cross-validation"
        over = f"the {folds} folds x {config.get('seeds')} seeds"
    return (
        f"{config.get('task', 'classification')} on {where}, {config.get('seeds')} seeds; "
        f"sorted by {config.get('metric')} ({direction} is better; mean over {over}, std the "
        f"sample standard deviation); 95% intervals and the paired test against the best "
        f"method: {config.get('intervals', 'none')}; tied_with_best: p >= 0.05"
        + (
            ". The per-sample analyses use the first seed's models of its first fold, on that "
            "fold's test part."
            if folds
            else "."
        )
    )


def tuning_table(tuning: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per tuned method (``tuning``: method -> tuning record): its trials (and how many
    were pruned or failed), the folds that scored them, the chosen setting, the improvement of
    the best trial over the defaults with its standard error, why it was chosen and the time."""
    rows = []
    for method, record in tuning.items():
        states = [trial.get("state") for trial in record.get("trials") or []]
        rows.append(
            {
                "method": method,
                "trials": len(states),
                "pruned": states.count("pruned"),
                "failed": states.count("failed"),
                "folds": record.get("folds"),
                "chosen": f"trial {record.get('chosen')}: "
                + describe_params(record.get("params") or {}),
                "improvement": _blank(record.get("improvement")),
                "standard_error": _blank(record.get("standard_error")),
                "reason": record.get("reason", ""),
                "time_s": float(record.get("time_s") or 0.0),
            }
        )
    return pd.DataFrame(rows)


def _blank(value: Any) -> Any:
    return "" if value is None else value


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table`` (floats with 4 significant digits)."""

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def save_best(
    result: BenchResult,
    folder: ResultsFolder | None = None,
    directory: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Save the method chosen on validation (``result.chosen``: the best mean validation score
    over seeds, see :func:`~intermodal.bench.selection.chosen_on_validation`) as a ready model:
    its first seed's model with its preprocessing, which predicts on raw data (``intermodal
    predict``). It goes to ``directory``, else to the results folder's ``best/``.

    Raises:
        ValueError: no method could be chosen (no validation scores).
        FileExistsError: ``directory`` holds something else, or a model and not ``overwrite``.
    """
    pipeline = result.pipeline()
    assert result.chosen is not None  # pipeline() refuses a result without a choice
    row = result.runs[
        (result.runs["method"] == result.chosen.method)
        & (result.runs["seed"] == result.config.get("first_seed", 0))
    ]
    metadata = {
        "method": result.chosen.method,
        "dataset": result.dataset,
        "seed": int(result.config.get("first_seed", 0)),
        "chosen_on_validation": result.chosen.as_dict(),
        "run": {k: _plain(v) for k, v in row.iloc[0].items()} if len(row) else {},
    }
    if directory is None:
        if folder is None:
            raise ValueError("name a directory for the chosen model, or a results folder")
        return folder.save_best(pipeline, metadata)
    return save_model(pipeline, directory, metadata=metadata, overwrite=overwrite)


def _plain(value: Any) -> Any:
    """A result-row value as plain JSON (NumPy scalars to Python numbers)."""
    return value.item() if hasattr(value, "item") else value


def save_results(
    result: BenchResult,
    folder: ResultsFolder | str | Path,
    report: bool = True,
    best: str | Path | None = None,
) -> ResultsFolder:
    """Write ``results.csv`` (one row per run), ``results.json``, ``summary.md``, the analyses
    (``analysis.json``) and, with ``report``, ``report.html`` and ``figures/`` into the results
    folder (a path opens one that must be new or hold the same benchmark's runs).
    ``results.json`` records the method chosen on validation, as ``best_model`` where
    :func:`save_best` kept it (``best``), and the verdict; ``summary.md`` ends with the verdict
    and the reliability checklist (:mod:`intermodal.bench.verdict`)."""
    from intermodal.bench import verdict
    from intermodal.bench.report import write_report

    opened = not isinstance(folder, ResultsFolder)
    if not isinstance(folder, ResultsFolder):
        folder = ResultsFolder(folder, resume=True)
    folder.write_text("results.csv", result.runs.to_csv(index=False))
    found = result.recommendation or {"skipped": "the benchmark recorded no recommendation"}
    recommendation = {
        "before_training": found,
        "after_training": compare_with_runs(
            found,
            result.runs,
            str(result.config.get("metric", "accuracy")),
            bool(result.config.get("higher_is_better", True)),
        ),
    }
    folder.write_json(
        "results.json",
        {
            "format": FORMAT,
            "dataset": result.dataset,
            "config": result.config,
            "leaderboard": result.leaderboard.to_dict(orient="records"),
            "runs": result.runs.to_dict(orient="records"),
            "skipped": [{"method": name, "reason": why} for name, why in result.skipped],
            "chosen_on_validation": result.chosen.as_dict() if result.chosen else None,
            "best_model": None if best is None else str(best),
            "verdict": result.verdict,
            "recommendation": recommendation,
            "tuning": result.tuning,
        },
    )
    summary = [
        f"# Benchmark on {result.dataset}\n",
        markdown_section(recommendation["before_training"], recommendation["after_training"]),
        describe_scores(result.config) + "\n",
        markdown_table(result.leaderboard),
    ]
    if result.chosen is not None:
        summary.append(
            f"\nChosen on validation: {result.chosen.method} (mean validation "
            f"{result.chosen.metric} {result.chosen.score:.4g} over "
            f"{result.chosen.seeds[result.chosen.method]} "
            f"{'runs, folds x seeds' if result.config.get('cv') else 'seeds'})\n"
        )
    if result.tuning:
        summary.append(
            f"\n## Tuning\n\nEvery method had {result.config.get('trials')} trials on the first "
            "seed's training and validation data (trial 0: its defaults); the chosen setting "
            "trained on every seed.\n\n" + markdown_table(tuning_table(result.tuning))
        )
    if result.skipped:
        summary.append("\nSkipped: " + "; ".join(f"{n} ({w})" for n, w in result.skipped) + "\n")
    if result.analysis is not None:
        folder.write_json("analysis.json", to_json(result.analysis, result.analysis_settings))
    summary.append("\n" + verdict.markdown(*verdict.read(folder)))  # as the report reads it
    folder.write_text("summary.md", "\n".join(summary))
    if report:
        write_report(folder)
    if opened:
        folder.close()
    return folder
