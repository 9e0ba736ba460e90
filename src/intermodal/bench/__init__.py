"""Benchmark: the method registry, the configuration, the runner, its results folder, the
analysis suite and the report."""

from intermodal.bench import methods as _methods  # registers the built-in methods
from intermodal.bench.config import BenchConfig
from intermodal.bench.registry import (
    METHODS,
    Job,
    Method,
    register_method,
    resolve_methods,
    unregister_method,
)
from intermodal.bench.results import ResultsFolder
from intermodal.bench.runner import BenchResult, leaderboard, run_benchmark, save_results

__all__ = [
    "METHODS",
    "BenchConfig",
    "BenchResult",
    "Job",
    "Method",
    "ResultsFolder",
    "leaderboard",
    "register_method",
    "resolve_methods",
    "run_benchmark",
    "save_results",
    "unregister_method",
]
del _methods
