"""Early stopping with a minimum relative improvement: epochs and test accuracy per ``min_delta``.

Run: python benchmarks/early_stopping.py [--methods late-weighted,late-mean,very-early]
     [--seeds 3] [--epochs 100] [--patience 10] [--min-deltas 0,0.002,0.005,0.01,0.02]

Each method's benchmark model (``intermodal.bench.methods``) is trained on UCI Multiple Features
(all six views, the benchmark's split and seeding for each seed) for the whole budget, recording
after every epoch the monitored validation quantity and the test accuracy of the weights of that
epoch. The stopping rule (:class:`intermodal.training.stopping.EarlyStopping`) is then replayed
on the recorded values for each ``min_delta``: it sees the values a run with that rule would
see up to the epoch it stops (the trajectory does not depend on the rule until then), so the
table gives the epochs each setting trains and the test accuracy of the weights it restores,
without training once per setting. ``--check`` trains once more with the default and compares.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from intermodal.bench import METHODS
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.losses import task_loss
from intermodal.metrics import evaluate
from intermodal.training import Objective, RunContext, seed_everything
from intermodal.training.stopping import MIN_DELTA, EarlyStopping


def record(name: str, seed: int, epochs: int) -> tuple[list[float], list[float], bool, float]:
    """Monitored values and test accuracies per epoch of one full-budget run, whether higher
    is better, and the run's seconds per epoch."""
    dataset = load_mfeat()
    splits = standardize(split_dataset(dataset, seed=seed))
    context = RunContext(seed=seed, max_epochs=epochs, patience=epochs, min_delta=0.0, threads=1)
    seed_everything(seed)
    model = METHODS[name].build(splits.train, context)
    goal = Objective(model, task_loss(splits.train.task), splits.train.task)
    values: list[float] = []
    accuracies: list[float] = []

    def on_epoch(epoch: int, scores: dict[str, float]) -> bool:
        values.append(scores[goal.key])
        accuracies.append(evaluate(model, splits.test)["accuracy"])
        return False

    start = time.perf_counter()
    context.fit(model, splits, on_epoch=on_epoch)
    return values, accuracies, goal.higher_is_better, (time.perf_counter() - start) / epochs


def replay(values: list[float], higher: bool, patience: int, min_delta: float) -> tuple[int, int]:
    """(epochs trained, best epoch) of the stopping rule on recorded values."""
    stopping = EarlyStopping(patience, min_delta, higher)
    for epoch, value in enumerate(values):
        stopping.update(epoch, value)
        if stopping.stopped:
            break
    assert stopping.best_epoch is not None
    return epoch + 1, stopping.best_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="late-weighted,late-mean,very-early")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--min-deltas", default="0,0.002,0.005,0.01,0.02")
    parser.add_argument("--check", action="store_true", help="train with the default as well")
    args = parser.parse_args()
    torch.set_num_threads(1)
    deltas = [float(d) for d in args.min_deltas.split(",")]
    print(f"mfeat, {args.seeds} seeds, at most {args.epochs} epochs, patience {args.patience}")
    print(f"{'method':<14} {'min_delta':>9} {'epochs':>7} {'best':>5} {'test accuracy':>17}")
    for name in args.methods.split(","):
        runs = [record(name, seed, args.epochs) for seed in range(args.seeds)]
        for delta in deltas:
            stops = [replay(v, higher, args.patience, delta) for v, _, higher, _ in runs]
            accuracy = np.array([run[1][best] for run, (_, best) in zip(runs, stops, strict=True)])
            epochs = np.mean([e for e, _ in stops])
            best = np.mean([b for _, b in stops])
            print(
                f"{name:<14} {delta:>9g} {epochs:>7.1f} {best:>5.1f} "
                f"{accuracy.mean():>8.4f} +- {accuracy.std(ddof=1):.4f}"
            )
        if args.check:
            for seed, (values, accuracies, higher, _) in enumerate(runs):
                dataset = load_mfeat()
                splits = standardize(split_dataset(dataset, seed=seed))
                context = RunContext(seed=seed, max_epochs=args.epochs, patience=args.patience)
                seed_everything(seed)
                result = context.fit(METHODS[name].build(splits.train, context), splits)
                expected = replay(values, higher, args.patience, MIN_DELTA)
                accuracy = evaluate(result.model, splits.test)["accuracy"]
                print(
                    f"  check seed {seed}: trained {result.epochs} epochs (replay {expected[0]}),"
                    f" accuracy {accuracy:.4f} (replay {accuracies[expected[1]]:.4f})"
                )
        print(f"  seconds per epoch: {np.mean([r[3] for r in runs]):.3f}")


if __name__ == "__main__":
    main()
