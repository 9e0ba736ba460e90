"""The seeds of a method as the benchmark trains them: whole fits of 3 seeds (each on its own
split, with early stopping) stacked into one model against one at a time, one thread.

    python benchmarks/stacked_seeds.py [METHOD ...]   (default: early late-mean lmf unimodal[fac])

Prints, per method, the seconds and epochs of each way and the ratio (one at a time / stacked:
above 1, stacking is faster). ``fit_many`` stacks on the CPU only where this says it pays
(``intermodal.training.stacked.STACK_ON_CPU``).
"""

from __future__ import annotations

import sys
import time

import torch

from intermodal.bench.executors import prepare_splits
from intermodal.bench.registry import resolve_methods
from intermodal.bench.runner import _view
from intermodal.data import load_mfeat
from intermodal.training import RunContext
from intermodal.training.fit import seed_everything
from intermodal.training.stacked import fit_many

SEEDS = (0, 1, 2)


def main(methods: list[str]) -> None:
    torch.set_num_threads(1)
    data = load_mfeat()
    splits = [prepare_splits(data, seed) for seed in SEEDS]
    print("method: one at a time | stacked | ratio (one at a time / stacked)")
    for name in methods:
        job = resolve_methods([name], data)[0][0]
        views = [_view(split, job.modalities) for split in splits]
        contexts = [RunContext(seed=seed, threads=1) for seed in SEEDS]
        measured = {}
        for stack in (False, True):
            models = []
            for view, context in zip(views, contexts, strict=True):
                seed_everything(context.seed)
                models.append(job.build(view.train, context))
            start = time.perf_counter()
            results = fit_many(models, views, contexts, stack=stack)
            measured[stack] = (time.perf_counter() - start, [r.epochs for r in results])
        (alone, alone_epochs), (stacked, stacked_epochs) = measured[False], measured[True]
        print(
            f"{name}: {alone:.1f} s, epochs {alone_epochs} | {stacked:.1f} s, epochs "
            f"{stacked_epochs} | {alone / stacked:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["early", "late-mean", "lmf", "unimodal[fac]"])
