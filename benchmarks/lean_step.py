"""Three costs around a training step, each against the way it was paid before, in one run.

Run: python benchmarks/lean_step.py [--epochs 8] [--repeats 3]

1. Masks: ``fit`` on complete UCI Multiple Features (six views) keeps no mask for a modality
   present everywhere, against passing every modality's all-True mask to the model (an index
   per step and a selection per modality and fusion). Seconds per epoch of ``early`` and
   ``late-mean``.
2. Cross-modal attention: all pairs of modalities in a few batched operations against one pair
   at a time, forward + backward at a training batch (64 samples, six modalities of 8 tokens,
   the benchmark's ``attention`` sizes) and at 256 samples, and forward only at an analysis
   batch (8,192).
3. Worker processes: starting a pool of two workers and running one small job in each, forked
   from a server that has imported intermodal once (``forkserver``) against ``spawn``.

Each line prints the new way, the old way and old / new (the fastest of ``repeats``,
interleaved), so the ratios hold on a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import torch

from intermodal.bench import METHODS
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.data.dataset import Batch
from intermodal.fusion import CrossModalAttentionFusion
from intermodal.training import RunContext, seed_everything

fit_module = importlib.import_module("intermodal.training.fit")
attention_module = importlib.import_module("intermodal.fusion.attention")
executors = importlib.import_module("intermodal.bench.executors")


def fastest(ways: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            times[name].append(way())
    return {name: min(values) for name, values in times.items()}


def show(label: str, new: float, old: float, unit: str) -> None:
    print(f"{label:<34} {new:10.4f} {old:10.4f} {old / new:8.2f}x   ({unit})")


def every_mask(dataset, names, device):  # type: ignore[no-untyped-def]
    """The split with every modality's mask, as ``fit`` kept it before."""
    return Batch(
        {k: dataset.modalities[k].to(device) for k in names},
        dataset.targets.to(device),
        {k: dataset.masks[k].to(device) for k in names},
    )


def masks(epochs: int, repeats: int) -> None:
    splits = standardize(split_dataset(load_mfeat(), seed=0))
    context = RunContext(max_epochs=epochs, patience=epochs, threads=1)
    elided = fit_module._tensors
    for name in ("early", "late-mean"):

        def train(tensors: Callable[..., Batch], name: str = name) -> float:
            fit_module._tensors = tensors
            seed_everything(0)
            model = METHODS[name].build(splits.train, context)
            start = time.perf_counter()
            context.fit(model, splits)
            fit_module._tensors = elided
            return (time.perf_counter() - start) / epochs

        best = fastest({"new": lambda: train(elided), "old": lambda: train(every_mask)}, repeats)
        show(f"fit, complete data: {name}", best["new"], best["old"], "s per epoch")


def attention(repeats: int) -> None:
    dims = dict.fromkeys(["fac", "fou", "kar", "mor", "pix", "zer"], 8)
    fusion = CrossModalAttentionFusion(dims, 128, model_dim=16, num_heads=2)
    limit = attention_module.BATCHED_ROWS

    def timed(batch: int, together: bool, backward: bool, steps: int) -> float:
        attention_module.BATCHED_ROWS = batch if together else 0
        x = {k: torch.randn(batch, 8, d, requires_grad=backward) for k, d in dims.items()}
        start = time.perf_counter()
        for _ in range(steps):
            if backward:
                fusion(x).sum().backward()
            else:
                with torch.no_grad():
                    fusion(x)
        attention_module.BATCHED_ROWS = limit
        return (time.perf_counter() - start) / steps

    for batch, backward, steps, label in (
        (64, True, 50, "forward + backward"),
        (256, True, 10, "forward + backward"),
        (8192, False, 3, "forward"),
    ):
        best = fastest(
            {
                "together": partial(timed, batch, True, backward, steps),
                "pairs": partial(timed, batch, False, backward, steps),
            },
            repeats,
        )
        show(
            f"attention {batch}: together vs pairs",
            best["together"],
            best["pairs"],
            f"s per {label}",
        )
        chosen = "all pairs together" if batch <= limit else "pair by pair"
        print(f"{'':<34} (batches of {batch} are computed {chosen})")


def nothing() -> int:
    return 0


def pool(method: str) -> float:
    context = (
        executors._worker_context()
        if method == "forkserver"
        else multiprocessing.get_context("spawn")
    )
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=context) as workers:
        list(workers.map(executors.prepare_splits, [load_mfeat()] * 2, [0, 1]))
    return time.perf_counter() - start


def workers(repeats: int) -> None:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        print("worker processes: this platform has no forkserver (spawn is used)")
        return
    pool("forkserver")  # the server starts once per process; later pools reuse it
    best = fastest({"new": lambda: pool("forkserver"), "old": lambda: pool("spawn")}, repeats)
    show("pool of 2 workers, one job each", best["new"], best["old"], "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'':<34} {'new':>10} {'old':>10} {'old/new':>9}")
    masks(args.epochs, args.repeats)
    attention(args.repeats)
    workers(args.repeats)


if __name__ == "__main__":
    main()
