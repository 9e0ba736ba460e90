"""Training engine: stacked models against one at a time, achieved GFLOP/s against a matrix-product
roofline, and ``fit`` against a minimal plain PyTorch loop.

Run: python benchmarks/engine.py [--epochs 4] [--repeats 3] [--methods early,lmf,mfm,attention]
     [--stacks 3,8] [--lightning]

For each method's builder on UCI Multiple Features (all six views; seed s draws its own split,
as in the benchmark; one thread), every model trains for ``--epochs`` epochs without early
stopping:

- ``one``: ``fit`` of one model at a time (the lean engine), for seeds 0..S-1;
- ``stack S``: ``fit_stacked`` of the S models of seeds 0..S-1 as one stacked model;
- ``plain``: a minimal loop written here (a seeded permutation per epoch, batches of 64 taken
  by indexing tensors, the model's loss, ``torch.optim.AdamW`` (fused), a validation pass per
  epoch that keeps a copy of the best weights), the reference for ``fit``'s own overhead;
- ``lightning`` (with ``--lightning``): ``fit(engine="lightning")``, the multi-process path.

It prints the seconds per model-epoch (training and validation; the fastest of ``repeats``,
interleaved), the speedup of each stack over one model at a time, and the achieved GFLOP/s: the
FLOPs of an epoch (forward and backward of every training batch, forward of the validation
split, counted by PyTorch's FLOP counter) over its time, against a roofline measured in the same
run (the GFLOP/s of a 64 x 1024 by 1024 x 1024 matrix product, the size of a training batch,
and of a 1024-cube product). Ratios compare runs measured in the same process, so they hold on
a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from intermodal.bench import METHODS
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.data.dataset import Batch
from intermodal.data.splits import DataSplits
from intermodal.losses import task_loss
from intermodal.models.protocols import TrainsItself
from intermodal.training import (
    Objective,
    RunContext,
    make_optimizer,
    resolve_device,
    seed_everything,
)
from intermodal.training.fit import epoch_batches
from intermodal.training.stacked import fit_stacked


def plain_loop(
    model: nn.Module,
    train: Batch,
    val: Batch,
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
) -> None:
    """The reference: what any PyTorch user writes for this job."""
    own = isinstance(model, TrainsItself)

    def loss_of(batch: Batch) -> Tensor:
        if own:
            return model.training_loss(batch.inputs, batch.target, batch.mask)  # type: ignore[union-attr]
        return F.cross_entropy(model(batch.inputs, batch.mask), batch.target)

    def validation_loss(batch: Batch) -> Tensor:
        if own:
            return model.validation_loss(batch.inputs, batch.target, batch.mask)  # type: ignore[union-attr]
        return F.cross_entropy(model(batch.inputs, batch.mask), batch.target)

    optimizer = make_optimizer(model, 1e-3, 1e-4)
    generator = torch.Generator().manual_seed(seed)
    n = len(train.target)
    best, best_state = float("inf"), None
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - n % batch_size, batch_size):
            index = order[start : start + batch_size]
            batch = Batch(
                {k: v[index] for k, v in train.inputs.items()},
                train.target[index],
                {k: v[index] for k, v in train.mask.items()},
            )
            loss = loss_of(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            value = float(validation_loss(val))
        if value < best:
            best = value
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)


DEVICE = resolve_device("auto")
"""Where the models train (a GPU if there is one, as ``fit`` chooses) and the roofline runs."""
CLOCK = time.process_time if DEVICE.type == "cpu" else time.perf_counter
"""On a CPU, CPU seconds of this process (one thread): unlike wall time, other processes on a
busy machine do not inflate them (``--clock wall`` for wall time); on an accelerator, wall time
after synchronizing."""


def on_device(batch: Batch) -> Batch:
    return Batch(
        {k: v.to(DEVICE) for k, v in batch.inputs.items()},
        batch.target.to(DEVICE),
        {k: v.to(DEVICE) for k, v in batch.mask.items()},
    )


def timed(run: Callable[[], object]) -> float:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    start = CLOCK()
    run()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return CLOCK() - start


def roofline(rows: int, size: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of ``(rows, size) @ (size, size)``: the fastest of ``repeats`` rounds."""
    a, b = torch.randn(rows, size, device=DEVICE), torch.randn(size, size, device=DEVICE)
    count = max(1, 2**30 // (2 * rows * size * size))
    best = float("inf")
    for _ in range(repeats):
        best = min(best, timed(lambda: [a @ b for _ in range(count)]) / count)
    return 2 * rows * size * size / best / 1e9


def epoch_flops(model: nn.Module, splits: DataSplits, batch_size: int) -> float:
    """FLOPs of one training epoch: forward and backward of every batch, forward of the
    validation split (the model's gradients are cleared afterwards)."""
    train, val = splits.train.batch(), splits.val.batch()
    goal = Objective(model, task_loss(splits.train.task), splits.train.task)
    index = next(epoch_batches(len(train.target), batch_size, torch.Generator().manual_seed(0)))
    batch = Batch(
        {k: v[index] for k, v in train.inputs.items()},
        train.target[index],
        {k: v[index] for k, v in train.mask.items()},
    )
    model.train()
    with FlopCounterMode(display=False) as step:
        goal.train(batch).backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as validation:
        goal.validate(val)
    steps = len(train.target) // batch_size
    return float(steps * step.get_total_flops() + validation.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="early,lmf,mfm,attention")
    parser.add_argument("--stacks", default="3,8")
    parser.add_argument("--lightning", action="store_true", help="time the Lightning engine too")
    parser.add_argument("--clock", choices=["cpu", "wall"], help="default: cpu on a CPU")
    args = parser.parse_args()
    global CLOCK
    if args.clock is not None:
        CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(1)
    stacks = [int(s) for s in args.stacks.split(",")]
    largest = max(stacks)
    dataset = load_mfeat()
    splits = [standardize(split_dataset(dataset, seed=s)) for s in range(largest)]
    contexts = [
        RunContext(seed=s, max_epochs=args.epochs, patience=args.epochs, min_delta=0.0, threads=1)
        for s in range(largest)
    ]

    def build(name: str, seed: int) -> nn.Module:
        seed_everything(seed)
        return METHODS[name].build(splits[seed].train, contexts[seed])

    peak_batch, peak_cube = roofline(64), roofline(1024)
    print(
        f"roofline on {DEVICE.type} (one thread): {peak_batch:.1f} GFLOP/s for 64 x 1024 @ "
        f"1024 x 1024, {peak_cube:.1f} GFLOP/s for 1024^3"
    )
    print(
        f"seconds per model-epoch (fastest of {args.repeats}), {args.epochs} epochs, "
        "training and validation"
    )
    columns = ["plain", "one", *(f"stack {s}" for s in stacks)]
    columns += ["lightning"] if args.lightning else []
    header = " ".join(f"{c:>9}" for c in columns)
    speedups = " ".join(f"{f'one/{s}':>7}" for s in stacks)
    print(f"{'method':<10} {header} {'fit/plain':>9} {speedups}  GFLOP/s (% of 64-row roofline)")
    for name in args.methods.split(","):
        times: dict[str, float] = dict.fromkeys(columns, float("inf"))
        count = largest
        for _ in range(args.repeats):
            model = build(name, 0)
            train, val = (on_device(part.batch()) for part in (splits[0].train, splits[0].val))
            model.to(DEVICE)
            seconds = timed(lambda m=model, t=train, v=val: plain_loop(m, t, v, args.epochs))
            times["plain"] = min(times["plain"], seconds)
            models = [build(name, s) for s in range(count)]
            seconds = timed(
                lambda ms=models: [contexts[s].fit(m, splits[s]) for s, m in enumerate(ms)]
            )
            times["one"] = min(times["one"], seconds / count)
            for size in stacks:
                models = [build(name, s) for s in range(size)]
                seconds = timed(lambda ms=models, k=size: fit_stacked(ms, splits[:k], contexts[:k]))
                times[f"stack {size}"] = min(times[f"stack {size}"], seconds / size)
            if args.lightning:
                model = build(name, 0)
                seconds = timed(lambda m=model: contexts[0].fit(m, splits[0], engine="lightning"))
                times["lightning"] = min(times["lightning"], seconds)
        per_epoch = {k: v / args.epochs for k, v in times.items()}
        flops = epoch_flops(build(name, 0), splits[0], contexts[0].batch_size)
        rates = {k: flops / v / 1e9 for k, v in per_epoch.items()}
        cells = " ".join(f"{per_epoch[c]:9.4f}" for c in columns)
        ratios = " ".join(f"{per_epoch['one'] / per_epoch[f'stack {s}']:7.2f}" for s in stacks)
        achieved = ", ".join(
            f"{c} {rates[c]:.1f} ({100 * rates[c] / peak_batch:.0f}%)"
            for c in ("one", f"stack {largest}")
        )
        print(
            f"{name:<10} {cells} {per_epoch['one'] / per_epoch['plain']:9.2f} {ratios}  {achieved}"
        )
        print(f"{'':<10} {flops / 1e9:.2f} GFLOP per model-epoch")


if __name__ == "__main__":
    main()
