"""``intermodal diagnose``: what a fusion model and the data do with two modalities.

The models are trained by the benchmark runner and analysed by the same suite as the report
(:mod:`intermodal.bench.analyses`), so the report of a benchmark with the same methods, data and
seed shows the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from intermodal.analysis import discrete_target, model_cost, pid, profile
from intermodal.bench.analyses import AnalysisSettings, of_test, to_json
from intermodal.bench.config import BenchConfig
from intermodal.bench.runner import run_benchmark
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.missing import complete_samples
from intermodal.data.splits import split_dataset, standardize
from intermodal.metrics import predict_outputs, predictions

FUSION_METHOD = "nonlinear"
"""The diagnosed fusion: an MLP over the concatenated encodings, so it can model interactions."""
BASELINE_METHOD = AnalysisSettings().baseline
"""The baseline of effective robustness: late fusion by averaging."""
METHODS = (FUSION_METHOD, BASELINE_METHOD, "unimodal")


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def diagnose(
    dataset: MultimodalDataset,
    modalities: Sequence[str] | None = None,
    config: BenchConfig | None = None,
) -> dict[str, Any]:
    """Train a fusion model, one model per modality and a late-fusion baseline on two modalities
    (seed ``config``'s first seed, its budget), then run the analysis suite (robustness, EMAP,
    PID, interaction types) and add the PID of the fusion model's predictions (on the test
    samples with both modalities present), its cost and the data profile. ``samples`` says
    which samples each analysis used.

    Returns:
        A JSON-serializable dict with one entry per analysis.
    """
    data = dataset.select(modalities) if modalities else dataset
    if len(data.modality_names) != 2:
        raise ValueError(
            f"diagnose compares two modalities; the data set has {data.modality_names}: "
            "choose two with --modalities"
        )
    config = (config or BenchConfig()).with_(
        methods=METHODS, seeds=1, modalities=(), output=None, report=True
    )
    seed = config.seed
    result = run_benchmark(data, config)
    first, second = data.modality_names
    test = standardize(split_dataset(data, seed=seed)).test
    fusion = result.models[FUSION_METHOD]
    flat = {k: v.reshape(len(v), -1).numpy() for k, v in test.modalities.items()}
    outputs = predictions(predict_outputs(fusion, test), test.task)
    predicted = discrete_target(
        test.with_targets(outputs.to(test.targets.dtype)),
        result.analysis_settings.pid_target_bins,
    )
    batch = test.batch()
    data_profile = profile(data, seed=seed)
    prediction_pid: dict[str, Any] | None = None
    if predicted is not None:
        settings = result.analysis_settings
        both = complete_samples(test, [first, second]).numpy()  # a PID needs both values
        n = int(both.sum())
        clusters = settings.pid_clusters_for(n, len(np.unique(predicted[both])) if n else 1)
        prediction_pid = (
            {
                **pid(
                    flat[first][both],
                    flat[second][both],
                    predicted[both],
                    n_clusters=clusters,
                    seed=seed,
                ).as_dict(),
                "clusters": clusters,
                "samples": n,
                "test_samples": len(test),
            }
            if clusters >= 2
            else {
                "skipped": f"{n} test samples with {first} and {second} present are too few "
                f"for cells of at least {settings.pid_samples_per_cell} samples"
            }
        )
    document = {
        "dataset": dataset.name,
        "modalities": [first, second],
        "fusion_method": FUSION_METHOD,
        "metric": result.config["metric"],
        "scores": dict(
            zip(result.runs["method"], result.runs[result.config["metric"]], strict=True)
        ),
        **to_json(result.analysis or {}, result.analysis_settings),
        "pid_of_predictions": prediction_pid,
        "complexity": dataclasses.asdict(
            model_cost(fusion, {k: v[:64] for k, v in batch.inputs.items()}, repeats=10)
        ),
        "profile": {
            "modalities": _records(data_profile.modalities),
            "pairs": _records(data_profile.pairs),
            "patterns": _records(data_profile.patterns),
            "notes": data_profile.notes,
        },
    }
    used = document["samples"]
    if prediction_pid is not None and "samples" in prediction_pid:
        used["pid_of_predictions"] = "PID of the fusion model's predictions on " + of_test(
            n, len(test), f"with {first} and {second} present"
        )
    used["profile"] = (
        f"profile on all {len(data)} samples of the data set, each modality on the samples "
        "where it is present and each pair on those where both are"
    )
    return document
