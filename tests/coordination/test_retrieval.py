from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from intermodal.coordination import analogy, class_prototypes, retrieval_metrics, zero_shot_predict
from intermodal.coordination.retrieval import _similarity_chunk


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _labelled_pairs(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    labels_a = torch.randint(0, 4, (n,), generator=generator)
    labels_b = labels_a.clone()
    labels_b[:5] = torch.randint(0, 4, (5,), generator=generator)
    labels_a[0] = 9  # a class absent from b: this a->b query has no relevant item
    centers = torch.randn(10, 6, generator=generator, dtype=torch.float64)
    a = centers[labels_a] + 0.9 * torch.randn(n, 6, generator=generator, dtype=torch.float64)
    b = a + 0.7 * torch.randn(n, 6, generator=generator, dtype=torch.float64)
    return a, b, labels_a, labels_b


def _tied_pairs(n: int = 30, seed: int = 1) -> tuple[torch.Tensor, ...]:
    """Rows of 4 entries +-1 among 8 (norm exactly 2): cosines are exact multiples of 1/4, with
    many exact ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(2 * n):
        row = np.zeros(8)
        row[rng.choice(8, size=4, replace=False)] = rng.choice([-1.0, 1.0], size=4)
        rows.append(row)
    both = torch.tensor(np.array(rows))
    labels = torch.from_numpy(rng.integers(0, 3, size=n))
    return both[:n], both[n:], labels, labels


def _loop_category_metrics(
    similarity: np.ndarray, labels_q: np.ndarray, labels_g: np.ndarray, ks: tuple[int, ...]
) -> dict[str, float]:
    """MAP@R and P@k with the gallery ranked by descending similarity, index order in ties."""
    map_r, precision = [], {k: [] for k in ks}
    for i in range(len(similarity)):
        order = sorted(range(similarity.shape[1]), key=lambda j: -similarity[i, j])
        rel = [int(labels_g[j] == labels_q[i]) for j in order]
        for k in ks:
            precision[k].append(sum(rel[:k]) / k)
        r = sum(rel)
        if r:
            map_r.append(sum(sum(rel[: p + 1]) / (p + 1) * rel[p] for p in range(r)) / r)
    out = {"MAP@R": sum(map_r) / len(map_r)}
    out.update({f"P@{k}": sum(v) / len(v) for k, v in precision.items()})
    return out


def _sklearn_map(similarity: np.ndarray, labels_q: np.ndarray, labels_g: np.ndarray) -> float:
    values = [
        average_precision_score(labels_g == labels_q[i], similarity[i])
        for i in range(len(similarity))
        if (labels_g == labels_q[i]).any()
    ]
    return float(np.mean(values))


def _directions(a: torch.Tensor, b: torch.Tensor, la: torch.Tensor, lb: torch.Tensor) -> list:
    similarity = _cosine(a.numpy(), b.numpy())
    return [
        ("a->b", similarity, la.numpy(), lb.numpy()),
        ("b->a", similarity.T, lb.numpy(), la.numpy()),
    ]


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
        assert metrics[f"{name} median rank"] == float(np.median(ranks))
    assert not any(key.endswith(("MAP", "MAP@R", "P@1")) for key in metrics)


def test_median_rank_is_the_midpoint_for_an_even_count() -> None:
    # a_i is nearest to b_(i+1) for i < 2, so the ranks are [2, 2, 1, 1]: the lower median is 1.
    a = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    b = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    ranks = []
    similarity = _cosine(a.numpy(), b.numpy())
    for i in range(4):
        ranks.append(int((similarity[i] >= similarity[i, i]).sum()))
    assert ranks == [2, 2, 1, 1]
    assert retrieval_metrics(a, b, ks=(1,))["a->b median rank"] == float(np.median(ranks)) == 1.5


def test_worked_example_by_hand() -> None:
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    a = torch.tensor([[1.0, 0.5], [0.5, 1.0], [0.5, -1.0], [-1.0, -1.0]])
    metrics = retrieval_metrics(a, b, ks=(1, 2), labels_a=torch.tensor([0, 1, 0, 1]))
    # Gallery orders: a0: b0 b1 b3 b2; a1: b1 b0 b2 b3; a2: b3 b0 b2 b1;
    # a3: {b2 b3} tied, then {b0 b1} tied. Paired ranks 1, 1, 3, 2 (a3's tie is pessimistic).
    assert metrics["a->b R@1"] == 0.5
    assert metrics["a->b R@2"] == 0.75
    assert metrics["a->b median rank"] == 1.5
    assert metrics["a->b MRR"] == pytest.approx((1 + 1 + 1 / 3 + 1 / 2) / 4)
    # AP: a0 (1/1 + 2/4)/2, a1 the same, a2 (1/2 + 2/3)/2, a3 (1/2 + 2/4)/2 (ties share a cut-off).
    assert metrics["a->b MAP"] == pytest.approx((0.75 + 0.75 + 7 / 12 + 0.5) / 4)
    # MAP@R with R = 2: a0 and a1 (1 + 0)/2; a2 and a3 (0 + 1/2)/2 (a3: b2 before b3 in the tie).
    assert metrics["a->b MAP@R"] == pytest.approx((0.5 + 0.5 + 0.25 + 0.25) / 4)
    assert metrics["a->b P@1"] == 0.5
    assert metrics["a->b P@2"] == 0.5


def test_map_matches_scikit_learn_per_query() -> None:
    a, b, labels_a, labels_b = _labelled_pairs()
    metrics = retrieval_metrics(a, b, ks=(1, 5), labels_a=labels_a, labels_b=labels_b)
    for name, similarity, labels_q, labels_g in _directions(a, b, labels_a, labels_b):
        assert metrics[f"{name} MAP"] == pytest.approx(
            _sklearn_map(similarity, labels_q, labels_g), abs=1e-12
        )


def test_map_with_tied_similarities_matches_scikit_learn() -> None:
    a, b, labels_a, labels_b = _tied_pairs()
    similarity = _cosine(a.numpy(), b.numpy())
    assert len(np.unique(similarity)) < similarity.size / 10  # many ties
    metrics = retrieval_metrics(a, b, ks=(1,), labels_a=labels_a, labels_b=labels_b)
    for name, sim, labels_q, labels_g in _directions(a, b, labels_a, labels_b):
        assert metrics[f"{name} MAP"] == pytest.approx(
            _sklearn_map(sim, labels_q, labels_g), abs=1e-12
        )
    # The order of the gallery within ties does not change MAP.
    permutation = torch.randperm(len(b), generator=torch.Generator().manual_seed(3))
    shuffled = retrieval_metrics(
        a[permutation], b[permutation], ks=(1,), labels_a=labels_a[permutation]
    )
    assert shuffled["a->b MAP"] == pytest.approx(metrics["a->b MAP"], abs=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_map_at_r_and_precision_at_k_match_loops(tied: bool) -> None:
    a, b, labels_a, labels_b = _tied_pairs() if tied else _labelled_pairs()
    ks = (1, 3, 10, 100)
    metrics = retrieval_metrics(a, b, ks=ks, labels_a=labels_a, labels_b=labels_b)
    for name, similarity, labels_q, labels_g in _directions(a, b, labels_a, labels_b):
        expected = _loop_category_metrics(similarity, labels_q, labels_g, ks)
        for key, value in expected.items():
            assert metrics[f"{name} {key}"] == pytest.approx(value, abs=1e-12), key


def test_queries_without_relevant_items_are_left_out() -> None:
    a, b, _, _ = _labelled_pairs(n=6)
    labels_a = torch.tensor([0, 0, 1, 1, 7, 8])
    labels_b = torch.tensor([0, 1, 1, 0, 2, 2])
    metrics = retrieval_metrics(a, b, ks=(1,), labels_a=labels_a, labels_b=labels_b)
    similarity = _cosine(a.numpy(), b.numpy())
    aps = [
        average_precision_score(labels_b.numpy() == labels_a[i].item(), similarity[i])
        for i in range(4)
    ]
    assert metrics["a->b MAP"] == pytest.approx(np.mean(aps), abs=1e-12)
    expected_p1 = [labels_b[similarity[i].argmax()].item() == labels_a[i].item() for i in range(6)]
    assert metrics["a->b P@1"] == pytest.approx(sum(expected_p1) / 6)
    disjoint = retrieval_metrics(
        a, b, labels_a=torch.zeros(6, dtype=torch.long), labels_b=labels_a + 1
    )
    assert math.isnan(disjoint["a->b MAP"]) and math.isnan(disjoint["b->a MAP@R"])
    assert disjoint["a->b P@5"] == 0.0


def test_chunked_equals_one_chunk() -> None:
    a, b, labels_a, labels_b = _labelled_pairs(n=200, seed=5)
    a, b = a.float(), b.float()
    labels_a[0] = 0  # every query has a relevant item: no NaN in the comparison
    whole = retrieval_metrics(
        a, b, ks=(1, 5, 10), labels_a=labels_a, labels_b=labels_b, chunk_size=200
    )
    for chunk_size in (1, 64, 100):
        chunked = retrieval_metrics(
            a, b, ks=(1, 5, 10), labels_a=labels_a, labels_b=labels_b, chunk_size=chunk_size
        )
        assert chunked == whole


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_similarity_blocks_are_bitwise_the_same_for_any_block(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    queries = torch.randn(300, 64, generator=generator, dtype=dtype)
    gallery_t = torch.randn(250, 64, generator=generator, dtype=dtype).T
    whole = _similarity_chunk(queries, gallery_t, 0, 300)
    for start, stop in ((0, 1), (0, 7), (64, 71), (128, 300), (256, 300)):
        assert torch.equal(_similarity_chunk(queries, gallery_t, start, stop), whole[start:stop])


def test_labels_may_be_numpy_and_shared_by_the_pairs() -> None:
    a, b, labels, _ = _labelled_pairs(n=20)
    from_numpy = retrieval_metrics(a, b, labels_b=labels.numpy())
    assert from_numpy == retrieval_metrics(a, b, labels_a=labels, labels_b=labels)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"labels_a": torch.zeros(5, dtype=torch.long)}, ValueError, "has 5 labels"),
        ({"labels_a": torch.zeros(6, 2, dtype=torch.long)}, ValueError, "1-D class labels"),
        ({"labels_b": torch.zeros(6)}, TypeError, "integer class labels"),
        ({"ks": (0, 5)}, ValueError, "positive integers"),
        ({"ks": ()}, ValueError, "positive integers"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
    ],
)
def test_invalid_arguments_are_explained(kwargs: dict, error: type, message: str) -> None:
    a, b = torch.randn(6, 3), torch.randn(6, 3)
    with pytest.raises(error, match=message):
        retrieval_metrics(a, b, **kwargs)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (torch.randn(6, 3), torch.randn(6, 4), "same embedding size"),
        (torch.randn(0, 3), torch.randn(0, 3), "at least one row"),
        (torch.randn(6, 3), torch.randn(5, 3), "paired"),
        (torch.randn(6), torch.randn(6), "2-D"),
        (torch.full((2, 3), float("nan")), torch.randn(2, 3), "NaN"),
    ],
)
def test_invalid_embeddings_are_explained(a: torch.Tensor, b: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retrieval_metrics(a, b)


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
