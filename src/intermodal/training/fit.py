"""``fit``: train any model on a multimodal data set with early stopping on validation."""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch import Tensor, nn

from intermodal.data.splits import DataSplits
from intermodal.training.module import ClassificationTask, Loss, MultimodalDataModule


@dataclass
class FitResult:
    """What ``fit`` returns. ``model`` holds the weights of the best validation epoch.

    ``best_epoch``, ``epochs`` and ``history`` are recorded in the training process; under a
    spawning multi-process strategy they stay ``None`` / empty in the calling process.
    """

    model: nn.Module
    train_time_s: float
    best_val_loss: float | None
    best_epoch: int | None
    epochs: int | None
    world_size: int
    history: list[dict[str, float]] = field(default_factory=list)


class _BestWeights(Callback):
    """Keep an in-memory copy of the weights with the lowest ``monitor``; restore it at the end."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.state: dict[str, Tensor] | None = None
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        self.history.append({"epoch": trainer.current_epoch, **metrics})
        value = metrics.get(self.monitor)
        if value is not None and (self.best is None or value < self.best):
            self.best, self.best_epoch = value, trainer.current_epoch
            self.state = copy.deepcopy(pl_module.state_dict())

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)


class _CloseProcessGroup(Callback):
    """Leave a process group that this fit created together, so no rank exits while another still
    talks to it (gloo aborts a process that exits with a live group)."""

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence Lightning's informational messages and known harmless warnings."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
        if enabled:
            for logger in loggers:
                logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def fit(
    model: nn.Module,
    data: DataSplits,
    *,
    loss: Loss | None = None,
    max_epochs: int = 100,
    patience: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    num_workers: int = 0,
    progress: bool = False,
    quiet: bool = True,
    root_dir: str | None = None,
    trainer_options: dict[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on ``data.train``, early-stopping on ``val_loss`` of ``data.val``.

    Args:
        model: maps ``({m: (B, ...)}, mask)`` to logits ``(B, K)``; it names the modalities it
            needs in a ``modalities`` attribute (all models of ``intermodal.models`` do).
        data: train / validation / test splits (see ``stratified_split`` and ``standardize``).
        loss: ``loss(logits, target) -> scalar``; cross-entropy by default.
        max_epochs, patience: stop after ``patience`` epochs without a lower validation loss.
        seed: seeds Python, NumPy and PyTorch (and data loader workers) before training.
        accelerator, devices, strategy: passed to ``lightning.Trainer``; e.g. ``devices=2,
            strategy="ddp_spawn", accelerator="cpu"`` trains in two processes.
        progress: show Lightning's progress bar.
        quiet: hide Lightning's informational messages (devices found, tips).
        trainer_options: further ``lightning.Trainer`` arguments.

    Returns:
        A :class:`FitResult`; its model carries the weights of the best validation epoch.
    """
    if max_epochs < 1 or patience < 1:
        raise ValueError(f"max_epochs and patience must be positive, got {max_epochs}, {patience}")
    needed = list(getattr(model, "modalities", []))
    absent = sorted(set(needed) - set(data.train.modality_names))
    if absent:
        raise KeyError(
            f"the model needs modalities {absent} that the data set lacks "
            f"(it has {data.train.modality_names})"
        )
    pl.seed_everything(seed, workers=True, verbose=False)
    task = ClassificationTask(model, data.train.n_classes, loss, lr, weight_decay)
    best = _BestWeights("val_loss")
    with tempfile.TemporaryDirectory() as scratch, _quiet(quiet):
        trainer = pl.Trainer(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            callbacks=[
                EarlyStopping("val_loss", patience=patience, mode="min"),
                best,
                _CloseProcessGroup(),
            ],
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            num_sanity_val_steps=0,
            default_root_dir=root_dir or scratch,
            **(trainer_options or {}),
        )
        start = time.perf_counter()
        trainer.fit(task, datamodule=MultimodalDataModule(data, batch_size, num_workers))
        elapsed = time.perf_counter() - start
    model.cpu()
    in_process = best.state is not None
    return FitResult(
        model=model,
        train_time_s=elapsed,
        best_val_loss=best.best,
        best_epoch=best.best_epoch,
        epochs=len(best.history) if in_process else None,
        world_size=trainer.world_size,
        history=best.history,
    )
