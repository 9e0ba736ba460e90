"""Classification metrics and batched prediction (plain PyTorch)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset


def confusion_matrix(pred: Tensor, target: Tensor, n_classes: int) -> Tensor:
    """``C[i, j]`` = number of samples of class i predicted as j. ``pred``, ``target``: ``(N,)``."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    flat = target.long() * n_classes + pred.long()
    return torch.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy_from_confusion(confusion: Tensor) -> float:
    total = int(confusion.sum())
    return int(confusion.diagonal().sum()) / total if total > 0 else float("nan")


def macro_f1_from_confusion(confusion: Tensor) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN); classes absent from both
    targets and predictions are left out of the mean."""
    confusion = confusion.double()
    tp = confusion.diagonal()
    fp = confusion.sum(dim=0) - tp
    fn = confusion.sum(dim=1) - tp
    denominator = 2 * tp + fp + fn
    seen = denominator > 0
    if not seen.any():
        return float("nan")
    return float((2 * tp[seen] / denominator[seen]).mean())


@torch.no_grad()
def predict(model: nn.Module, dataset: MultimodalDataset, batch_size: int = 1024) -> Tensor:
    """Logits ``(N, n_classes)`` of ``model`` on every sample, in evaluation mode, on CPU."""
    was_training = model.training
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    outputs = []
    try:
        for start in range(0, len(dataset), batch_size):
            batch = dataset.__getitems__(range(start, min(start + batch_size, len(dataset))))
            inputs = {k: v.to(device) for k, v in batch.inputs.items()}
            mask = {k: v.to(device) for k, v in batch.mask.items()}
            outputs.append(model(inputs, mask).cpu())
    finally:
        model.train(was_training)
    return torch.cat(outputs)


def evaluate(
    model: nn.Module, dataset: MultimodalDataset, batch_size: int = 1024
) -> Mapping[str, float]:
    """Accuracy and macro-F1 of ``model`` on ``dataset``."""
    pred = predict(model, dataset, batch_size).argmax(dim=1)
    confusion = confusion_matrix(pred, dataset.targets, dataset.n_classes)
    return {
        "accuracy": accuracy_from_confusion(confusion),
        "macro_f1": macro_f1_from_confusion(confusion),
    }
