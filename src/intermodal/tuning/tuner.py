"""``tune``: equal-budget hyperparameter search for one method with Optuna, in rounds, with
pruning on the validation curve and a robust choice between the best trial and the defaults."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits
from intermodal.metrics import PRIMARY, SENTIMENT, Metric, metric_info, predict_outputs
from intermodal.training.context import RunContext
from intermodal.training.fit import FitResult, seed_everything
from intermodal.tuning.folds import restrict
from intermodal.tuning.selection import (
    MARGIN,
    Selection,
    fold_difference,
    one_standard_error,
    sample_difference,
)
from intermodal.tuning.space import SearchSpace, apply_params, training_space
from intermodal.tuning.trials import EpochCallback, TrainTrials, train_trials

Builder = Callable[[MultimodalDataset, RunContext], nn.Module]
"""Builds an untrained model for a data set's training part in a run context (the method
registry's builders)."""

ROUND_SIZE = 4
"""Trials asked, trained together and told per round (the first round starts with the
defaults)."""
PRUNERS = ("quartile", "median", "none")
"""How a trial is pruned on its first fold's validation curve, after a warm-up of ``patience``
epochs, against the finished trials' curves at the same epoch: ``quartile`` when its best value
so far is below their lower quartile (Optuna's ``PercentilePruner``), ``median`` below their
median (``MedianPruner``); ``none``: every trial trains to its own early stop.

``quartile`` is the default: on mfeat (``benchmarks/tuning.py``, 8 trials) it made the same
choice as no pruning for every method measured, with 54% of the training epochs on a
200-sample subsample (5-fold CV) and 71% on the full data; ``median`` saved a little more
(47%) but pruned, on the small data, a trial that would have been chosen: on validation parts
of 30 samples a curve at epoch 10 says little more than whether a trial is hopeless."""
STATES = ("complete", "pruned", "failed")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its ``params``, its score on each fold's held-out part (``nan`` where it was
    not trained), their mean and standard error over folds (``nan`` with one fold), its state
    (``complete``, ``pruned`` on the validation curve, or ``failed``: no finite score or an
    ``error`` while building or training), the epochs trained per fold, the seconds it took
    (building, training, scoring), the round it ran in and its architecture group (trials with
    equal architectural settings share one)."""

    number: int
    params: dict[str, Any]
    fold_scores: tuple[float, ...]
    mean: float
    standard_error: float
    state: str
    epochs: tuple[int, ...]
    time_s: float
    round: int
    group: int
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able record; an undefined number (a fold not trained) is None."""
        return {
            "number": self.number,
            "params": dict(self.params),
            "fold_scores": [_finite(v) for v in self.fold_scores],
            "mean": _finite(self.mean),
            "standard_error": _finite(self.standard_error),
            "state": self.state,
            "epochs": list(self.epochs),
            "time_s": self.time_s,
            "round": self.round,
            "group": self.group,
            "error": self.error,
        }


@dataclass(frozen=True)
class TuningResult:
    """What :func:`tune` found.

    Attributes:
        params: the chosen setting (every setting of the space); train it with
            ``result.context(base)``.
        defaults: the space's defaults (trial 0).
        trials: every trial, in the order they were asked.
        selection: the rule's outcome (chosen and best trial, improvement, its standard error,
            why); None without trials.
        metric, higher_is_better: the score trials are ranked by.
        folds: folds the scores are means over (1: a fixed validation part).
        exhausted: the space is discrete and had fewer settings than the budget; every one was
            tried.
        budget: trials asked for.
        time_s: seconds the whole search took.
    """

    params: dict[str, Any]
    defaults: dict[str, Any]
    trials: tuple[TrialRecord, ...]
    selection: Selection | None
    metric: str
    higher_is_better: bool
    folds: int
    budget: int
    exhausted: bool = False
    time_s: float = 0.0
    space: dict[str, str] = field(default_factory=dict)

    @property
    def chosen(self) -> TrialRecord | None:
        """The chosen trial (None without trials)."""
        if self.selection is None:
            return None
        return self.trials[self.selection.chosen]

    def context(self, base: RunContext) -> RunContext:
        """``base`` (e.g. one seed's context) with the chosen setting."""
        return apply_params(base, self.params)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able record (for results files and reports)."""
        selection = self.selection
        return {
            "params": dict(self.params),
            "defaults": dict(self.defaults),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "folds": self.folds,
            "budget": self.budget,
            "trials": [trial.as_dict() for trial in self.trials],
            "chosen": None if selection is None else selection.chosen,
            "best": None if selection is None else selection.best,
            "improvement": None if selection is None else _finite(selection.difference),
            "standard_error": None if selection is None else _finite(selection.standard_error),
            "margin": None if selection is None else selection.margin,
            "reason": "no tuning: the defaults" if selection is None else selection.reason,
            "exhausted": self.exhausted,
            "time_s": self.time_s,
            "space": dict(self.space),
        }


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna without its per-trial log lines and its experimental-feature warnings."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)


def _pruner(name: str, warmup: int) -> Any:
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    kept = 75.0 if name == "quartile" else 50.0  # the percentile of trials kept
    return optuna.pruners.PercentilePruner(kept, n_startup_trials=1, n_warmup_steps=warmup)


def _curve_value(record: Mapping[str, float], metric: Metric, task: str) -> float | None:
    """The validation quantity a pruner follows, signed so that higher is better: the ranking
    metric where the history records it, else the task's primary metric, else the negated
    validation loss."""
    for name in (metric.name, PRIMARY[task]):
        value = record.get(f"val_{name}")
        if value is not None:
            better = metric_info(task, name).higher_is_better
            return float(value) if better else -float(value)
    loss = record.get("val_loss")
    return None if loss is None else -float(loss)


def _score(metric: Metric, outputs: Tensor, targets: Tensor) -> float:
    """The metric of a trial's outputs; ``nan`` where the model gives non-finite outputs."""
    try:
        if metric.uses_threshold:
            return float(metric.compute(outputs, targets, threshold=0.5))
        return float(metric.compute(outputs, targets))
    except ValueError:
        return math.nan


def _resolve_metric(metric: Metric | str | None, task: str) -> Metric:
    if isinstance(metric, Metric):
        return metric
    name = metric or PRIMARY[task]
    return metric_info(task, name, sentiment=task == "regression" and name in SENTIMENT)


@dataclass
class _Trial:
    """A trial while its round runs."""

    handle: Any
    params: dict[str, Any]
    context: RunContext
    group: int
    scores: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    time_s: float = 0.0
    pruned: bool = False
    error: str = ""


def tune(
    build: Builder,
    folds: Sequence[DataSplits],
    context: RunContext,
    trials: int,
    *,
    space: SearchSpace | None = None,
    modalities: Sequence[str] | None = None,
    metric: Metric | str | None = None,
    round_size: int = ROUND_SIZE,
    pruner: str = "quartile",
    warmup: int | None = None,
    margin: float = MARGIN,
    train: TrainTrials = train_trials,
) -> TuningResult:
    """Search ``space`` for the setting of the method ``build`` that scores best on ``folds``.

    Trial 0 is the space's defaults; Optuna's TPE sampler (multivariate, seeded with
    ``context.seed``) proposes the others. Trials are asked in rounds of ``round_size``; the
    models of a round with equal architectural settings are trained together by ``train``
    (one call per group and fold), and a round is told before the next is asked. On each fold a
    trial's model is built from ``fold.train`` with ``context.seed``, trained with early
    stopping on ``fold.val`` and scored on ``fold.test`` (for a fixed validation part,
    ``fold.test`` is ``fold.val``); its score is the mean over folds. A trial whose first-fold
    validation curve falls, after ``warmup`` epochs, below the lower quartile of the finished
    trials' curves at the same epoch is pruned (``pruner="quartile"``, see :data:`PRUNERS`)
    and not trained on further folds. The defaults are
    kept unless the best trial beats them by more than ``margin`` standard errors of the paired
    difference (see :mod:`intermodal.tuning.selection`).

    A discrete space with fewer settings than ``trials`` is tried exhaustively (``exhausted``).

    Args:
        build: the method's builder ``build(train_data, context) -> model``.
        folds: ``(train, val, scored)`` splits, e.g. from
            :func:`~intermodal.tuning.folds.tuning_splits`; never a test part.
        context: seed and training budget of every trial; a trial changes its ``lr``,
            ``weight_decay`` and ``params``.
        trials: the budget, trials including the defaults; 0 returns the defaults untried.
        space: the method's settings (default: ``lr`` and ``weight_decay``).
        modalities: the modalities the method uses (training samples with none of them are
            dropped); None: every modality.
        metric: what trials are ranked by (a metric of the task; default its primary metric).
        round_size: trials per round.
        pruner: one of :data:`PRUNERS`.
        warmup: epochs before pruning may stop a trial (default ``context.patience``).
        margin: standard errors the best trial must win by.
        train: trains a group of models (default :func:`~intermodal.tuning.trials.train_trials`).
    """
    import optuna
    from optuna.trial import TrialState

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0:
        raise ValueError(f"trials must be a non-negative integer (0: no tuning), got {trials!r}")
    if not folds:
        raise ValueError("tune needs at least one fold to score trials on")
    if isinstance(round_size, bool) or not isinstance(round_size, int) or round_size < 1:
        raise ValueError(f"round_size must be a positive integer, got {round_size!r}")
    if pruner not in PRUNERS:
        raise ValueError(f"unknown pruner {pruner!r}; choose one of {list(PRUNERS)}")
    space = space if space is not None else training_space()
    task = folds[0].train.task
    rank_by = _resolve_metric(metric, task)
    defaults = space.defaults()
    description = space.describe()
    if trials == 0:
        return TuningResult(
            defaults,
            defaults,
            (),
            None,
            rank_by.name,
            rank_by.higher_is_better,
            len(folds),
            0,
            space=description,
        )
    folds = [restrict(fold, modalities) for fold in folds]
    started = time.perf_counter()
    size = space.size()
    exhausted = size is not None and size <= trials
    budget = size if exhausted and size is not None else trials
    groups: dict[tuple[tuple[str, Any], ...], int] = {}
    records: list[TrialRecord] = []
    outputs: dict[int, list[Tensor]] = {}
    distributions = space.distributions()
    with _quiet_optuna():
        study = optuna.create_study(
            direction="maximize" if rank_by.higher_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(
                seed=context.seed,
                multivariate=True,
                n_startup_trials=max(1, min(10, trials // 2)),
            ),
            pruner=_pruner(pruner, context.patience if warmup is None else warmup),
        )
        for point in space.grid() if exhausted else [defaults]:
            study.enqueue_trial(point)
        round_index = 0
        while len(records) < budget:
            asked = []
            for _ in range(min(round_size, budget - len(records))):
                handle = study.ask(distributions)
                params = {name: handle.params[name] for name in space}
                group = groups.setdefault(space.architecture(params), len(groups))
                asked.append(_Trial(handle, params, apply_params(context, params), group))
            _run_round(asked, build, folds, rank_by, train)
            for trial in asked:
                record = _record(trial, round_index, len(folds))
                outputs[record.number] = trial.outputs
                records.append(record)
                if record.state == "complete":
                    study.tell(trial.handle, record.mean)
                else:
                    state = TrialState.PRUNED if trial.pruned else TrialState.FAIL
                    study.tell(trial.handle, state=state)
            round_index += 1
    selection = _select(records, outputs, folds, rank_by, margin)
    return TuningResult(
        params=dict(records[selection.chosen].params),
        defaults=defaults,
        trials=tuple(records),
        selection=selection,
        metric=rank_by.name,
        higher_is_better=rank_by.higher_is_better,
        folds=len(folds),
        budget=trials,
        exhausted=exhausted,
        time_s=time.perf_counter() - started,
        space=description,
    )


def _run_round(
    asked: list[_Trial],
    build: Builder,
    folds: Sequence[DataSplits],
    metric: Metric,
    train: TrainTrials,
) -> None:
    """Train and score the round's trials fold by fold, one ``train`` call per architecture
    group; a trial pruned on the first fold trains no further."""
    by_group: dict[int, list[_Trial]] = {}
    for trial in asked:
        by_group.setdefault(trial.group, []).append(trial)
    task = folds[0].train.task
    for index, fold in enumerate(folds):
        for members in by_group.values():
            models, alive = [], []
            for trial in members:
                if trial.pruned or trial.error:
                    continue
                start = time.perf_counter()
                seed_everything(trial.context.seed)
                with _failing([trial]):
                    models.append(build(fold.train, trial.context))
                    alive.append(trial)
                trial.time_s += time.perf_counter() - start
            if not alive:
                continue
            on_epoch = _pruning(alive, metric, task) if index == 0 else None
            results: list[FitResult] = []
            with _failing(alive):
                results = train(models, fold, [t.context for t in alive], on_epoch)
            for trial, result in zip(alive, results, strict=True):
                trial.time_s += result.train_time_s
                trial.epochs.append(result.epochs or 0)
                if trial.pruned:
                    continue
                start = time.perf_counter()
                out = predict_outputs(result.model, fold.test)
                trial.outputs.append(out)
                trial.scores.append(_score(metric, out, fold.test.targets))
                trial.time_s += time.perf_counter() - start
                if not math.isfinite(trial.scores[-1]):
                    trial.error = "no finite score (non-finite outputs: the training diverged)"


@contextlib.contextmanager
def _failing(trials: list[_Trial]) -> Iterator[None]:
    """A setting that cannot be built or trained (a deep CCA space larger than the validation
    batch, memory) fails its trials, not the search; the defaults must work, so an error of
    theirs is raised."""
    try:
        yield
    except (ValueError, RuntimeError) as error:
        if any(trial.handle.number == 0 for trial in trials):
            raise
        for trial in trials:
            trial.error = f"{type(error).__name__}: {error}"


def _pruning(alive: list[_Trial], metric: Metric, task: str) -> EpochCallback:
    """Reports each model's validation curve to its trial and stops it when the pruner says
    so."""
    sign = 1.0 if metric.higher_is_better else -1.0

    def on_epoch(position: int, record: dict[str, float]) -> bool:
        trial = alive[position]
        value = _curve_value(record, metric, task)
        if value is None or not math.isfinite(value):
            return False
        trial.handle.report(sign * value, int(record["epoch"]))
        if trial.handle.should_prune():
            trial.pruned = True
            return True
        return False

    return on_epoch


def _record(trial: _Trial, round_index: int, folds: int) -> TrialRecord:
    scores = trial.scores + [math.nan] * (folds - len(trial.scores))
    values = np.asarray(scores, dtype=np.float64)
    finite = bool(np.isfinite(values).all())
    state = "pruned" if trial.pruned else "complete" if finite and not trial.error else "failed"
    mean = float(values.mean()) if finite else math.nan
    se = float(values.std(ddof=1) / math.sqrt(folds)) if finite and folds > 1 else math.nan
    return TrialRecord(
        number=trial.handle.number,
        params=dict(trial.params),
        fold_scores=tuple(float(v) for v in scores),
        mean=mean,
        standard_error=se,
        state=state,
        epochs=tuple(trial.epochs),
        time_s=trial.time_s,
        round=round_index,
        group=trial.group,
        error=trial.error,
    )


def _select(
    records: list[TrialRecord],
    outputs: Mapping[int, list[Tensor]],
    folds: Sequence[DataSplits],
    metric: Metric,
    margin: float,
) -> Selection:
    complete = [r for r in records if r.state == "complete"]
    default = records[0] if records[0].state == "complete" else None
    if not complete:
        return Selection(0, 0, math.nan, math.nan, margin, "no trial gave a finite score")
    sign = 1.0 if metric.higher_is_better else -1.0
    best = max(complete, key=lambda r: (sign * r.mean, -r.number))
    if default is None or best.number == default.number:
        return one_standard_error(
            None if default is None else default.number, best.number, 0.0, 0.0, margin
        )
    if len(folds) > 1:
        difference, se = fold_difference(
            best.fold_scores, default.fold_scores, metric.higher_is_better
        )
    else:
        difference, se = sample_difference(
            outputs[best.number][0], outputs[default.number][0], folds[0].test.targets, metric
        )
    return one_standard_error(default.number, best.number, difference, se, margin)
