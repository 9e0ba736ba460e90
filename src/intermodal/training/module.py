"""The Lightning engine: a module around any model and objective, callbacks and a data module."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, cast

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from intermodal.data.dataset import Batch, collate
from intermodal.data.splits import DataSplits
from intermodal.training.fit import VALIDATION_BATCH, epoch_batches, make_optimizer
from intermodal.training.objective import Objective, validation_scores
from intermodal.training.stopping import EarlyStopping


class TrainingModule(pl.LightningModule):
    """Trains ``model`` on ``objective`` with AdamW.

    Logs ``train_loss``, ``val_loss`` and, for a model that predicts the task's outputs, the
    task's validation metrics once per epoch. The validation loss is summed over processes
    before dividing; the metrics are computed on each process's share of the validation split
    and averaged over processes (exact in one process).
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        task: str,
        output_dim: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
    ) -> None:
        super().__init__()
        self.model, self.objective = model, objective
        self.task, self.output_dim, self.lr, self.weight_decay = task, output_dim, lr, weight_decay
        self._sums = torch.zeros(2, dtype=torch.float64)
        self._outputs: list[Tensor] = []
        self._targets: list[Tensor] = []

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> Any:
        return self.model(inputs, mask)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.objective.train(batch)
        size = len(batch.target)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        self._outputs, self._targets = [], []

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, outputs = self.objective.validate(batch)
        size = len(batch.target)
        self._sums += torch.stack([loss.detach().double() * size, loss.new_tensor(size).double()])
        if outputs is not None:
            self._outputs.append(outputs.detach())
            self._targets.append(batch.target)

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._sums, reduce_op="sum")
        self.log("val_loss", float(sums[0] / sums[1]))
        if self._outputs:
            outputs, targets = torch.cat(self._outputs), torch.cat(self._targets)
            for name, value in validation_scores(
                self.task, outputs, targets, self.output_dim
            ).items():
                self.log(name, value, sync_dist=True)

    def configure_optimizers(self) -> Any:
        return make_optimizer(self.model, self.lr, self.weight_decay)


class BestWeights(pl.Callback):
    """Early stopping with the rule of the lean loop (:class:`EarlyStopping`: patience and a
    relative ``min_delta``), an in-memory copy of the weights with the best monitored value of
    ``objective``, restored at the end, and the per-epoch history. ``on_epoch(epoch, scores)``
    returning True stops training too.

    Lightning's own ``EarlyStopping`` takes an absolute ``min_delta``; this callback keeps both
    engines on one rule. Every process sees the same (reduced) validation values, and the
    decision to stop is reduced across processes as well.
    """

    def __init__(
        self,
        objective: Objective,
        patience: int,
        min_delta: float,
        on_epoch: Callable[[int, dict[str, float]], bool] | None = None,
    ) -> None:
        self.objective = objective
        self.stopping = EarlyStopping(patience, min_delta, objective.higher_is_better)
        self.on_epoch = on_epoch
        self.state: dict[str, Tensor] | None = None
        self.history: list[dict[str, float]] = []

    @property
    def best(self) -> float | None:
        return self.stopping.best

    @property
    def best_epoch(self) -> int | None:
        return self.stopping.best_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        epoch = trainer.current_epoch
        self.history.append({"epoch": epoch, **metrics})
        value = metrics.get(self.objective.key, math.nan)
        stop = not math.isfinite(value)  # as the lean loop: nothing left to follow
        if not stop:
            if self.stopping.update(epoch, value):
                model = cast(nn.Module, pl_module.model)
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            stop = self.stopping.stopped
        if not stop and self.on_epoch is not None:
            stop = bool(self.on_epoch(epoch, dict(self.history[-1])))
        if trainer.strategy.reduce_boolean_decision(stop, all=False):
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.state is not None:
            cast(nn.Module, pl_module.model).load_state_dict(self.state)


class CloseProcessGroup(pl.Callback):
    """Leave a process group that this fit created together, so no rank exits while another still
    talks to it (gloo aborts a process that exits with a live group)."""

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


class SeededBatches(Sampler[list[int]]):
    """Shuffled index batches from a generator seeded once, the order of the lean engine."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[list[int]]:
        for index in epoch_batches(self.n, self.batch_size, self.generator):
            yield index.tolist()

    def __len__(self) -> int:
        return self.n // self.batch_size if self.n > self.batch_size else 1


class MultimodalDataModule(pl.LightningDataModule):
    """Data loaders over train / validation / test splits of a ``MultimodalDataset``.

    The training loader shuffles and drops a last incomplete batch (so batch normalization never
    sees a batch of one); batches are fetched whole from the in-memory tensors. With ``seed``
    (one process) the batches follow a generator seeded with it, as in the lean engine;
    without it, Lightning shards a shuffled order across processes.
    """

    def __init__(
        self,
        splits: DataSplits,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.splits, self.batch_size, self.num_workers = splits, batch_size, num_workers
        self.seed = seed

    def train_dataloader(self) -> DataLoader[Any]:
        dataset = self.splits.train
        if self.seed is not None:
            return DataLoader(
                dataset,
                batch_sampler=SeededBatches(len(dataset), self.batch_size, self.seed),
                collate_fn=collate,
                num_workers=self.num_workers,
                generator=torch.Generator(),  # the iterator's seed draw leaves the global one
            )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=len(dataset) > self.batch_size,
            collate_fn=collate,
            num_workers=self.num_workers,
        )

    def _evaluation(self, part: str) -> DataLoader[Any]:
        return DataLoader(
            getattr(self.splits, part),
            batch_size=max(self.batch_size, VALIDATION_BATCH),
            collate_fn=collate,
            num_workers=self.num_workers,
            generator=torch.Generator(),  # the iterator's seed draw leaves the global generator
        )

    def val_dataloader(self) -> DataLoader[Any]:
        return self._evaluation("val")

    def test_dataloader(self) -> DataLoader[Any]:
        return self._evaluation("test")
