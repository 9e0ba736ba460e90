"""Lightning wrappers: a classification task around any model and loss, and a data module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from intermodal.data.dataset import Batch, collate
from intermodal.data.splits import DataSplits
from intermodal.metrics import accuracy_from_confusion, confusion_matrix, macro_f1_from_confusion

Loss = Callable[[Tensor, Tensor], Tensor]


class ClassificationTask(pl.LightningModule):
    """Trains ``model`` (``{m: (B, ...)}, mask -> (B, K)`` logits) with ``loss`` and AdamW.

    Logs ``train_loss``, ``val_loss``, ``val_accuracy`` and ``val_macro_f1`` once per epoch,
    synchronized across processes (the confusion matrix is summed over ranks). A model with a
    ``training_loss(inputs, target)`` method (coordinated models: ``TwoTower``, ``DCCA``) is
    trained on that loss instead, and only the losses are logged.
    """

    def __init__(
        self,
        model: nn.Module,
        n_classes: int,
        loss: Loss | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = loss if loss is not None else nn.CrossEntropyLoss()
        self.n_classes, self.lr, self.weight_decay = n_classes, lr, weight_decay
        self._confusion = torch.zeros(n_classes, n_classes, dtype=torch.long)

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor] | None = None) -> Tensor:
        return self.model(inputs, mask)

    def _loss(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        own_loss = getattr(self.model, "training_loss", None)
        if callable(own_loss):
            return own_loss(batch.inputs, batch.target), None
        logits = self.model(batch.inputs, batch.mask)
        return self.loss(logits, batch.target), logits

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _ = self._loss(batch)
        size = len(batch.target)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._confusion = torch.zeros_like(self._confusion, device=self.device)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, logits = self._loss(batch)
        self.log("val_loss", loss, on_epoch=True, sync_dist=True, batch_size=len(batch.target))
        if logits is not None:
            self._confusion += confusion_matrix(logits.argmax(dim=1), batch.target, self.n_classes)

    def on_validation_epoch_end(self) -> None:
        if callable(getattr(self.model, "training_loss", None)):
            return
        confusion = self.trainer.strategy.reduce(self._confusion, reduce_op="sum")
        self.log("val_accuracy", accuracy_from_confusion(confusion), sync_dist=True)
        self.log("val_macro_f1", macro_f1_from_confusion(confusion), sync_dist=True)

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class MultimodalDataModule(pl.LightningDataModule):
    """Data loaders over train / validation / test splits of a ``MultimodalDataset``.

    The training loader shuffles and drops a last incomplete batch (so batch normalization never
    sees a batch of one); batches are fetched whole from the in-memory tensors.
    """

    def __init__(self, splits: DataSplits, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.splits, self.batch_size, self.num_workers = splits, batch_size, num_workers

    def _loader(self, part: str, train: bool = False) -> DataLoader[Any]:
        dataset = getattr(self.splits, part)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and len(dataset) > self.batch_size,
            collate_fn=collate,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader[Any]:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader("test")
