"""The thread policy: training time with and without a CPU-bound process running beside it.

Run: python benchmarks/threads.py [--methods early,lmf,unimodal] [--epochs 30]

Trains the same benchmark (UCI Multiple Features, one seed, no report) four times, each in a
fresh process: with ``--threads 1`` (the policy on a machine of two cores) and with as many
threads as cores (PyTorch's default), each once on a quiet machine and once while a busy
process spins on one core. It prints the wall times and, for each setting, the ratio busy /
quiet: the policy's should stay near 1 to 2 (it loses at most the core the other process
takes), while PyTorch's default degrades many times over when its spinning OpenMP threads
contend with another process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time


def spin(stop: multiprocessing.synchronize.Event) -> None:
    """A CPU-bound process: arithmetic until told to stop."""
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x = (x + i * i) % 1_000_003


def bench_seconds(threads: int, methods: str, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable, "-m", "intermodal.cli", "bench", "--methods", methods,
            "--seeds", "1", "--epochs", str(epochs), "--no-report", "--quiet",
            "--threads", str(threads), "--jobs", "1", "--output", os.path.join(scratch, "out"),
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="early,lmf,unimodal")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    settings = {"policy (1 thread)": 1, f"default ({cores} threads)": cores or 1}
    print(f"intermodal bench --methods {args.methods} --seeds 1 --epochs {args.epochs}")
    print(f"{'threads':<22} {'quiet s':>8} {'busy s':>8} {'busy/quiet':>11}")
    for label, threads in settings.items():
        quiet = bench_seconds(threads, args.methods, args.epochs)
        stop = multiprocessing.Event()
        busy = multiprocessing.Process(target=spin, args=(stop,))
        busy.start()
        try:
            loaded = bench_seconds(threads, args.methods, args.epochs)
        finally:
            stop.set()
            busy.join()
        print(f"{label:<22} {quiet:8.1f} {loaded:8.1f} {loaded / quiet:11.2f}")


if __name__ == "__main__":
    main()
