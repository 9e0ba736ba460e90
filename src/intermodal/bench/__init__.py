"""Benchmark: the method registry, the runner and its results."""

from intermodal.bench import methods as _methods  # registers the built-in methods
from intermodal.bench.registry import METHODS, Job, Method, register_method, resolve_methods
from intermodal.bench.runner import BenchResult, leaderboard, run_benchmark, save_results

__all__ = [
    "METHODS",
    "BenchResult",
    "Job",
    "Method",
    "leaderboard",
    "register_method",
    "resolve_methods",
    "run_benchmark",
    "save_results",
]
del _methods
