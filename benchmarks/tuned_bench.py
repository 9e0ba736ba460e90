"""What equal-budget tuning costs a benchmark: the wall time of ``intermodal bench`` with
``--trials N`` against ``--trials 0`` (every run alone at its defaults), in one process, on the
same machine, one after the other; and the seconds tuning took per method.

With trials, each method is tuned on the first seed's training and validation data, and its
seeds then train as one stacked model, so the tuned benchmark costs less than ``N + seeds``
runs per method.

    python benchmarks/tuned_bench.py                       # early,lmf,unimodal, 4 trials
    python benchmarks/tuned_bench.py --methods all --trials 4 --no-report
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from intermodal.bench import run_benchmark, save_results
from intermodal.data import load_dataset


def timed(data: object, trials: int, args: argparse.Namespace, folder: Path) -> tuple[float, dict]:
    """Wall seconds of one benchmark (training, testing, analyses, results) and its tuning."""
    start = time.perf_counter()
    result = run_benchmark(
        data,  # type: ignore[arg-type]
        methods=args.methods,
        seeds=args.seeds,
        trials=trials,
        jobs=args.jobs,
        report=args.report,
        progress=False,
        output=str(folder),
    )
    save_results(result, folder, report=args.report)
    return time.perf_counter() - start, result.tuning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="early,lmf,unimodal")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=0, help="0: one per core")
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    data = load_dataset("mfeat")
    with tempfile.TemporaryDirectory() as root:
        untuned, _ = timed(data, 0, args, Path(root) / "untuned")
        tuned, tuning = timed(data, args.trials, args, Path(root) / "tuned")
    print(f"mfeat, methods {args.methods}, {args.seeds} seeds, jobs {args.jobs or 'auto'}")
    print(f"--trials 0: {untuned:.0f} s; --trials {args.trials}: {tuned:.0f} s")
    print(f"ratio tuned / untuned: {tuned / untuned:.2f}")
    for method, record in sorted(tuning.items(), key=lambda item: -item[1]["time_s"])[:10]:
        states = [trial["state"] for trial in record["trials"]]
        print(
            f"  {method:<16} tuning {record['time_s']:6.1f} s, {len(states)} trials "
            f"({states.count('pruned')} pruned), chosen trial {record['chosen']}"
        )


if __name__ == "__main__":
    main()
