from __future__ import annotations

import pytest
import torch

from intermodal.coordination import analogy, class_prototypes, retrieval_metrics, zero_shot_predict


def test_retrieval_metrics_match_a_loop() -> None:
    torch.manual_seed(0)
    a = torch.randn(12, 4, dtype=torch.float64)
    b = a + 0.8 * torch.randn(12, 4, dtype=torch.float64)
    metrics = retrieval_metrics(a, b, ks=(1, 3))
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
    for name, queries, gallery in (("a->b", a, b), ("b->a", b, a)):
        ranks = []
        for i in range(12):
            scores = [cos(queries[i], gallery[j]) for j in range(12)]
            ranks.append(1 + sum(s > scores[i] for s in scores))
        for k in (1, 3):
            assert metrics[f"{name} R@{k}"] == pytest.approx(sum(r <= k for r in ranks) / 12)
        assert metrics[f"{name} MRR"] == pytest.approx(sum(1 / r for r in ranks) / 12)
        assert metrics[f"{name} median rank"] == float(
            torch.tensor(ranks, dtype=torch.float64).median()
        )


def test_zero_shot_with_prototypes_of_the_other_modality() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    centers = torch.eye(3) * 5
    other = centers[labels] + 0.1 * torch.randn(6, 3)
    prototypes = class_prototypes(other, labels)
    queries = centers[torch.tensor([2, 0, 1])] + 0.1 * torch.randn(3, 3)
    assert zero_shot_predict(queries, prototypes).tolist() == [2, 0, 1]


def test_analogy_finds_the_shifted_item() -> None:
    red, blue, car, boat = torch.eye(4)
    gallery = torch.stack([red + car, blue + car, red + boat, blue + boat])
    indices, scores = analogy(red + car, red, blue, gallery, k=2)
    assert indices[0] == 1 and scores[0] == pytest.approx(scores.max())
    batched, _ = analogy(
        torch.stack([red + car, red + boat]),
        torch.stack([red, red]),
        torch.stack([blue, blue]),
        gallery,
        k=1,
    )
    assert batched.ravel().tolist() == [1, 3]
