"""The benchmark: train every method on one data set over several seeds and compare them."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
from torch import nn
from tqdm.auto import tqdm

from intermodal._io import write_text_atomic
from intermodal.analysis import complexity
from intermodal.bench.registry import Job, resolve_methods
from intermodal.bench.report import analyse, write_report
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.splits import DataSplits, split_dataset, standardize
from intermodal.metrics import evaluate, predict
from intermodal.saving import load_model, save_model
from intermodal.training import fit


@dataclass
class BenchResult:
    """``runs``: one row per (method, seed); ``leaderboard``: one row per method, best first."""

    dataset: str
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] | None = None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def latency_ms(model: nn.Module, dataset: MultimodalDataset, repeats: int = 3) -> float:
    """Inference time per sample in milliseconds: the fastest of ``repeats`` batched passes over
    ``dataset`` divided by its size."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(model, dataset)
        times.append(time.perf_counter() - start)
    return 1000.0 * min(times) / len(dataset)


def _view(splits: DataSplits, modalities: Sequence[str]) -> DataSplits:
    if list(modalities) == splits.train.modality_names:
        return splits
    return DataSplits(*(part.select(modalities) for part in splits))


def run_job(
    job: Job, splits: DataSplits, seed: int, epochs: int, patience: int
) -> tuple[dict[str, Any], nn.Module]:
    """Build, train and evaluate one method with one seed; return its result row and model.

    ``train_time_s`` counts building too, so a method that searches its architecture on the
    training data is charged for the search. ``flops`` is per test sample (PyTorch's counter).
    """
    data = _view(splits, job.modalities)
    pl.seed_everything(seed, workers=True, verbose=False)
    start = time.perf_counter()
    model = job.method.build(data.train)
    result = fit(model, data, max_epochs=epochs, patience=patience, seed=seed, accelerator="cpu")
    train_time = time.perf_counter() - start
    scores = evaluate(result.model, data.test)
    example = {k: v[:64] for k, v in data.test.modalities.items()}
    row = {
        "method": job.name,
        "family": job.method.family,
        "seed": seed,
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "parameters": count_parameters(result.model),
        "flops": complexity(result.model, example, repeats=1)["flops_per_sample"],
        "train_time_s": train_time,
        "epochs": result.epochs,
        "latency_ms": latency_ms(result.model, data.test),
    }
    return row, result.model


def _file_name(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", method)


def leaderboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Aggregate runs per method: mean and standard deviation of accuracy over seeds, means of the
    rest. Sorted by mean accuracy, best first."""
    grouped = runs.groupby("method", sort=False)
    table = pd.DataFrame(
        {
            "family": grouped["family"].first(),
            "accuracy_mean": grouped["accuracy"].mean(),
            "accuracy_std": grouped["accuracy"].std(ddof=1).fillna(0.0),
            "macro_f1_mean": grouped["macro_f1"].mean(),
            "parameters": grouped["parameters"].first(),
            "flops": grouped["flops"].mean(),
            "train_time_s": grouped["train_time_s"].mean(),
            "latency_ms": grouped["latency_ms"].mean(),
            "seeds": grouped["seed"].count(),
        }
    )
    table = table.sort_values("accuracy_mean", ascending=False, kind="stable")
    return table.reset_index()


def run_benchmark(
    dataset: MultimodalDataset,
    methods: str | Sequence[str] = "all",
    seeds: int = 3,
    epochs: int = 100,
    patience: int = 10,
    progress: bool = True,
    modalities: Sequence[str] | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    analyse_models: bool = True,
) -> BenchResult:
    """Train and test every method on ``dataset`` for seeds 0..seeds-1.

    Seed s draws the stratified 70/15/15 split, or the validation part of a data set's own
    split (see ``split_dataset``), standardizes it on its training part and seeds the
    initialization and training of every method, so all methods see the same data per seed.
    Training early-stops on validation loss; accuracy and macro-F1 are measured on the test part.
    ``modalities`` restricts the data set to those modalities first.

    With ``output``, each finished run is saved at once (``runs/``, and the seed-0 models in
    ``models/``), so an interrupted benchmark can continue with ``resume=True``: runs already
    saved are skipped. ``analyse_models`` runs the report's analyses on the seed-0 models
    (see :func:`intermodal.bench.report.analyse`).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    if modalities:
        dataset = dataset.select(modalities)
    jobs, skipped = resolve_methods(methods, dataset)
    if not jobs:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
        raise ValueError(f"no requested method applies to {dataset.name} ({reasons})")
    folder = Path(output) if output is not None else None
    rows, models = [], {}
    bar = tqdm(total=len(jobs) * seeds, disable=not progress, unit="run", dynamic_ncols=True)
    try:
        for seed in range(seeds):
            splits = standardize(split_dataset(dataset, seed=seed))
            for job in jobs:
                bar.set_description(f"{job.name} seed {seed}")
                saved_row = (
                    folder / "runs" / f"{_file_name(job.name)}__seed{seed}.json" if folder else None
                )
                saved_model = folder / "models" / _file_name(job.name) if folder else None
                if (
                    resume
                    and saved_row
                    and saved_row.is_file()
                    and (seed or (saved_model and saved_model.is_dir()))
                ):
                    rows.append(json.loads(saved_row.read_text()))
                    if seed == 0 and saved_model is not None:
                        models[job.name] = load_model(saved_model)
                else:
                    row, model = run_job(job, splits, seed, epochs, patience)
                    rows.append(row)
                    if seed == 0:
                        models[job.name] = model
                        if saved_model is not None:
                            save_model(model, saved_model, overwrite=True)
                    if saved_row is not None:
                        write_text_atomic(saved_row, json.dumps(row))
                bar.update()
    finally:
        bar.close()
    runs = pd.DataFrame(rows)
    config = {
        "methods": [job.name for job in jobs],
        "modalities": dataset.modality_names,
        "seeds": seeds,
        "epochs": epochs,
        "patience": patience,
    }
    analysis = None
    if analyse_models:
        if progress:
            print("analysing the seed-0 models for the report ...", file=sys.stderr)
        analysis = analyse(standardize(split_dataset(dataset, seed=0)), models)
    return BenchResult(dataset.name, runs, leaderboard(runs), skipped, config, analysis)


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table`` (floats with 4 significant digits)."""

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def save_results(result: BenchResult, directory: Path, report: bool = True) -> None:
    """Write ``results.csv`` (one row per run), ``results.json``, ``summary.md``, the analyses
    (``analysis.json``) and, with ``report``, ``report.html`` and ``figures/``; each file
    atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / "results.csv", result.runs.to_csv(index=False))
    document = {
        "dataset": result.dataset,
        "config": result.config,
        "leaderboard": result.leaderboard.to_dict(orient="records"),
        "runs": result.runs.to_dict(orient="records"),
        "skipped": [{"method": name, "reason": why} for name, why in result.skipped],
    }
    write_text_atomic(directory / "results.json", json.dumps(document, indent=2))
    summary = [
        f"# Benchmark on {result.dataset}\n",
        f"Seeds: {result.config.get('seeds')}; accuracy and macro-F1 on the test split "
        "(mean over seeds; std is the sample standard deviation).\n",
        markdown_table(result.leaderboard),
    ]
    if result.skipped:
        summary.append("\nSkipped: " + "; ".join(f"{n} ({w})" for n, w in result.skipped) + "\n")
    write_text_atomic(directory / "summary.md", "\n".join(summary))
    if result.analysis is not None:
        write_text_atomic(
            directory / "analysis.json", json.dumps(result.analysis, indent=2, default=float)
        )
    if report:
        write_report(directory)
