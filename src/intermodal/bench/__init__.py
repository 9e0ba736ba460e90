"""Benchmark: the method registry, the configuration, the runner, its results folder, the
analysis suite and the report; the method chosen on validation, the verdict (does fusion help
here?), and training one method for use."""

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
from intermodal.bench.runner import (
    BenchResult,
    leaderboard,
    run_benchmark,
    save_best,
    save_results,
)
from intermodal.bench.selection import Choice, chosen_on_validation
from intermodal.bench.train import TrainedModel, save_trained, train_model

__all__ = [
    "METHODS",
    "BenchConfig",
    "BenchResult",
    "Choice",
    "Job",
    "Method",
    "ResultsFolder",
    "TrainedModel",
    "chosen_on_validation",
    "leaderboard",
    "register_method",
    "resolve_methods",
    "run_benchmark",
    "save_best",
    "save_results",
    "save_trained",
    "train_model",
    "unregister_method",
]
del _methods
