"""The analyses on many modalities: the cost of scoring every subset of modalities against the
documented choice the subset table scores (``MAX_SUBSETS``: every single modality, every
leave-one-out subset, the full set and a seeded sample of the others).

Run: python benchmarks/many_modalities.py [--parts 2] [--methods early,late-mean,gmu,lmf]

1. Choosing 63 subsets of M modalities: the rule before (the smallest subsets first, after
   enumerating all 2^M - 1 of them, which grows without bound) against the sample.
2. UCI Multiple Features with each of its six views cut into ``--parts`` modalities of
   consecutive features (2: 12 modalities, as ProteinFold's 12 views). Each method is built
   as ``intermodal bench`` builds it on the seed-0 split (untrained: the cost of the analyses
   does not depend on the weights). Its per-model analyses (``model_analyses``: the subset
   table and EMAP) on the 300 test samples, one thread: the subset table with every one of
   the 4,095 subsets (once) and with the 63 of ``MAX_SUBSETS`` (fastest of two; the rule
   before scored 63 too, at the same cost), and EMAP. Prints the seconds per model.
3. The suite's shared analyses of those models (robustness, missing-rate curves, PID), timed
   once each.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import numpy as np
import torch

from intermodal.bench import resolve_methods
from intermodal.bench.analyses import (
    ANALYSES,
    AnalysisInput,
    AnalysisSettings,
    emap_scores,
    model_analyses,
    subset_scores,
)
from intermodal.data import MultimodalDataset, load_mfeat, split_dataset, standardize
from intermodal.data.missing import MAX_SUBSETS, subsets
from intermodal.training import RunContext


def cut_views(data: MultimodalDataset, parts: int) -> MultimodalDataset:
    """Each vector modality cut into ``parts`` modalities of consecutive features."""
    modalities = {}
    for name, values in data.modalities.items():
        pieces = np.array_split(np.arange(values.shape[1]), min(parts, values.shape[1]))
        for i, columns in enumerate(pieces):
            modalities[f"{name}{i}"] = values[:, torch.as_tensor(columns)]
    return MultimodalDataset(modalities, data.targets, name=f"mfeat-{len(modalities)}")


def smallest_first(modalities: list[str], limit: int) -> list[tuple[str, ...]]:
    """The rule the subset table followed before it sampled: every subset enumerated, smallest
    first, the first ``limit - 1`` kept and the full set (no leave-one-out subsets)."""
    every = [
        c
        for size in range(1, len(modalities) + 1)
        for c in itertools.combinations(modalities, size)
    ]
    return every if len(every) <= limit else [*every[: limit - 1], tuple(modalities)]


def fastest(call: Callable[..., object], *arguments: object, repeats: int = 2) -> float:
    """The fastest of ``repeats`` calls of ``call(*arguments)``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(*arguments)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--methods", default="early,late-mean,gmu,lmf")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    print("choosing 63 subsets of M modalities (s): the rule before, enumerating every subset,")
    print("against the sample (singles, leave-one-out, full set and a seeded sample)")
    for m in (12, 16, 18, 20):
        names = [f"m{i}" for i in range(m)]
        before = fastest(smallest_first, names, MAX_SUBSETS, repeats=1)
        after = fastest(subsets, names, MAX_SUBSETS, repeats=1)
        print(f"  M = {m:<3} {before:9.4f} {after:9.4f}  {before / after:8.0f}x")
    data = cut_views(load_mfeat(), arguments.parts)
    splits = standardize(split_dataset(data, seed=0))
    count = len(data.modality_names)
    every = AnalysisSettings(max_subsets=2**count - 1)
    sampled = AnalysisSettings()
    print(
        f"{count} modalities, {len(splits.test)} test samples; subset table: all "
        f"{2**count - 1} subsets against {min(MAX_SUBSETS, 2**count - 1)} (MAX_SUBSETS)"
    )
    print(
        f"{'method':<12}{'all':>9}{'63':>9}{'EMAP':>8}{'all+EMAP':>9}{'63+EMAP':>8}  ratio"
        "  (seconds per model)"
    )
    jobs, skipped = resolve_methods(arguments.methods, splits.train)
    before_total = after_total = 0.0
    models, per_model = {}, {}
    for job in jobs:
        model = models[job.name] = job.build(splits.train, RunContext(seed=0)).eval()
        per_model[job.name] = model_analyses(job.family, model, splits.test, sampled)
        all_s = fastest(subset_scores, model, splits.test, every, repeats=1)
        sampled_s = fastest(subset_scores, model, splits.test, sampled)
        emap_s = fastest(emap_scores, model, splits.test, sampled)
        before, after = all_s + emap_s, sampled_s + emap_s
        before_total, after_total = before_total + before, after_total + after
        print(
            f"{job.name:<12}{all_s:9.2f}{sampled_s:9.2f}{emap_s:8.2f}{before:9.2f}{after:8.2f}"
            f"  {before / after:5.1f}x"
        )
    print(
        f"{'total':<12}{'':>26}{before_total:9.2f}{after_total:8.2f}"
        f"  {before_total / after_total:5.1f}x (seconds of per-model analyses)"
    )
    for name, why in skipped:
        print(f"skipped {name}: {why}")
    families = {job.name: job.family for job in jobs}
    inputs = AnalysisInput(
        data, splits.test, models, families, dict.fromkeys(models, 0.0), per_model=per_model
    )
    for name in ("robustness", "missing_rate", "pid"):
        seconds = fastest(ANALYSES[name].compute, inputs, sampled, repeats=1)
        print(f"{name:<16}{seconds:8.2f} s for {len(models)} models (shared analysis)")


if __name__ == "__main__":
    main()
