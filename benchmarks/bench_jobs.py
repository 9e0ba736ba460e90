"""The main job end to end: ``intermodal bench`` with its defaults, serial and in parallel.

Run: python benchmarks/bench_jobs.py [--jobs 2] [-- extra bench arguments]

Times the default benchmark (every method, three seeds, analyses and report) in fresh
processes, first with ``--jobs 1`` and then with ``--jobs N``, and prints both wall times and
their ratio. With extra arguments after ``--`` (e.g. ``-- --methods early,mfm --seeds 1``) it
times that benchmark instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_seconds(jobs: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "intermodal.cli", "bench", "--quiet", "--jobs", str(jobs)]
        command += ["--output", str(Path(scratch) / "out"), *extra]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="further arguments of intermodal bench")
    args = parser.parse_args()
    serial = bench_seconds(1, args.extra)
    parallel = bench_seconds(args.jobs, args.extra)
    shown = " ".join(args.extra) or "(defaults)"
    print(f"intermodal bench {shown}")
    print(f"--jobs 1: {serial:7.1f} s")
    print(
        f"--jobs {args.jobs}: {parallel:7.1f} s   (jobs 1 / jobs {args.jobs} = "
        f"{serial / parallel:.2f}x)"
    )


if __name__ == "__main__":
    main()
