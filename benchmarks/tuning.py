"""Does tuning help, or hurt where the defaults are already good?

For each method: tune on the first seed's training + validation data (cross-validated on small
data, see ``intermodal.tuning``), then train the defaults, the setting the selection rule
chose, and the naively best trial (the highest validation mean, no rule) on every seed, and
test each once. ``--repeats R`` repeats this protocol R times on disjoint seed blocks (repeat r
tunes on seed ``r * seeds``), so R independent tuning decisions per method are tested. Prints
one row per method and repeat, the means over repeats and the median method's change;
``--output`` keeps the rows and every trial as JSON.

    python benchmarks/tuning.py                                  # mfeat fou,pix, 8 trials
    python benchmarks/tuning.py --subsample 200                  # small data: 5-fold CV tuning
    python benchmarks/tuning.py --subsample 200 --tuning-folds 1 # small data, fixed validation
    python benchmarks/tuning.py --pruner none                    # the cost of not pruning
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import intermodal.bench.methods  # noqa: F401  (registers the methods)
from intermodal.bench.registry import Job, resolve_methods
from intermodal.data import load_dataset
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import holdout_split, split_dataset, standardize
from intermodal.metrics import metric_info, predict_outputs
from intermodal.training import RunContext, seed_everything
from intermodal.tuning import PRUNERS, apply_params, restrict, tune, tuning_splits

LABELS = ("defaults", "tuned", "naive")


def test_score(job: Job, data: MultimodalDataset, context: RunContext) -> float:
    """Build, train and test one run as the benchmark does (one seed's standardized split)."""
    splits = restrict(standardize(split_dataset(data, seed=context.seed)), job.modalities)
    seed_everything(context.seed)
    model = job.build(splits.train, context)
    result = context.fit(model, splits)
    accuracy = metric_info(data.task, "accuracy")
    return float(accuracy.compute(predict_outputs(result.model, splits.test), splits.test.targets))


def protocol(
    job: Job, data: MultimodalDataset, seeds: list[int], base: RunContext, args: Any
) -> dict[str, Any]:
    """Tune ``job`` on ``seeds[0]``'s data, then test the defaults, the chosen and the naively
    best setting on every seed."""
    first = split_dataset(data, seed=seeds[0])
    folds = tuning_splits(first, seed=seeds[0], folds=args.tuning_folds or None)
    start = time.perf_counter()
    result = tune(
        job.build,
        folds,
        base.with_(seed=seeds[0]),
        args.trials,
        space=job.space,
        modalities=job.modalities,
        pruner=args.pruner,
    )
    tuning_time = time.perf_counter() - start
    complete = [t for t in result.trials if t.state == "complete"]
    naive = max(complete, key=lambda t: (t.mean, -t.number)).params
    cache: dict[str, list[float]] = {}
    scores = {}
    for label, params in zip(LABELS, (result.defaults, result.params, naive), strict=True):
        key = json.dumps(params, sort_keys=True)
        if key not in cache:
            contexts = [apply_params(base.with_(seed=s), params) for s in seeds]
            cache[key] = [test_score(job, data, c) for c in contexts]
        scores[label] = cache[key]
    return {
        "method": job.name,
        "seeds": seeds,
        "folds": len(folds),
        **{f"{k}_mean": float(np.mean(v)) for k, v in scores.items()},
        **scores,
        "tuning_time_s": tuning_time,
        "epochs": sum(sum(t.epochs) for t in result.trials),
        "pruned": sum(t.state == "pruned" for t in result.trials),
        "failed": sum(t.state == "failed" for t in result.trials),
        "chosen": result.selection.chosen if result.selection else 0,
        "tuning": result.as_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="early,lmf,unimodal")
    parser.add_argument("--modalities", default="fou,pix")
    parser.add_argument("--subsample", type=int, default=0, help="stratified subsample size")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pruner", default="quartile", choices=PRUNERS)
    parser.add_argument("--tuning-folds", type=int, default=0, help="0: automatic")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    data = load_dataset("mfeat").select(args.modalities.split(","))
    if args.subsample:
        data, _ = holdout_split(data, size=1 - args.subsample / len(data), seed=1234)
    base = RunContext(max_epochs=args.epochs, threads=1, accelerator="cpu")
    jobs, _ = resolve_methods(args.methods, data)
    print(
        f"mfeat {args.modalities}, {len(data)} samples; {args.trials} trials, pruner "
        f"{args.pruner}; {args.repeats} repeat(s) of: tune on the first of {args.seeds} seeds, "
        "test accuracy on each"
    )
    print(
        f"{'method':<14}{'seeds':>7}{'defaults':>9}{'tuned':>8}{'naive':>8}{'tune s':>8}"
        f"{'epochs':>7}  chosen"
    )
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for repeat in range(args.repeats):
        seeds = list(range(repeat * args.seeds, (repeat + 1) * args.seeds))
        for job in jobs:
            row = protocol(job, data, seeds, base, args)
            rows.append(row)
            print(
                f"{job.name:<14}{seeds[0]:>4}-{seeds[-1]:<2}{row['defaults_mean']:>9.4f}"
                f"{row['tuned_mean']:>8.4f}{row['naive_mean']:>8.4f}{row['tuning_time_s']:>8.1f}"
                f"{row['epochs']:>7}  trial {row['chosen']} ({row['folds']} folds; pruned "
                f"{row['pruned']}, failed {row['failed']})"
            )
    print(f"means over {args.repeats} repeat(s) x {args.seeds} seeds:")
    means: dict[str, dict[str, float]] = {}
    for job in jobs:
        mine = [r for r in rows if r["method"] == job.name]
        means[job.name] = {k: float(np.mean([r[f"{k}_mean"] for r in mine])) for k in LABELS}
        cells = "".join(f"{means[job.name][k]:>9.4f}" for k in LABELS)
        print(f"{job.name:<14}{cells}")
    for label in ("tuned", "naive"):
        deltas = [m[label] - m["defaults"] for m in means.values()]
        worse = sum(r[f"{label}_mean"] < r["defaults_mean"] for r in rows)
        print(
            f"{label}: median method {statistics.median(m['defaults'] for m in means.values()):.4f}"
            f" -> {statistics.median(m[label] for m in means.values()):.4f}; median change "
            f"{statistics.median(deltas):+.4f}; below the defaults in {worse} of {len(rows)} "
            "tuning decisions"
        )
    total = sum(r["tuning_time_s"] for r in rows)
    print(
        f"tuning time {total:.0f} s, {sum(r['epochs'] for r in rows)} epochs; "
        f"all {time.perf_counter() - started:.0f} s"
    )
    if args.output:
        Path(args.output).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
