"""Train one registered method for use: on all the training data of a data set, with the
benchmark's data and training settings, saved with its preprocessing (``intermodal train``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intermodal.bench.config import BenchConfig
from intermodal.bench.registry import Job, resolve_methods, with_spaces
from intermodal.bench.runner import _view, train_job, tune_job, validation_scores
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.missing import hide_at_random
from intermodal.data.preprocessing import Preprocessor
from intermodal.data.splits import DataSplits, training_split
from intermodal.errors import UnknownNameError
from intermodal.models.pipeline import Pipeline
from intermodal.saving import save_model
from intermodal.training.fit import FitResult


@dataclass
class TrainedModel:
    """A method trained for use: ``pipeline`` reads raw data; ``validation``: every metric of the
    task on the validation part (``val_<metric>``); ``samples``: training, validation and
    left-out (a data set's own test rows) sample counts."""

    method: str
    dataset: str
    pipeline: Pipeline
    validation: dict[str, float]
    samples: dict[str, int]
    fit: FitResult
    tuning: dict[str, Any] | None = None

    def metadata(self, config: BenchConfig) -> dict[str, Any]:
        """What ``config.json`` records beside the model (with ``trials``, the tuning record
        and the chosen setting)."""
        tuned = {}
        if self.tuning is not None:
            tuned = {
                "params": dict(self.tuning["params"]),
                "tuning": self.tuning,
            }
        return {
            "method": self.method,
            "dataset": self.dataset,
            "seed": config.seed,
            "samples": self.samples,
            "validation": self.validation,
            "epochs": self.fit.epochs,
            "best_epoch": self.fit.best_epoch,
            "monitor": self.fit.monitor,
            "settings": config.run_settings(),
            **tuned,
        }


def one_job(method: str, dataset: MultimodalDataset) -> Job:
    """The one run that ``method`` names on ``dataset`` (``unimodal[fou]`` for one view)."""
    jobs, skipped = resolve_methods([method], dataset)
    if skipped:
        name, reason = skipped[0]
        raise ValueError(f"{name} does not apply to {dataset.name}: {reason}")
    if len(jobs) != 1:
        names = ", ".join(job.name for job in jobs)
        raise UnknownNameError(
            f"{method} runs once per modality ({names}); train one: --method {jobs[0].name}"
        )
    return jobs[0]


def train_model(
    dataset: MultimodalDataset, method: str, config: BenchConfig | None = None
) -> TrainedModel:
    """Train ``method`` on all the training data of ``dataset`` (``config.modalities`` first),
    early-stopping on a validation part (see :func:`~intermodal.data.splits.training_split`),
    with the benchmark's settings (``config``: budget, loss, missing-modality strategy,
    ``train_missing``, device, seed). The preprocessing is fitted on the training part.

    With ``config.trials``, the method is first tuned as the benchmark tunes it (see
    :func:`~intermodal.bench.runner.tune_job`) on these training and validation parts
    (cross-validated on small data), and the chosen setting is trained; ``tuning`` records it.
    """
    config = config or BenchConfig()
    if config.modalities:
        dataset = dataset.select(config.modalities)
    job = with_spaces([one_job(method, dataset)], config.search_space)[0]
    train, val, left_out = training_split(dataset, seed=config.seed)
    preprocessor = Preprocessor.fit(train)
    splits = preprocessor.transform_splits(DataSplits(train, val, val))
    if config.train_missing > 0:
        hidden = hide_at_random(splits.train, config.train_missing, seed=config.seed)
        splits = DataSplits(hidden, splits.val, splits.test)
    context = config.context(config.seed)
    record = None
    if config.trials > 0:
        raw_train = train
        if config.train_missing > 0:
            raw_train = hide_at_random(train, config.train_missing, seed=config.seed)
        tuned = tune_job(
            job, DataSplits(raw_train, val, val), context, config.trials, config.metric
        )
        record = tuned.as_dict()
        context = tuned.context(context)
    result = train_job(job, splits, context)
    scores = validation_scores(result.model, _view(splits, job.modalities).val, config.sentiment)
    return TrainedModel(
        job.name,
        dataset.name,
        Pipeline(preprocessor, result.model),
        scores,
        {"train": len(train), "validation": len(val), "left_out": left_out},
        result,
        record,
    )


def save_trained(
    trained: TrainedModel,
    directory: str | os.PathLike[str],
    config: BenchConfig,
    overwrite: bool = False,
) -> Path:
    """Save ``trained.pipeline`` with what it was trained on (see :meth:`TrainedModel.metadata`)."""
    return save_model(trained.pipeline, directory, trained.metadata(config), overwrite=overwrite)
