from __future__ import annotations

import torch

from intermodal.metrics import accuracy_from_confusion, confusion_matrix, macro_f1_from_confusion


def test_metrics_match_a_loop_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (200,), generator=generator)
    pred = torch.where(
        torch.rand(200, generator=generator) < 0.6,
        target,
        torch.randint(0, 4, (200,), generator=generator),
    )
    pred[pred == 3] = 2  # class 3 is never predicted
    confusion = confusion_matrix(pred, target, 4)
    for i in range(4):
        for j in range(4):
            assert confusion[i, j] == sum(
                int(t == i and p == j) for t, p in zip(target, pred, strict=True)
            )
    assert (
        accuracy_from_confusion(confusion)
        == sum(int(t == p) for t, p in zip(target, pred, strict=True)) / 200
    )
    f1s = []
    for c in range(4):
        tp = sum(int(t == c and p == c) for t, p in zip(target, pred, strict=True))
        fp = sum(int(t != c and p == c) for t, p in zip(target, pred, strict=True))
        fn = sum(int(t == c and p != c) for t, p in zip(target, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    assert abs(macro_f1_from_confusion(confusion) - sum(f1s) / 4) < 1e-12
