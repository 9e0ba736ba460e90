"""Does tuning help, or hurt where the defaults are already good?

For each method: tune on the first seed's training + validation data (cross-validated on small
data, see ``intermodal.tuning``), then train the defaults, the setting the selection rule
chose, and the naively best trial (the highest validation mean, no rule) on every seed, and
test each once. Prints one row per method and the median method's change; ``--output`` keeps
the rows and every trial as JSON.

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
from intermodal.tuning import apply_params, restrict, tune, tuning_splits


def test_score(job: Job, data: MultimodalDataset, context: RunContext) -> float:
    """Build, train and test one run as the benchmark does (one seed's standardized split)."""
    splits = restrict(standardize(split_dataset(data, seed=context.seed)), job.modalities)
    seed_everything(context.seed)
    model = job.build(splits.train, context)
    result = context.fit(model, splits)
    accuracy = metric_info(data.task, "accuracy")
    return float(accuracy.compute(predict_outputs(result.model, splits.test), splits.test.targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="early,lmf,unimodal")
    parser.add_argument("--modalities", default="fou,pix")
    parser.add_argument("--subsample", type=int, default=0, help="stratified subsample size")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pruner", default="median")
    parser.add_argument("--tuning-folds", type=int, default=0, help="0: automatic")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    data = load_dataset("mfeat").select(args.modalities.split(","))
    if args.subsample:
        fraction = 1 - args.subsample / len(data)
        data, _ = holdout_split(data, size=fraction, seed=1234)
    base = RunContext(max_epochs=args.epochs, threads=1, accelerator="cpu")
    jobs, _ = resolve_methods(args.methods, data)
    seeds = list(range(args.seeds))
    first = split_dataset(data, seed=seeds[0])
    folds = tuning_splits(first, seed=seeds[0], folds=args.tuning_folds or None)
    print(
        f"mfeat {args.modalities}, {len(data)} samples; tuning on {len(folds)} fold(s) of "
        f"{len(first.train) + len(first.val)} training + validation samples; {args.trials} "
        f"trials, pruner {args.pruner}; test accuracy over seeds {seeds}"
    )
    rows: list[dict[str, Any]] = []
    header = f"{'method':<14}{'defaults':>9}{'tuned':>8}{'naive':>8}{'tune s':>8}  chosen"
    print(header)
    for job in jobs:
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
        scores: dict[str, list[float]] = {}
        cache: dict[str, list[float]] = {}
        for label, params in (
            ("defaults", result.defaults),
            ("tuned", result.params),
            ("naive", naive),
        ):
            key = json.dumps(params, sort_keys=True)
            if key not in cache:
                cache[key] = [
                    test_score(job, data, apply_params(base.with_(seed=s), params)) for s in seeds
                ]
            scores[label] = cache[key]
        row = {
            "method": job.name,
            **{f"{k}_mean": float(np.mean(v)) for k, v in scores.items()},
            **{k: v for k, v in scores.items()},
            "tuning_time_s": tuning_time,
            "pruned": sum(t.state == "pruned" for t in result.trials),
            "failed": sum(t.state == "failed" for t in result.trials),
            "tuning": result.as_dict(),
        }
        rows.append(row)
        chosen = "defaults" if result.selection.chosen == 0 else result.params  # type: ignore[union-attr]
        print(
            f"{job.name:<14}{row['defaults_mean']:>9.4f}{row['tuned_mean']:>8.4f}"
            f"{row['naive_mean']:>8.4f}{tuning_time:>8.1f}  {chosen} "
            f"(pruned {row['pruned']}, failed {row['failed']})"
        )
    for label in ("tuned", "naive"):
        deltas = [r[f"{label}_mean"] - r["defaults_mean"] for r in rows]
        print(
            f"{label}: median change {statistics.median(deltas):+.4f}; lower than the defaults "
            f"for {sum(d < 0 for d in deltas)} of {len(deltas)} methods; median method "
            f"{statistics.median(r['defaults_mean'] for r in rows):.4f} -> "
            f"{statistics.median(r[f'{label}_mean'] for r in rows):.4f}"
        )
    if args.output:
        Path(args.output).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
