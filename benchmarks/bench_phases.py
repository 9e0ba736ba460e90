"""Where the default benchmark's time goes, phase by phase, in one process.

Run: python benchmarks/bench_phases.py [--methods all] [--threads 1] [--seed 0] [--epochs N]

For each method of the first seed (as ``intermodal bench`` runs it, one thread per run by
default): its training, its test part (test and validation predictions, the cost measurement),
and the per-model analyses that run beside it (EMAP, the subset table); then each analysis of
the suite on those models and each figure (the rest of the report: ``intermodal report DIR``).
Prints a line per method, the totals per phase and each phase's share, in CPU seconds of this
process (it runs one thread, so a busy machine slows it less than it slows wall time). With
``--epochs 2`` the training is short and the analyses cost about what they cost on trained
models; run it with two versions of the code to compare them.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="fewer epochs (default: 100)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from intermodal.bench import analyses
    from intermodal.bench.analyses import PER_MODEL, AnalysisInput, AnalysisSettings
    from intermodal.bench.config import BenchConfig
    from intermodal.bench.executors import prepare_splits
    from intermodal.bench.registry import resolve_methods
    from intermodal.bench.runner import run_job
    from intermodal.data import load_dataset

    dataset = load_dataset("mfeat")
    config = BenchConfig(methods=args.methods, threads=args.threads)
    if args.epochs:
        config = config.with_(epochs=args.epochs)
    jobs, _ = resolve_methods(list(config.methods), dataset)
    splits = prepare_splits(dataset, args.seed)
    context = config.context(args.seed)
    settings = AnalysisSettings(seed=args.seed)
    rows: list[dict[str, Any]] = []
    models, per_model, scores, families = {}, {}, {}, {}
    for job in jobs:
        start = time.process_time()
        row, model, _ = run_job(job, splits, context)
        whole = time.process_time() - start
        start = time.process_time()
        test_part(model, splits)  # the test part of run_job again, timed alone
        test = time.process_time() - start
        trained = whole - test
        per_model[job.name], analysed = {}, {}
        for name in model_analyses_of(job.family, model):
            start = time.process_time()
            per_model[job.name][name] = PER_MODEL[name](model, splits.test, settings)
            analysed[name] = time.process_time() - start
        models[job.name], scores[job.name] = model, float(row["accuracy"])
        families[job.name] = job.family
        rows.append({"method": job.name, "train": trained, "test": test, **analysed})
        shown = "  ".join(f"{k} {v:5.2f} s" for k, v in analysed.items())
        print(f"{job.name:<22} train {trained:6.2f} s  test {test:5.2f} s  {shown}", flush=True)
    inputs = AnalysisInput(
        data=dataset,
        test=splits.test,
        models=models,
        families=families,
        scores=scores,
        per_model=per_model,
    )
    phases: dict[str, float] = defaultdict(float)
    results = {}
    for name, entry in analyses.ANALYSES.items():
        start = time.process_time()
        result = entry.compute(inputs, settings)
        phases[f"suite: {name}"] = time.process_time() - start
        if result is not None:
            results[name] = result
    for name, result in results.items():
        if isinstance(result, analyses.Skipped):
            continue
        start = time.process_time()
        analyses.ANALYSES[name].figure(result)
        phases[f"figure: {name}"] = time.process_time() - start
    totals = {
        "training": sum(r["train"] for r in rows),
        "test part of runs": sum(r["test"] for r in rows),
        **{f"per-model: {k}": sum(r.get(k, 0.0) for r in rows) for k in PER_MODEL},
        **phases,
    }
    whole = sum(totals.values())
    print(f"\n{'phase':<34} {'seconds':>8} {'share':>6}")
    for name, seconds in totals.items():
        print(f"{name:<34} {seconds:8.2f} {seconds / whole:6.1%}")
    print(f"{'total':<34} {whole:8.2f}")


def test_part(model: Any, splits: Any) -> None:
    """What :func:`~intermodal.bench.runner.run_job` computes after training."""
    from intermodal.analysis import model_cost
    from intermodal.bench.runner import coordination_retrieval, validation_scores
    from intermodal.metrics import predict_outputs, score

    outputs = predict_outputs(model, splits.test)
    test = splits.test.batch()
    model_cost(model, test.inputs, test.mask)
    score(splits.test.task, outputs, splits.test.targets)
    validation_scores(model, splits.val)
    coordination_retrieval(model, splits.test)


def model_analyses_of(family: str, model: Any) -> list[str]:
    """The per-model analyses the benchmark runs on a model of ``family``."""
    from intermodal.bench.analyses import PER_MODEL, is_encoding_fusion

    return [n for n in PER_MODEL if n != "emap" or is_encoding_fusion(family, model)]


if __name__ == "__main__":
    main()
