"""Training engine overhead: ``fit`` against a minimal plain PyTorch loop.

Run: python benchmarks/engine.py [--epochs 15] [--repeats 3] [--methods early,mfm,attention]

For each method's builder on UCI Multiple Features (all six views, seed 0, one thread), the
same model is trained for the same number of epochs (no early stopping) three ways:

- ``plain``: a minimal loop written here: a seeded permutation per epoch, batches of 64 taken by
  indexing tensors, the model's loss, AdamW (fused), and a validation pass per epoch that keeps
  a copy of the best weights;
- ``fit``: ``intermodal.training.fit`` (the lean engine it uses on one device);
- ``lightning``: ``fit(engine="lightning")``, the multi-process path, for reference.

It prints the wall time per epoch of each (the fastest of ``repeats``, interleaved) and the ratios
``fit / plain`` and ``lightning / plain``; the ratios compare runs measured in the same process,
so they hold on a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.bench import METHODS
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.data.dataset import Batch
from intermodal.models.protocols import TrainsItself
from intermodal.training import RunContext, make_optimizer, seed_everything


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


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="early,mfm,attention")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = standardize(split_dataset(load_mfeat(), seed=0))
    train, val = splits.train.batch(), splits.val.batch()
    context = RunContext(max_epochs=args.epochs, patience=args.epochs, threads=1)

    def build(name: str) -> nn.Module:
        seed_everything(0)
        return METHODS[name].build(splits.train, context)

    print(f"seconds per epoch (fastest of {args.repeats}), {args.epochs} epochs, one thread")
    print(
        f"{'method':<12} {'plain':>8} {'fit':>8} {'lightning':>10} {'fit/plain':>10} "
        f"{'lightning/plain':>16}"
    )
    for name in args.methods.split(","):
        times: dict[str, list[float]] = {"plain": [], "fit": [], "lightning": []}
        for _ in range(args.repeats):
            model = build(name)
            times["plain"].append(timed(lambda m=model: plain_loop(m, train, val, args.epochs)))
            model = build(name)
            times["fit"].append(timed(lambda m=model: context.fit(m, splits)))
            model = build(name)
            times["lightning"].append(
                timed(lambda m=model: context.fit(m, splits, engine="lightning"))
            )
        best = {k: min(v) / args.epochs for k, v in times.items()}
        print(
            f"{name:<12} {best['plain']:8.4f} {best['fit']:8.4f} {best['lightning']:10.4f} "
            f"{best['fit'] / best['plain']:10.2f} {best['lightning'] / best['plain']:16.2f}"
        )


if __name__ == "__main__":
    main()
