"""The gbdt baseline with LightGBM's default 255 histogram bins against the benchmark's 63.

Run: python benchmarks/gbdt_bins.py [--seeds 1]

On mfeat (1,400 training samples, 649 features, 10 trees per round), one thread: CPU seconds of
the fit and test accuracy for each number of bins, and the ratio of the CPU times, measured in
the same run (CPU time, so a busy machine changes it less than wall time).
"""

from __future__ import annotations

import argparse
import time

from intermodal.baselines import build_gbdt
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.metrics import evaluate
from intermodal.training import RunContext, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    seeds = parser.parse_args().seeds
    data = load_mfeat()
    seconds: dict[int, float] = {}
    for bins in (255, 63):
        total, scores = 0.0, []
        for seed in range(seeds):
            splits = standardize(split_dataset(data, seed=seed))
            model = build_gbdt(splits.train, RunContext(seed=seed), max_bin=bins)
            start = time.process_time()
            result = fit(model, splits, seed=seed, threads=1)
            total += time.process_time() - start
            scores.append(evaluate(result.model, splits.test)["accuracy"])
            rounds = result.chosen["rounds"]
            print(f"max_bin {bins:>3}, seed {seed}: accuracy {scores[-1]:.4f}, {rounds} rounds")
        seconds[bins] = total
        print(f"max_bin {bins:>3}: {total:.1f} CPU s, mean accuracy {sum(scores) / seeds:.4f}")
    print(f"63 bins take {seconds[255] / seconds[63]:.2f}x less CPU time than 255")


if __name__ == "__main__":
    main()
