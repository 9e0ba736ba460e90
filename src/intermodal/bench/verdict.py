"""Does fusion help here? A benchmark's verdict, and the reliability checklist of its run.

The verdict answers with the method chosen on *validation* (the mean validation score of the
leaderboard's metric over seeds, :func:`~intermodal.bench.selection.chosen_on_validation`),
never with the test maximum, which is the best of many methods on the test part itself and so
optimistic. The chosen method's test score and 95% interval are compared with

- the best *unimodal* model: chosen on validation among the models that read one modality
  (``unimodal[m]``, ``linear[m]``, ``gbdt[m]``, any ``name[m]``), and
- the best *classical* baseline on all modalities (``linear``, ``gbdt``), chosen on validation,

each by a paired test between the two methods on the same test samples and seeds
(:func:`~intermodal.bench.significance.paired_difference`: a bootstrap over test samples with
fewer than five seeds, a t-test over seeds from five on; under K-fold cross-validation, the
corrected resampled t-test of Nadeau & Bengio 2003 over the folds x seeds). Where the chosen
method itself reads one modality, it is compared with the best model on validation that reads
several; where it is a classical baseline, with the best neural one.

The checklist follows the reliability checklist that closes Rheude, Eils & Wild, "Fusion or
Confusion? Multimodal Complexity Is Not All You Need" (arXiv 2512.22991, 2025). Its text was
not at hand, so the items are built from the topics the paper names for a reliable comparison
(hyperparameter tuning of every method, seeds and cross-validation, statistical testing,
missing modalities, computational cost, and strong unimodal and simple fusion baselines), each
filled in from what the run recorded; what it did not record is said so, not guessed.

``decide`` and ``record_protocol`` run with the benchmark (they need the test outputs and the
data set); the renderers read only ``results.json`` and ``analysis.json``, so ``summary.md``,
the console and the report (rebuilt by ``intermodal report``) say the same.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from intermodal.bench.selection import chosen_on_validation
from intermodal.bench.significance import (
    ALPHA,
    CORRECTED,
    MIN_SEEDS,
    REPLICATES,
    paired_difference,
    significance,
)
from intermodal.metrics import Metric

SMALL_TEST = 100
"""A test part (per seed) with fewer samples than this is small: the summary says so and
recommends ``--cv K``."""
MISSING_ANALYSES = {
    "missing_subsets": "every model's score on each subset of the modalities",
    "missing_rate": "test-time missing-rate curves from 0 to 0.9",
    "robustness": "robustness of the best fusion model to noise, feature dropout and a "
    "missing modality",
}
"""The analyses of the report that evaluate absent modalities, and what each shows."""

# Fields other parts of the benchmark record; where one is absent the checklist says so.
TUNING = "tuning"
"""``results.json``: method -> its tuning record (``TuningResult.as_dict()``)."""
TRIALS = "trials"
"""``results.json``'s ``config``: the trials every method was given (``--trials N``)."""
CV = "cv"
"""``results.json``'s ``config``: the folds of K-fold cross-validation (``--cv K``)."""
COLLAPSED = "collapsed"
"""A run row: the run predicted one class (or constant values) for every test sample."""
FOLD = "fold"
"""A run row: its outer fold under ``--cv K``."""

_VIEW = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<modality>[^\[\]]+)\]$")


def reads_one_modality(method: str, modalities: Sequence[str]) -> str | None:
    """The modality ``method`` reads alone (``unimodal[pix]`` -> ``pix``; every method on a data
    set of one modality), or None for a method that reads several."""
    if len(modalities) == 1:
        return modalities[0]
    match = _VIEW.match(method)
    if match and match["modality"] in modalities:
        return match["modality"]
    return None


def _flags(column: pd.Series) -> pd.Series:
    """A column of flags as booleans (a missing value is False)."""
    return column.map(lambda v: v is not None and v == v and bool(v)).astype(bool)


def counted_runs(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The runs that count as results, and the methods left out with why: a method with a
    collapsed run (the ``collapsed`` column, where the runs record one) is not counted."""
    if COLLAPSED not in runs or runs.empty:
        return runs, []
    collapsed = runs[_flags(runs[COLLAPSED])]
    left_out = []
    for method, group in collapsed.groupby("method", sort=False):
        seeds = ", ".join(str(int(s)) for s in group["seed"])
        left_out.append(
            {
                "method": str(method),
                "reason": f"collapsed (one class or constant output for every test sample) "
                f"on seed {seeds}",
            }
        )
    names = {entry["method"] for entry in left_out}
    return runs[~runs["method"].isin(names)], left_out


def decide(
    runs: pd.DataFrame,
    outputs: Mapping[str, Sequence[Tensor]],
    targets: Sequence[Tensor],
    metric: Metric,
    modalities: Sequence[str],
    seed: int = 0,
    test_train_ratio: float | None = None,
) -> dict[str, Any]:
    """The verdict's numbers, as JSON values (``results.json``'s ``verdict.comparison``).

    Args:
        runs: one row per (method, seed) with ``method``, ``family``, the test ``metric`` and
            its validation score ``val_<metric>``.
        outputs: method -> its test outputs per seed, in the order of ``targets``.
        targets: the test targets of each seed's split.
        metric: the leaderboard's metric (its direction decides what is better).
        modalities: the data set's modalities (a method reads one when it is ``name[m]``).
        seed: seeds the bootstrap (the leaderboard's intervals use 0).
        test_train_ratio: under K-fold cross-validation (``outputs`` and ``targets`` are then
            per (seed, fold) replicate), ``n_test / n_train`` of a replicate: the intervals and
            paired tests are the corrected resampled t-test over the replicates
            (:func:`~intermodal.bench.significance.corrected_t`).

    Returns:
        ``chosen`` (the method chosen on validation: its validation and test scores, the 95%
        interval of its test score, the modality it reads alone or None, the methods tied with
        it on validation), ``unimodal``, ``classical``, ``multimodal`` and ``neural`` (the
        comparisons that apply, each the other method's scores, the methods it was chosen
        among, and ``difference``: chosen minus it, with interval, p-value and test),
        ``test_maximum``, ``not_counted``; None where a part does not apply.
    """
    counted, not_counted = counted_runs(runs)
    ratio = test_train_ratio
    record: dict[str, Any] = {
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "alpha": ALPHA,
        "seeds": len(targets),
        "paired_test": (
            CORRECTED
            if test_train_ratio is not None
            else "t over seeds"
            if len(targets) >= MIN_SEEDS
            else "bootstrap over test samples"
        ),
        "replicates": REPLICATES,
        "modalities": list(modalities),
        "not_counted": not_counted,
        "chosen": None,
        "unimodal": None,
        "classical": None,
        "multimodal": None,
        "neural": None,
        "test_maximum": None,
    }
    if ratio is not None:  # the replicates are folds x seeds
        seeds = int(runs["seed"].nunique()) if "seed" in runs and len(runs) else 1
        record.update(seeds=seeds, folds=len(targets) // seeds, test_train_ratio=ratio)
    choice = chosen_on_validation(counted, metric)
    if choice is None:
        return record
    families = counted.groupby("method", sort=False)["family"].first().astype(str).to_dict()
    tested = counted.groupby("method", sort=False)[metric.name].mean()
    candidates = [m for m in choice.scores if m in outputs and math.isfinite(tested[m])]
    sign = 1.0 if metric.higher_is_better else -1.0

    def reads(method: str) -> str | None:
        return reads_one_modality(method, modalities)

    def best_of(names: list[str]) -> str | None:
        scores = {name: choice.scores[name] for name in names}
        return max(scores, key=lambda n: sign * scores[n]) if scores else None  # first of a tie

    chosen = choice.method
    several = len(modalities) > 1
    one = [m for m in candidates if several and reads(m) is not None]
    many = [m for m in candidates if several and reads(m) is None]
    classical = [m for m in candidates if families[m] == "classical" and not _VIEW.match(m)]
    neural = [m for m in candidates if families[m] != "classical" and not _VIEW.match(m)]
    roles: dict[str, list[str]] = {}
    if several and reads(chosen) is None:
        roles["unimodal"] = one
    elif several:
        roles["multimodal"] = many
    if chosen in classical:
        roles["neural"] = neural if several else [m for m in candidates if m not in classical]
    else:
        roles["classical"] = classical
    others = {role: best_of([m for m in names if m != chosen]) for role, names in roles.items()}
    involved = [chosen, *dict.fromkeys(m for m in others.values() if m is not None)]
    tests = significance(
        {m: outputs[m] for m in involved}, targets, metric, seed=seed, test_train_ratio=ratio
    )

    def describe(method: str) -> dict[str, Any]:
        return {
            "method": method,
            "family": families[method],
            "reads": reads(method),
            "validation": choice.scores[method],
            "test": float(tested[method]),
            "low": tests.low[method],
            "high": tests.high[method],
        }

    record["chosen"] = {
        **describe(chosen),
        "tied_on_validation": [
            m for m in candidates if m != chosen and choice.scores[m] == choice.scores[chosen]
        ],
        "of": len(candidates),
    }
    for role, other in others.items():
        if other is None:
            continue
        difference = paired_difference(
            outputs[chosen], outputs[other], targets, metric, seed=seed, test_train_ratio=ratio
        )
        record[role] = {
            **describe(other),
            "among": [m for m in roles[role] if m != chosen],
            "difference": dataclasses.asdict(difference),
        }
    top = max(candidates, key=lambda m: sign * tested[m])
    if tested[chosen] == tested[top]:  # a tie at the top goes to the validation choice
        top = chosen
    record["test_maximum"] = {"method": top, "test": float(tested[top]), "of": len(candidates)}
    return record


def describe_split(dataset: Any) -> str:
    """How the benchmark splits ``dataset`` (see :func:`~intermodal.data.split_dataset`)."""
    if "split" in dataset.metadata:
        split = np.asarray(dataset.metadata["split"]).astype(str)
        if np.isin(split, ["val", "valid"]).any():
            val = "its own validation rows"
        elif "group" in dataset.metadata:
            val = "a validation part of whole groups drawn from its training rows"
        else:
            val = "a stratified validation part drawn from its training rows"
        return f"the data set's own split column (train / test), with {val}"
    how = {
        "classification": "stratified by class",
        "regression": "stratified on 10 quantile bins of the target",
        "multilabel": "at random (multi-label)",
    }[dataset.task]
    return f"a 70/15/15 train/validation/test split {how}, drawn by each seed"


def describe_device(config: Any) -> str:
    """Where the runs trained, in words."""
    from intermodal.training import resolve_device

    if config.backend == "ray":
        return f"the Ray cluster's workers (accelerator {config.accelerator})"
    device = resolve_device(config.accelerator)
    if device.type == "cuda":
        return f"{config.devices} x {torch.cuda.get_device_name(device)}"
    return "CPU" if config.devices == 1 else f"CPU ({config.devices} processes)"


def record_protocol(
    dataset: Any, config: Any, seeds: Sequence[int], wall_time_s: float
) -> dict[str, Any]:
    """The facts of the run that the checklist reports and no run row holds (``results.json``'s
    ``verdict.protocol``): the data set's size, how it was split, each seed's (under ``--cv``,
    each seed's and fold's) part sizes and test samples with an absent modality, the wall time
    of the benchmark (training, testing and analyses), and its compute (jobs, threads per run,
    backend, device, cores).

    Args:
        dataset: the data set the benchmark ran on (after ``--modalities``).
        config: its ``BenchConfig``.
        seeds: the seeds, in order.
        wall_time_s: seconds from the benchmark's start until its analyses ended.
    """
    from intermodal.bench import crossval
    from intermodal.training.context import available_cores

    folds = getattr(config, CV, None)
    parts = []
    for seed, fold in crossval.replicates(seeds, folds):
        train, val, test = crossval.replicate_split(dataset, seed, fold, folds)
        present = torch.stack([test.masks[m] for m in test.modality_names]).all(dim=0)
        parts.append(
            {
                "seed": seed,
                **({} if fold is None else {FOLD: fold}),
                "train": len(train),
                "val": len(val),
                "test": len(test),
                "test_incomplete": int((~present).sum()),
            }
        )
    return {
        "samples": len(dataset),
        "split": describe_split(dataset) if folds is None else crossval.describe(dataset, folds),
        "parts": parts,
        "wall_time_s": wall_time_s,
        "jobs": config.jobs if config.backend == "ray" else config.workers,
        "threads": config.context().threads,
        "backend": config.backend,
        "device": describe_device(config),
        "cores": available_cores(),
    }


def record(
    dataset: Any,
    config: Any,
    runs: pd.DataFrame,
    outputs: Mapping[str, Sequence[Tensor]],
    targets: Sequence[Tensor],
    metric: Metric,
    seeds: Sequence[int],
    wall_time_s: float,
    test_train_ratio: float | None = None,
) -> dict[str, Any]:
    """``results.json``'s ``verdict``: ``comparison`` (:func:`decide`) and ``protocol``
    (:func:`record_protocol`), for a benchmark of ``config`` on ``dataset`` (under K-fold
    cross-validation, ``outputs`` and ``targets`` per (seed, fold) and ``test_train_ratio``
    the correction of the paired tests)."""
    return {
        "comparison": decide(
            runs,
            outputs,
            targets,
            metric,
            dataset.modality_names,
            test_train_ratio=test_train_ratio,
        ),
        "protocol": record_protocol(dataset, config, seeds, wall_time_s),
    }


# --- sentences -----------------------------------------------------------------------------------
def _score(value: float, sign: str = "") -> str:
    """A score or a difference in the metric's units: three decimals below 10, four digits
    above (``sign="+"`` shows the sign)."""
    return f"{value:{sign}.3f}" if abs(value) < 10 else f"{value:{sign}.4g}"


def _scored(entry: Mapping[str, Any]) -> str:
    """``0.984 [0.976, 0.991]``: the test score and its 95% interval."""
    return f"{_score(entry['test'])} [{_score(entry['low'])}, {_score(entry['high'])}]"


def _p(difference: Mapping[str, Any], replicates: int) -> str:
    """``p = 0.41``, ``p < 0.001``, or for a bootstrap at its resolution ``p <= 0.002``."""
    value = difference["p_value"]
    floor = 2 / (replicates + 1) if difference["method"].startswith("bootstrap") else 0.0
    if value <= floor * (1 + 1e-9):
        return f"p <= {floor:.2g}"
    return "p < 0.001" if value < 0.001 else f"p = {value:.2g}"


def _paired(chosen: str, other: Mapping[str, Any], replicates: int = REPLICATES) -> str:
    """``difference gmu - linear +0.028 [+0.015, +0.041], p < 0.001``."""
    d = other["difference"]
    interval = f"[{_score(d['low'], '+')}, {_score(d['high'], '+')}]"
    estimate = f"{_score(d['estimate'], '+')} {interval}"
    return f"difference {chosen} - {other['method']} {estimate}, {_p(d, replicates)}"


def _outcome(other: Mapping[str, Any], higher: bool, alpha: float) -> int:
    """+1 where the chosen method is significantly better than ``other``, -1 where it is
    significantly worse, 0 where the paired test cannot tell them apart."""
    d = other["difference"]
    if d["p_value"] >= alpha or d["estimate"] == 0:
        return 0
    return 1 if (d["estimate"] > 0) == higher else -1


def _relation(difference: float, higher: bool) -> str:
    """How far the chosen method is from another, in the metric's units and direction."""
    size = _score(abs(difference))
    if higher:
        return f"{size} {'above' if difference > 0 else 'below'}"
    return f"{size} {'lower (better) than' if difference < 0 else 'higher (worse) than'}"


def _best(kind: str, other: Mapping[str, Any]) -> str:
    """``the best unimodal model (chosen on validation among a, b, c), b``, or ``the only
    unimodal model, b``."""
    names = other["among"]
    if len(names) == 1:
        return f"the only {kind}, {other['method']}"
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"the best {kind} (chosen on validation among {shown}), {other['method']}"


def sentences(verdict: Mapping[str, Any], skipped: Sequence[Mapping[str, str]] = ()) -> list[str]:
    """The verdict in sentences: does fusion help (against the best unimodal model), is a
    classical baseline as good, and which method the test maximum would have been.

    Args:
        verdict: ``decide``'s record.
        skipped: the benchmark's skipped methods (``{"method", "reason"}``), to say why a
            baseline is missing.
    """
    chosen = verdict.get("chosen")
    if chosen is None:
        return [
            "No verdict: no counted run has a validation score to choose a method on "
            "(results of an earlier version, or every run collapsed)."
        ]
    higher, alpha = verdict["higher_is_better"], verdict["alpha"]
    name = chosen["method"]
    out = [_fusion_sentence(verdict, chosen, higher, alpha)]
    out.append(_classical_sentence(verdict, chosen, higher, alpha, skipped))
    if chosen["tied_on_validation"]:
        out.append(
            f"{name} is tied on validation with {', '.join(chosen['tied_on_validation'])} "
            f"(validation {verdict['metric']} {_score(chosen['validation'])}); the first listed "
            "is taken."
        )
    top = verdict["test_maximum"]
    best = "highest" if higher else "lowest"
    if top["method"] == name:
        out.append(
            f"Selection: {name}, chosen on validation, also has the {best} test "
            f"{verdict['metric']} of the {top['of']} methods; the verdict rests on the validation "
            "choice all the same, since the best score taken on the test part is optimistic."
        )
    else:
        out.append(
            f"Selection: the {best} test {verdict['metric']}, {_score(top['test'])} by "
            f"{top['method']}, is the best of {top['of']} methods on the test part itself, so it "
            f"is optimistic; the verdict uses the method chosen on validation, {name}."
        )
    for entry in verdict.get("not_counted", []):
        out.append(f"Not counted: {entry['method']}, {entry['reason']}.")
    return out


def _fusion_sentence(
    verdict: Mapping[str, Any], chosen: Mapping[str, Any], higher: bool, alpha: float
) -> str:
    name, metric = chosen["method"], verdict["metric"]
    kind = "; a classical baseline on all modalities" if _is_classical(chosen) else ""
    scored = f"{name} (chosen on validation{kind}) scores {_scored(chosen)} on test"
    if len(verdict["modalities"]) == 1:
        return (
            f"There is nothing to fuse: the data set has one modality "
            f"({verdict['modalities'][0]}); {scored}."
        )
    if chosen["reads"] is None:
        other = verdict.get("unimodal")
        if other is None:
            return (
                f"Whether fusion helps cannot be judged: no model that reads one modality ran "
                f"(add unimodal, linear or gbdt to --methods: their views unimodal[m], "
                f"linear[m] and gbdt[m] read one modality each); {scored}."
            )
        best = _best("unimodal model", other)
        paired = f"({_paired(name, other, verdict['replicates'])})"
        outcome = _outcome(other, higher, alpha)
        if outcome > 0:
            relation = _relation(other["difference"]["estimate"], higher)
            return f"Fusion helps: {scored}, {relation} {best} at {_scored(other)} {paired}."
        if outcome == 0:
            return (
                f"Fusion does not help here: {scored}, not distinguishable from {best} at "
                f"{_scored(other)} {paired}."
            )
        relation = _relation(other["difference"]["estimate"], higher)
        return (
            f"Fusion does not help here: {scored}, {relation} {best} at {_scored(other)} {paired}."
        )
    alone = (
        f"the model chosen on validation, {name}, reads one modality ({chosen['reads']}) and "
        f"scores {_scored(chosen)} on test"
    )
    other = verdict.get("multimodal")
    if other is None:
        return f"Fusion was not tried: every model that ran reads one modality; {alone}."
    several = _best("model that reads several", other)
    paired = f"({_paired(name, other, verdict['replicates'])})"
    outcome = _outcome(other, higher, alpha)
    if outcome == 0:
        return (
            f"Fusion does not help here: {alone}; {several}, is not distinguishable from it at "
            f"{_scored(other)} {paired}."
        )
    relation = _relation(other["difference"]["estimate"], higher)
    if outcome > 0:
        return (
            f"Fusion does not help here: {alone}, {relation} {several} at {_scored(other)} "
            f"{paired}."
        )
    return (
        f"Fusion helps on test though validation chose one modality: {alone}, {relation} "
        f"{several} at {_scored(other)} {paired}; {metric} on validation did not show it."
    )


def _classical_sentence(
    verdict: Mapping[str, Any],
    chosen: Mapping[str, Any],
    higher: bool,
    alpha: float,
    skipped: Sequence[Mapping[str, str]],
) -> str:
    name = chosen["method"]
    if _is_classical(chosen):
        other = verdict.get("neural")
        if other is None:
            return f"A classical baseline is chosen: {name}; no neural model ran beside it."
        best = _best("neural model", other)
        paired = f"({_paired(name, other, verdict['replicates'])})"
        outcome = _outcome(other, higher, alpha)
        if outcome == 0:
            return (
                f"A classical baseline is as good: {name} (chosen on validation) is not "
                f"distinguishable from {best} at {_scored(other)} {paired}."
            )
        relation = _relation(other["difference"]["estimate"], higher)
        if outcome > 0:
            return (
                f"A classical baseline is better: {name} (chosen on validation) scores "
                f"{relation} {best} at {_scored(other)} {paired}."
            )
        return (
            f"The neural models are better on test: {name} (chosen on validation) scores "
            f"{relation} {best} at {_scored(other)} {paired}."
        )
    other = verdict.get("classical")
    if other is None:
        why = [f"{s['method']}: {s['reason']}" for s in skipped if s["method"] in CLASSICAL]
        reason = f" ({'; '.join(why)})" if why else " (add linear or gbdt to --methods)"
        return f"No classical baseline on all modalities ran{reason}."
    best = _best("classical baseline on all modalities", other)
    paired = f"({_paired(name, other, verdict['replicates'])})"
    outcome = _outcome(other, higher, alpha)
    if outcome == 0:
        return (
            f"A classical baseline is as good: {best}, scores {_scored(other)} on test, not "
            f"distinguishable from {name} {paired}."
        )
    relation = _relation(-other["difference"]["estimate"], higher)
    if outcome > 0:
        return (
            f"The classical baselines are beaten: {best}, scores {_scored(other)} on test, "
            f"{relation} {name} {paired}."
        )
    return (
        f"A classical baseline is better: {best}, scores {_scored(other)} on test, {relation} "
        f"{name} {paired}, though validation chose {name}."
    )


CLASSICAL = ("linear", "gbdt")
"""The classical baselines on all modalities."""


def _is_classical(entry: Mapping[str, Any]) -> bool:
    return entry["family"] == "classical" and not _VIEW.match(entry["method"])


def small_test(
    verdict: Mapping[str, Any], protocol: Mapping[str, Any] | None, folds: int | None = None
) -> str | None:
    """A warning where the test part of a seed holds fewer than :data:`SMALL_TEST` samples:
    the interval width it implies, and the recommendation of ``--cv K``; None otherwise. Under
    K-fold cross-validation (``folds``) a seed tests every sample once, pooled over its folds:
    the warning then stands only where the whole data set is that small (:func:`_small_data`)."""
    if folds:
        return _small_data(verdict, protocol, folds)
    if not protocol or not protocol.get("parts"):
        return None
    sizes = [part["test"] for part in protocol["parts"]]
    smallest = min(sizes)
    if smallest >= SMALL_TEST:
        return None
    held = f"{smallest}" if len(set(sizes)) == 1 else f"{smallest} to {max(sizes)}"
    text = (
        f"Small test part: each seed tests on {held} samples (fewer than {SMALL_TEST}), so "
        "intervals are wide"
    )
    chosen = verdict.get("chosen")
    if chosen is not None and verdict.get("metric") == "accuracy":
        low, high = wilson(chosen["test"], smallest)
        text += (
            f": one sample moves an accuracy by {1 / smallest:.3f}, and an accuracy of "
            f"{_score(chosen['test'])} on {smallest} samples has a 95% (Wilson) interval of "
            f"[{low:.3f}, {high:.3f}] for one seed"
        )
    if chosen is not None:
        seeds = verdict.get("seeds", 0)
        text += (
            f"; {chosen['method']}'s interval over the {seeds} seed{'s' if seeds != 1 else ''} "
            f"here is {_score(chosen['high'] - chosen['low'])} wide"
        )
    total = protocol.get("samples")
    every = f" (all {total} samples)" if total else ""
    return (
        text + f". Run with --cv K (e.g. --cv 5): K-fold cross-validation tests every sample"
        f"{every} once per seed, so the intervals and paired tests rest on all of them."
    )


def _small_data(
    verdict: Mapping[str, Any], protocol: Mapping[str, Any] | None, folds: int
) -> str | None:
    """Under ``--cv folds``: a warning where even the pooled folds of a seed, every sample of
    the data set, hold fewer than :data:`SMALL_TEST` samples; None otherwise."""
    total = (protocol or {}).get("samples")
    if not total or total >= SMALL_TEST:
        return None
    text = (
        f"Small data: pooled over the {folds} folds, each seed tests every sample once, all "
        f"{total} of them (fewer than {SMALL_TEST}), so intervals stay wide"
    )
    chosen = verdict.get("chosen")
    if chosen is not None and verdict.get("metric") == "accuracy":
        low, high = wilson(chosen["test"], total)
        text += (
            f": an accuracy of {_score(chosen['test'])} on {total} samples has a 95% (Wilson) "
            f"interval of [{low:.3f}, {high:.3f}] for one seed"
        )
    if chosen is not None:
        text += (
            f"; {chosen['method']}'s corrected interval over the {folds} folds x "
            f"{verdict.get('seeds', 0)} seeds here is {_score(chosen['high'] - chosen['low'])} "
            "wide"
        )
    return (
        text + ". More seeds do not narrow it much (the folds share their samples); more data do."
    )


def wilson(proportion: float, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """The Wilson score interval of a proportion measured on ``n`` samples (an accuracy of one
    test part)."""
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    centre = (proportion + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(proportion * (1 - proportion) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# --- the checklist -------------------------------------------------------------------------------
def _runs(results: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(results.get("runs") or [])


def _tuning_item(results: Mapping[str, Any], runs: pd.DataFrame) -> str:
    tuning = results.get(TUNING)
    config = results.get("config", {})
    self_chosen = (
        sorted(runs.loc[runs["chosen"].notna(), "method"].unique()) if "chosen" in runs else []
    )
    chose = (
        f"; {', '.join(self_chosen)} "
        f"{'choose their' if len(self_chosen) > 1 else 'chooses its'} own penalty or boosting "
        "rounds on validation (results.csv, column chosen)"
        if self_chosen
        else ""
    )
    if not tuning:
        trials = config.get(TRIALS)
        if trials:  # the budget is recorded but no per-method record: say only what is known
            return f"{trials} trials per method (no per-method tuning record){chose}."
        return f"untuned: every method at its default setting, one trial each{chose}."
    budgets, tried, moved, exhausted, scoring = set(), [], [], [], set()
    for key, entry in tuning.items():
        method = re.sub(r"__fold\d+$", "", key)  # under --cv, each fold's own record
        trials = entry.get("trials") or []
        budgets.add(entry.get("budget", len(trials)))
        tried += [t.get("state") for t in trials]
        folds = int(entry.get("folds") or 1)
        scoring.add(f"cross-validated over {folds} folds" if folds > 1 else "one validation part")
        if entry.get("exhausted") and method not in exhausted:
            exhausted.append(method)
        kept = entry.get("chosen") in (0, None) or entry.get("params") == entry.get("defaults")
        if not kept and method not in moved:
            moved.append(method)
    methods = list(dict.fromkeys(re.sub(r"__fold\d+$", "", key) for key in tuning))
    equal = (
        f"equal budgets of {budgets.pop()} trials"
        if len(budgets) == 1
        else f"unequal budgets ({sorted(budgets)} trials)"
    )
    text = (
        f"{equal} for {len(methods)} method{'s' * (len(methods) != 1)} (trial 0 their "
        f"defaults), scored on {' and '.join(sorted(scoring))}; {len(tried)} trials, "
        f"{tried.count('pruned')} pruned, {tried.count('failed')} failed"
    )
    if exhausted:
        text += f"; every setting tried where a space holds fewer: {', '.join(exhausted)}"
    text += (
        f"; {len(moved)} chose a setting other than the defaults ({', '.join(moved)}; the "
        "leaderboard's params column)"
        if moved
        else "; every method kept its defaults (no trial beat them by a standard error)"
    )
    untuned = sorted(set(runs["method"]) - set(methods)) if "method" in runs else []
    rest = f"; untuned: {', '.join(untuned)}" if untuned else ""
    return f"{text}{rest}{chose}."


def cv_folds(results: Mapping[str, Any]) -> int | None:
    """The K of K-fold cross-validation (``--cv K``) where the results record one (the
    configuration's ``cv``, or the runs' ``fold`` column), else None."""
    folds = (results.get("config") or {}).get(CV)
    if folds:
        return int(folds)
    runs = _runs(results)
    return int(runs[FOLD].nunique()) if FOLD in runs else None


def _splits_item(results: Mapping[str, Any], protocol: Mapping[str, Any]) -> str:
    config = results.get("config", {})
    seeds, first = int(config.get("seeds", 0)), int(config.get("first_seed", 0))
    listed = ", ".join(str(first + s) for s in range(seeds))
    folds = cv_folds(results)
    same = "the same folds" if folds else "the same split"
    text = f"{seeds} seed{'s' if seeds != 1 else ''} ({listed}), {same} for every method"
    if protocol:
        sizes = []
        for part, word in (("train", "train"), ("val", "validation"), ("test", "test")):
            values = sorted({p[part] for p in protocol["parts"]})
            shown = f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,} to {values[-1]:,}"
            sizes.append(f"{word} {shown}")
        per = "fold" if folds and any(FOLD in p for p in protocol["parts"]) else "seed"
        text += (
            f"; {protocol['split']}, of {protocol['samples']:,} samples: "
            f"{', '.join(sizes)} samples per {per}"
        )
    text += (
        f"; {folds}-fold cross-validation, each sample tested once per seed"
        if folds
        else "; one held-out test part per seed (no cross-validation)"
    )
    return text + "."


def _statistics_item(
    results: Mapping[str, Any], verdict: Mapping[str, Any], runs: pd.DataFrame
) -> str:
    config = results.get("config", {})
    seeds = int(config.get("seeds", 0))
    how = config.get("intervals") or verdict.get("paired_test", "")
    if how == CORRECTED:
        folds = cv_folds(results) or 0
        method = (
            f"the corrected resampled t-test of Nadeau & Bengio (2003) over the {folds} folds x "
            f"{seeds} seeds (the variance of the mean times 1/J + n_test/n_train instead of 1/J, "
            f"for the J = {folds * seeds} replicates' overlapping training sets; t with J - 1 "
            "degrees of freedom)"
        )
    elif how.startswith("bootstrap"):
        method = (
            f"a percentile bootstrap over test samples ({verdict.get('replicates', REPLICATES)} "
            f"replicates, the same resampled samples for every method; under {MIN_SEEDS} seeds)"
        )
    else:
        method = f"Student t over the {seeds} seeds and paired t-tests"
    methods = runs["method"].nunique() if "method" in runs else 0
    text = (
        f"95% intervals of each method's mean {config.get('metric', '')} and paired tests by "
        f"{method}; alpha {verdict.get('alpha', ALPHA)}; the verdict's tests are paired "
        f"between the two methods each names; {methods} methods on the leaderboard, with no "
        "correction for multiple comparisons; the winner is the best mean validation score"
    )
    if COLLAPSED in runs:
        collapsed = int(_flags(runs[COLLAPSED]).sum())
        text += (
            f"; {collapsed} collapsed run{'s' if collapsed != 1 else ''} not counted"
            if collapsed
            else "; no run collapsed (one class or constant output for every test sample)"
        )
    else:
        text += "; no collapse check recorded"
    return text + "."


def _missing_item(
    results: Mapping[str, Any], protocol: Mapping[str, Any], analysis: Mapping[str, Any] | None
) -> str:
    config = results.get("config", {})
    parts = (protocol or {}).get("parts") or []
    if parts:
        absent = [p["test_incomplete"] for p in parts]
        test = (
            "the test part is complete (every modality present)"
            if not any(absent)
            else f"{absent[0]:,} of {parts[0]['test']:,} test samples lack a modality (seed "
            f"{parts[0]['seed']})"
        )
    else:
        test = "absent modalities in the test part not recorded"
    rate = float(config.get("train_missing") or 0.0)
    train = (
        f"training hides each modality with probability {rate:g} (--train-missing)"
        if rate
        else "no modality hidden in training (--train-missing 0)"
    )
    strategy = config.get("missing", "zero")
    if strategy == "dropout":
        strategy += f", modality dropout {config.get('modality_dropout')}"
    if analysis is None:
        ran = "no missing-modality analysis (the report's analyses did not run)"
    else:
        done, not_done = [], []
        for name, what in MISSING_ANALYSES.items():
            entry = analysis.get(name)
            if isinstance(entry, dict) and "skipped" not in entry:
                done.append(what)
            elif isinstance(entry, dict):
                not_done.append(f"{name} skipped: {entry['skipped']}")
        ran = (
            "analyses: "
            + ("; ".join(done) if done else "none")
            + (f" ({'; '.join(not_done)})" if not_done else "")
        )
    return (
        f"{test}; {train}; absent modalities: the {strategy} strategy (--missing-strategy); {ran}."
    )


def format_seconds(value: float) -> str:
    """``1,234 s``, ``12 s``, ``3.4 s``, ``0.05 s``."""
    if value >= 10:
        return f"{value:,.0f} s"
    return f"{value:.1f} s" if value >= 1 else f"{value:.2g} s"


def _compute_item(
    results: Mapping[str, Any], protocol: Mapping[str, Any], runs: pd.DataFrame
) -> str:
    parts = []
    if "wall_time_s" in protocol:
        wall = format_seconds(protocol["wall_time_s"])
        parts.append(f"wall time {wall} (training, testing, analyses)")
    if "train_time_s" in runs and len(runs):
        total = float(runs["train_time_s"].sum())
        parts.append(f"summed training time {format_seconds(total)} over {len(runs)} runs")
        per = runs.groupby("method", sort=False)["train_time_s"].mean().sort_values()
        slow = ", ".join(f"{m} {format_seconds(t)}" for m, t in per[::-1][:3].items())
        parts.append(
            f"per method and run: slowest {slow}; fastest {per.index[0]} "
            f"{format_seconds(per.iloc[0])} (every method: the leaderboard's train_time_s)"
        )
    tuning = results.get(TUNING) or {}
    tuned = sum(float(entry.get("time_s") or 0.0) for entry in tuning.values())
    if tuned:
        parts.append(f"tuning {format_seconds(tuned)}")
    if {"jobs", "threads", "backend", "device", "cores"} <= set(protocol):
        parts.append(
            f"{protocol['jobs']} job{'s' if protocol['jobs'] != 1 else ''} x "
            f"{protocol['threads']} thread{'s' if protocol['threads'] != 1 else ''} per run, "
            f"backend {protocol['backend']}, on {protocol['device']} ({protocol['cores']} cores)"
        )
    return "; ".join(parts) + "." if parts else "not recorded."


def _baselines_item(results: Mapping[str, Any], runs: pd.DataFrame) -> str:
    config = results.get("config", {})
    modalities = config.get("modalities") or []
    methods = list(dict.fromkeys(runs["method"])) if "method" in runs else []
    one = [m for m in methods if len(modalities) > 1 and reads_one_modality(m, modalities)]
    classical = [m for m in methods if m in CLASSICAL]
    text = (
        f"{len(one)} models that read one modality" + (f" ({', '.join(one)})" if one else "")
        if len(modalities) > 1
        else "one modality: no unimodal comparison applies"
    )
    text += "; classical baselines on all modalities: " + (", ".join(classical) or "none")
    text += "; SimBaMM (the late-fusion Transformer baseline): " + (
        "ran" if "simbamm" in methods else "not run"
    )
    return text + "."


CHECKLIST = (
    "Tuning budget",
    "Seeds and splits",
    "Statistics",
    "Missing modalities",
    "Compute",
    "Baselines",
)
"""The checklist's items, in order."""


def checklist(
    results: Mapping[str, Any], analysis: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """The reliability checklist, filled in from ``results.json`` (and ``analysis.json``):
    ``[(item, what the run did)]`` in the order of :data:`CHECKLIST`."""
    runs = _runs(results)
    record = results.get("verdict") or {}
    verdict, protocol = record.get("comparison") or {}, record.get("protocol") or {}
    items = (
        _tuning_item(results, runs),
        _splits_item(results, protocol),
        _statistics_item(results, verdict, runs),
        _missing_item(results, protocol, analysis),
        _compute_item(results, protocol, runs),
        _baselines_item(results, runs),
    )
    return list(zip(CHECKLIST, items, strict=True))


# --- rendering -----------------------------------------------------------------------------------
QUESTION = "Does fusion help here?"
CHECKLIST_TITLE = "Reliability checklist"
CHECKLIST_SOURCE = (
    'after Rheude, Eils & Wild, "Fusion or Confusion? Multimodal Complexity Is Not All You '
    'Need", arXiv 2512.22991, 2025'
)


def read(folder: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``results.json`` and ``analysis.json`` (None where absent) of a results folder (a
    :class:`~intermodal.bench.results.ResultsFolder`): what the renderers read."""
    results = folder.read_json("results.json")
    present = (folder.path / "analysis.json").is_file()
    return results, folder.read_json("analysis.json") if present else None


def paragraphs(results: Mapping[str, Any]) -> list[str]:
    """The verdict's sentences and, where the test part is small, the warning: the text of the
    'does fusion help here?' section."""
    record = results.get("verdict")
    if not record:
        return [
            "No verdict recorded: an earlier version wrote these results; rebuild them with the "
            "same intermodal bench command and --resume --output (saved runs are not trained "
            "again)."
        ]
    verdict = record.get("comparison") or {}
    out = sentences(verdict, results.get("skipped") or [])
    warning = small_test(verdict, record.get("protocol"), cv_folds(results))
    return [*out, warning] if warning else out


def markdown(results: Mapping[str, Any], analysis: Mapping[str, Any] | None = None) -> str:
    """The verdict and the checklist as Markdown (the end of ``summary.md``)."""
    lines = [f"## {QUESTION}\n", *(f"{p}\n" for p in paragraphs(results))]
    lines.append(f"## {CHECKLIST_TITLE}\n\n({CHECKLIST_SOURCE})\n")
    lines += [f"- **{item}**: {text}" for item, text in checklist(results, analysis)]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, first: str, indent: str) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces only (never inside an option
    such as ``--cv`` or a hyphenated word)."""
    return textwrap.wrap(
        text, width, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False
    )


def console(
    results: Mapping[str, Any], analysis: Mapping[str, Any] | None = None, width: int = 100
) -> str:
    """The verdict and the checklist as text lines of at most ``width`` characters."""
    lines = [QUESTION]
    for paragraph in paragraphs(results):
        lines += _wrap(paragraph, width, "  ", "  ")
    lines += _wrap(f"{CHECKLIST_TITLE} ({CHECKLIST_SOURCE})", width, "", "")
    for item, text in checklist(results, analysis):
        lines += _wrap(f"{item}: {text}", width, "- ", "  ")
    return "\n".join(lines)


def html_verdict(results: Mapping[str, Any]) -> str:
    """The 'does fusion help here?' section of the report."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs(results))
    return f'<section id="verdict"><h2>{html.escape(QUESTION)}</h2>{body}</section>'


def html_checklist(results: Mapping[str, Any], analysis: Mapping[str, Any] | None = None) -> str:
    """The checklist section of the report."""
    items = "".join(
        f"<li><strong>{html.escape(item)}</strong>: {html.escape(text)}</li>"
        for item, text in checklist(results, analysis)
    )
    return (
        f'<section id="checklist"><h2>{html.escape(CHECKLIST_TITLE)}</h2>'
        f"<p>{html.escape(CHECKLIST_SOURCE[0].upper() + CHECKLIST_SOURCE[1:])}.</p>"
        f"<ul>{items}</ul></section>"
    )
