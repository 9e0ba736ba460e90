"""Small data: one 70/15/15 split per seed against K-fold cross-validation (``--cv K``).

Run: python benchmarks/small_data_cv.py [--samples 200] [--cv 5] [--seeds 3] [--epochs 30]

Draws a stratified subsample of UCI Multiple Features (``--samples``, 20 per digit by default),
runs the same benchmark on it twice, first with a 70/15/15 split per seed, then with
``--cv K``, and prints for each method its mean accuracy and the width of its 95% interval
(a bootstrap over the test samples of the seeds' splits, against the corrected resampled t over
the K x seeds replicates, and beside it the plain t interval over the same replicates, which
ignores that their training sets overlap), how many methods are tied with the best, and the wall
times with their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from intermodal.bench.runner import run_benchmark
from intermodal.data import MultimodalDataset, load_mfeat


def subsample(samples: int, seed: int = 0) -> MultimodalDataset:
    """``samples`` digits of UCI Multiple Features, as many of each class."""
    data = load_mfeat()
    y = data.targets.numpy()
    rng = np.random.default_rng(seed)
    per_class = samples // data.n_classes
    keep = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return data.subset(np.sort(np.concatenate(keep)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--methods", default="early,linear,late-mean,unimodal")
    args = parser.parse_args()
    data = subsample(args.samples)
    settings = dict(
        methods=args.methods,
        seeds=args.seeds,
        epochs=args.epochs,
        jobs=args.jobs,
        threads=1,
        progress=False,
        report=False,
    )
    boards, walls, intervals = {}, {}, {}
    for name, cv in (("split", None), (f"cv{args.cv}", args.cv)):
        start = time.perf_counter()
        result = run_benchmark(data, cv=cv, **settings)
        walls[name] = time.perf_counter() - start
        board = result.leaderboard.set_index("method")
        board["width"] = board["ci_high"] - board["ci_low"]
        if cv is not None:  # the uncorrected t interval over the same replicates
            grouped = result.runs.groupby("method")["accuracy"]
            count = grouped.count()
            quantile = stats.t.ppf(0.975, count - 1)
            board["plain"] = 2 * quantile * grouped.std(ddof=1) / np.sqrt(count)
        boards[name], intervals[name] = board, result.config["intervals"]
    split, folded = boards["split"], boards[f"cv{args.cv}"]
    table = pd.DataFrame(
        {
            "acc (split)": split["accuracy_mean"],
            "width (split)": split["width"],
            "tied (split)": split["tied_with_best"],
            f"acc (cv {args.cv})": folded["accuracy_mean"],
            f"width (cv {args.cv})": folded["width"],
            "uncorrected": folded["plain"],
            f"tied (cv {args.cv})": folded["tied_with_best"],
        }
    ).sort_values(f"acc (cv {args.cv})", ascending=False)
    test = round(0.15 * len(data))
    print(
        f"UCI Multiple Features, {len(data)} samples, {args.seeds} seeds, {args.epochs} epochs; "
        f"the split tests on about {test} samples per seed, --cv {args.cv} on all {len(data)}"
    )
    print(f"intervals: split = {intervals['split']}; cv = {intervals[f'cv{args.cv}']}")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    for name, board in boards.items():
        print(
            f"{name}: median interval width {board['width'].median():.3f}, "
            f"{int(board['tied_with_best'].sum()) - 1} of {len(board) - 1} methods tied with the "
            f"best ({board.index[0]}), wall {walls[name]:.1f} s"
        )
    ratio = split["width"].median() / folded["width"].median()
    print(
        f"median width split / cv: {ratio:.2f}x; wall time cv / split: "
        f"{walls[f'cv{args.cv}'] / walls['split']:.2f}x"
    )


if __name__ == "__main__":
    main()
