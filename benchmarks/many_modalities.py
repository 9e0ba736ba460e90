"""The per-model analyses on many modalities: every subset of modalities against the sampled
subsets the subset table scores by default.

Run: python benchmarks/many_modalities.py [--parts 2] [--methods early,late-mean,gmu,lmf]

UCI Multiple Features with each of its six views cut into ``--parts`` modalities of
consecutive features (2: 12 modalities, as ProteinFold's 12 views). Each method is built as
``intermodal bench`` builds it on the seed-0 split (untrained: the cost of the analyses does
not depend on the weights). Its per-model analyses (``model_analyses``: the subset table and
EMAP) run on the 300 test samples with ``max_subsets`` = 2^M - 1 (every subset, what the
table scored before it sampled) and with the default ``MAX_SUBSETS``, one thread, fastest of
two. Prints the seconds per model and the ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from intermodal.bench import resolve_methods
from intermodal.bench.analyses import AnalysisSettings, emap_scores, subset_scores
from intermodal.data import MultimodalDataset, load_mfeat, split_dataset, standardize
from intermodal.data.missing import MAX_SUBSETS
from intermodal.training import RunContext


def cut_views(data: MultimodalDataset, parts: int) -> MultimodalDataset:
    """Each vector modality cut into ``parts`` modalities of consecutive features."""
    modalities = {}
    for name, values in data.modalities.items():
        pieces = np.array_split(np.arange(values.shape[1]), min(parts, values.shape[1]))
        for i, columns in enumerate(pieces):
            modalities[f"{name}{i}"] = values[:, torch.as_tensor(columns)]
    return MultimodalDataset(modalities, data.targets, name=f"mfeat-{len(modalities)}")


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
    data = cut_views(load_mfeat(), arguments.parts)
    splits = standardize(split_dataset(data, seed=0))
    count = len(data.modality_names)
    every = AnalysisSettings(max_subsets=2**count - 1)
    sampled = AnalysisSettings()
    print(
        f"{count} modalities, {len(splits.test)} test samples; subset table: all "
        f"{2**count - 1} subsets against {min(MAX_SUBSETS, 2**count - 1)} (MAX_SUBSETS)"
    )
    print(f"{'method':<12}{'all':>9}{'sampled':>9}{'EMAP':>8}{'before':>9}{'after':>8}  ratio")
    jobs, skipped = resolve_methods(arguments.methods, splits.train)
    before_total = after_total = 0.0
    for job in jobs:
        model = job.build(splits.train, RunContext(seed=0)).eval()
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


if __name__ == "__main__":
    main()
