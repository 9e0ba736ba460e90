"""``fit``: train any model on a multimodal data set with early stopping on validation.

Two engines share one objective (see :mod:`intermodal.training.objective`) and one set of
semantics: AdamW, shuffled batches drawn from a generator seeded with ``seed``, a last incomplete
batch dropped, validation after every epoch, early stopping after ``patience`` epochs without an
improvement of the validation loss by at least ``min_delta`` relative to the best (see
:class:`~intermodal.training.stopping.EarlyStopping`), the weights of the best epoch restored at
the end.

- ``lean``: a plain PyTorch loop for one process on one device. The data stays on the device as
  tensors, batches are formed by indexing, and validation runs in large batches; a step costs
  what the model computes.
- ``lightning``: PyTorch Lightning, for several processes, GPUs or nodes (DDP) and for custom
  ``trainer_options``. On one device it draws the same batches as the lean loop and gives the
  same weights.

Many models of one architecture train together as one stacked model with
:func:`~intermodal.training.stacked.fit_many` (see :mod:`intermodal.training.stacked`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from intermodal.data.dataset import Batch, MultimodalDataset
from intermodal.data.preprocessing import Preprocessor
from intermodal.data.splits import DataSplits
from intermodal.errors import UnknownNameError
from intermodal.losses import Loss, task_loss
from intermodal.models.pipeline import Pipeline
from intermodal.models.protocols import FitsItself
from intermodal.models.target_scale import TargetScale, TargetStatistics
from intermodal.training.accelerator import fastest_device, work_key
from intermodal.training.context import RunContext, resolve_device, thread_limit
from intermodal.training.objective import Objective, validation_pass
from intermodal.training.optim import LeanAdamW
from intermodal.training.stopping import MIN_DELTA, EarlyStopping, check_min_delta

ENGINES = ("auto", "lean", "lightning")
VALIDATION_BATCH = 1024
"""Rows per validation batch (at least the training batch size)."""

EpochCallback = Callable[[int, dict[str, float]], bool]
"""``on_epoch(epoch, scores) -> stop``: called after each epoch's validation with the epoch's
history row (``train_loss``, ``val_loss``, validation metrics); returning True ends the run
there (a tuner prunes a hopeless trial), with the best weights so far restored."""


@dataclass
class FitResult:
    """What ``fit`` returns. ``model`` holds the weights of the best validation epoch.

    ``best_epoch``, ``epochs`` and ``history`` are recorded in the training process; under a
    spawning multi-process strategy they stay ``None`` / empty in the calling process.
    ``monitor`` says which validation quantity chose the epoch; ``best_val_loss`` is the
    validation loss at that epoch. For regression on standardized targets, the history's losses
    and metrics are in standardized units; the returned model predicts in the original ones.
    """

    model: nn.Module
    train_time_s: float
    best_val_loss: float | None
    best_epoch: int | None
    epochs: int | None
    world_size: int
    history: list[dict[str, float]] = field(default_factory=list)
    monitor: str = "validation loss"
    engine: str = "lean"
    chosen: dict[str, Any] = field(default_factory=dict)
    """Settings chosen on validation data (a penalty, a number of boosting rounds), for the
    result row; empty for a model trained by gradient descent."""


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (code that uses the legacy global generator)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, with PyTorch's fused kernel where the parameters'
    device has one (one kernel for all tensors instead of a Python loop over them)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    device = parameters[0].device.type
    fused = device in ("cpu", "cuda") and all(p.is_floating_point() for p in parameters)
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=fused)


def lean_optimizer(model: nn.Module, lr: float, weight_decay: float) -> LeanAdamW:
    """The update of :func:`make_optimizer` (the same fused kernel where the device has one)
    without ``torch.optim``'s bookkeeping per tensor and step: the lean engine's optimizer."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return LeanAdamW(parameters, [lr], [weight_decay])


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """One epoch of shuffled index batches; a last incomplete batch is dropped when there is more
    than one batch (so batch normalization never sees a batch of one)."""
    order = torch.randperm(n, generator=generator)
    stop = n - n % batch_size if n > batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def split_tensors(dataset: MultimodalDataset, names: list[str], device: torch.device) -> Batch:
    """The split as tensors on ``device``. Masks are kept only for modalities absent somewhere
    in the split: a modality the mask does not name is present (the fusion contract), so the
    complete ones cost no indexing or selection per step."""
    return Batch(
        {k: dataset.modalities[k].to(device) for k in names},
        dataset.targets.to(device),
        {k: dataset.masks[k].to(device) for k in names if not bool(dataset.masks[k].all())},
    )


def _take(data: Batch, index: Tensor) -> Batch:
    return Batch(
        {k: v[index] for k, v in data.inputs.items()},
        data.target[index],
        {k: v[index] for k, v in data.mask.items()},
    )


def _slices(data: Batch, size: int) -> list[Batch]:
    n = len(data.target)
    return [
        Batch(
            {k: v[s : s + size] for k, v in data.inputs.items()},
            data.target[s : s + size],
            {k: v[s : s + size] for k, v in data.mask.items()},
        )
        for s in range(0, n, size)
    ]


def _training_step(
    goal: Objective, train: MultimodalDataset, names: list[str], batch_size: int, device: Any
) -> Callable[[], None]:
    """One training step of a copy of ``goal``'s model on ``device``, on the first
    ``batch_size`` training rows (for ``accelerator="auto"``'s timing, see
    :mod:`intermodal.training.accelerator`)."""
    model = copy.deepcopy(goal.model).to(device)
    timed = Objective(model, goal.loss, train.task)
    rows = torch.arange(min(batch_size, len(train)), device=device)
    batch = _take(split_tensors(train, names, device), rows)
    optimizer = lean_optimizer(model, 1e-3, 0.0)

    def step() -> None:
        timed.train(batch).backward()
        optimizer.step()

    return step


def _lean(
    model: nn.Module,
    data: DataSplits,
    goal: Objective,
    names: list[str],
    settings: dict[str, Any],
    device: torch.device,
    progress: bool,
) -> tuple[list[dict[str, float]], float | None, int | None]:
    """The single-device loop; returns the history, the best monitored value and its epoch."""
    batch_size = settings["batch_size"]
    model.to(device)
    train = split_tensors(data.train, names, device)
    val_batches = _slices(split_tensors(data.val, names, device), max(batch_size, VALIDATION_BATCH))
    optimizer = lean_optimizer(model, settings["lr"], settings["weight_decay"])
    generator = torch.Generator().manual_seed(settings["seed"])
    task, output_dim = data.train.task, data.train.output_dim
    history: list[dict[str, float]] = []
    stopping = EarlyStopping(settings["patience"], settings["min_delta"], goal.higher_is_better)
    best_state: dict[str, Tensor] | None = None
    on_epoch: EpochCallback | None = settings["on_epoch"]
    epochs = range(settings["max_epochs"])
    bar = tqdm(epochs, disable=not progress, unit="epoch", leave=False)
    for epoch in bar:
        model.train()
        total = torch.zeros((), device=device)
        count = 0
        for index in epoch_batches(len(train.target), batch_size, generator):
            batch = _take(train, index.to(device))
            loss = goal.train(batch)
            loss.backward()
            optimizer.step()  # and clears the gradients
            total += loss.detach() * len(index)
            count += len(index)
        model.eval()
        scores = validation_pass(goal, val_batches, task, output_dim)
        history.append({"epoch": epoch, "train_loss": float(total) / count, **scores})
        value = scores.get(goal.key, float("nan"))  # a metric the outputs could not give
        if not np.isfinite(value):
            break
        if stopping.update(epoch, value):
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if stopping.stopped or (on_epoch is not None and on_epoch(epoch, dict(history[-1]))):
            break
        bar.set_postfix({goal.key: f"{value:.4f}"})
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, stopping.best, stopping.best_epoch


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence Lightning's informational messages and known harmless warnings."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for message in (
            ".*does not have many workers.*",
            ".*number of training batches.*",
            ".*LeafSpec.*",
            r".*module\(s\) in eval mode.*",
        ):
            warnings.filterwarnings("ignore", message=message)
        if enabled:
            for logger in loggers:
                logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _lightning(
    model: nn.Module,
    data: DataSplits,
    goal: Objective,
    settings: dict[str, Any],
    options: dict[str, Any],
) -> tuple[list[dict[str, float]], float | None, int | None, int]:
    """Training with ``lightning.Trainer``; returns the history, best loss, its epoch and the
    world size."""
    import lightning.pytorch as pl

    from intermodal.training.module import (
        BestWeights,
        CloseProcessGroup,
        MultimodalDataModule,
        TrainingModule,
    )

    task = TrainingModule(
        model,
        goal,
        data.train.task,
        data.train.output_dim,
        settings["lr"],
        settings["weight_decay"],
    )
    best = BestWeights(goal, settings["patience"], settings["min_delta"], settings["on_epoch"])
    distributed = settings["devices"] != 1 or settings["strategy"] not in ("auto", "single_device")
    with tempfile.TemporaryDirectory() as scratch, _quiet(options["quiet"]):
        trainer = pl.Trainer(
            max_epochs=settings["max_epochs"],
            accelerator="gpu" if settings["accelerator"] == "cuda" else settings["accelerator"],
            devices=settings["devices"],
            strategy=settings["strategy"],
            callbacks=[best, CloseProcessGroup()],
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=options["progress"],
            num_sanity_val_steps=0,
            default_root_dir=options["root_dir"] or scratch,
            **(options["trainer_options"] or {}),
        )
        module = MultimodalDataModule(
            data,
            settings["batch_size"],
            options["num_workers"],
            seed=None if distributed else settings["seed"],
        )
        trainer.fit(task, datamodule=module)
    return best.history, best.best, best.best_epoch, trainer.world_size


def fit(
    model: nn.Module,
    data: DataSplits,
    *,
    loss: Loss | str | None = None,
    preprocess: bool | Preprocessor = False,
    standardize_targets: bool = True,
    max_epochs: int = 100,
    patience: int = 10,
    min_delta: float = MIN_DELTA,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    threads: int | None = None,
    engine: str = "auto",
    num_workers: int = 0,
    progress: bool = False,
    quiet: bool = True,
    root_dir: str | None = None,
    trainer_options: dict[str, Any] | None = None,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train ``model`` on ``data.train``, early-stopping on ``data.val``: on the validation loss,
    or on the task's validation metric for a model whose ``monitor`` is ``"metric"``.

    Args:
        model: maps ``({m: (B, ...)}, mask)`` to outputs ``(B, K)`` and names the modalities it
            needs in a ``modalities`` attribute (all models of ``intermodal.models`` do). A model
            that ``TrainsItself`` (see :mod:`intermodal.models.protocols`) is trained on its own
            ``training_loss`` and early-stopped on its deterministic ``validation_loss``.
        data: train / validation / test splits (see ``stratified_split``): raw with
            ``preprocess`` (or a ``Pipeline`` model), else already preprocessed (``standardize``).
        loss: ``loss(outputs, target) -> scalar``, or the name of a loss of the data set's task
            (see ``intermodal.losses.LOSSES``): cross-entropy for classification,
            binary cross-entropy (``bce``; ``bce_balanced`` weighs rare positives up) for
            multilabel, ``mse`` or ``l1`` for regression; the first is the default.
        preprocess: ``True`` fits a :class:`~intermodal.data.preprocessing.Preprocessor` on
            ``data.train`` (the schema and the standardization statistics), or pass one; the
            model trains on its transform of the splits and the returned model is a
            :class:`~intermodal.models.Pipeline` that predicts on raw data and is saved with
            its preprocessing. A ``Pipeline`` given as ``model`` keeps its preprocessor.
        standardize_targets: for regression, train on targets standardized with the training
            split's mean and standard deviation; the returned model is wrapped in
            :class:`~intermodal.models.TargetScale`, so its predictions are in the original
            units.
        max_epochs, patience, min_delta: stop after ``patience`` epochs in a row without an
            improvement of the monitored quantity by at least ``min_delta`` relative to the last
            improving epoch (0.1: 10%; 0: any improvement counts; see
            :class:`~intermodal.training.stopping.EarlyStopping`); the best epoch's weights are
            restored.
        lr, weight_decay: AdamW's settings (the fused kernel where available).
        batch_size: training batch size; validation uses batches of at least 1,024 rows.
        seed: seeds Python, NumPy and PyTorch before training and the batch order.
        accelerator: ``auto`` (a CUDA GPU if there is one, else the CPU), ``cpu``, ``gpu``.
        devices, strategy: more than one device (e.g. ``devices=2, strategy="ddp_spawn",
            accelerator="cpu"``) trains in several processes with Lightning.
        threads: intra-op CPU threads during training (``None``: PyTorch's current setting).
        engine: ``lean``, ``lightning`` or ``auto`` (lean for one device without
            ``trainer_options`` or data loader workers, Lightning otherwise).
        progress: show a progress bar over epochs.
        quiet: hide Lightning's informational messages (devices found, tips).
        num_workers, root_dir, trainer_options: data loader workers, output folder and further
            ``lightning.Trainer`` arguments (Lightning engine).
        on_epoch: ``on_epoch(epoch, scores) -> stop`` after each epoch (see
            :data:`EpochCallback`); True ends training there.

    Returns:
        A :class:`FitResult`; its model carries the weights of the best validation epoch.

    A model that ``FitsItself`` (a classical baseline, see :mod:`intermodal.baselines`) is not
    trained by gradient descent: it fits its own estimator with this seed and thread count.
    """
    if isinstance(model, FitsItself):
        context = RunContext(seed=seed, max_epochs=max_epochs, patience=patience, threads=threads)
        return model.fit_estimator(data, context)
    if max_epochs < 1 or patience < 1 or batch_size < 1:
        raise ValueError(
            "max_epochs, patience and batch_size must be positive, got "
            f"{max_epochs}, {patience}, {batch_size}"
        )
    check_min_delta(min_delta)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")
    preprocessor = None
    if isinstance(model, Pipeline):  # trained before: keep its preprocessing
        preprocessor, model = model.preprocessor, model.model
    elif isinstance(preprocess, Preprocessor):
        preprocessor = preprocess
    elif preprocess:
        preprocessor = Preprocessor.fit(data.train)
    if preprocessor is not None:
        data = preprocessor.transform_splits(data)
    names = list(getattr(model, "modalities", data.train.modality_names))
    absent = sorted(set(names) - set(data.train.modality_names))
    if absent:
        raise UnknownNameError(
            f"the model needs modalities {absent} that the data set lacks "
            f"(it has {data.train.modality_names})"
        )
    device = resolve_device(accelerator)
    single = devices in (1, "1") and strategy in ("auto", "single_device")
    if engine == "auto":
        engine = "lean" if single and not trainer_options and num_workers == 0 else "lightning"
    if engine == "lean" and not single:
        raise ValueError("the lean engine trains on one device; use engine='lightning' for DDP")
    settings = {
        "max_epochs": max_epochs,
        "patience": patience,
        "min_delta": min_delta,
        "on_epoch": on_epoch,
        "lr": lr,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "seed": seed,
        "accelerator": accelerator if accelerator != "auto" else device.type,
        "devices": devices,
        "strategy": strategy,
    }
    train = data.train
    if isinstance(loss, str) or loss is None:
        loss_name = loss or ""
        loss = task_loss(train.task, loss, train)
    else:
        loss_name = getattr(loss, "__name__", type(loss).__name__)
    scale, wrapper = None, None
    if isinstance(model, TargetScale):  # trained before: keep its statistics
        wrapper, scale, model = model, model.statistics, model.model
    elif train.task == "regression" and standardize_targets:
        scale = TargetStatistics.fit(train.targets)
    if scale is not None:
        data = DataSplits(*(part.with_targets(scale.standardize(part.targets)) for part in data))
    goal = Objective(model, loss, train.task, loss_name or getattr(loss, "__name__", ""))
    if accelerator == "auto" and engine == "lean" and device.type != "cpu":
        with thread_limit(threads):
            prepare = functools.partial(_training_step, goal, data.train, names, batch_size)
            device = fastest_device(work_key(model, batch_size), prepare)
    world_size = 1
    with thread_limit(threads):
        seed_everything(seed)
        start = time.perf_counter()
        if engine == "lean":
            history, best, best_epoch = _lean(model, data, goal, names, settings, device, progress)
        else:
            options = {
                "quiet": quiet,
                "progress": progress,
                "root_dir": root_dir,
                "trainer_options": trainer_options,
                "num_workers": num_workers,
            }
            history, best, best_epoch, world_size = _lightning(model, data, goal, settings, options)
        elapsed = time.perf_counter() - start
    model.cpu()
    model.eval()
    trained = wrapper or (scale.wrap(model) if scale is not None else model)
    if preprocessor is not None:
        trained = Pipeline(preprocessor, trained)
    best_loss = next((r["val_loss"] for r in history if r["epoch"] == best_epoch), best)
    return FitResult(
        model=trained,
        train_time_s=elapsed,
        best_val_loss=best_loss,
        best_epoch=best_epoch,
        epochs=len(history) if history else None,
        world_size=world_size,
        history=history,
        monitor=goal.monitor,
        engine=engine,
    )
