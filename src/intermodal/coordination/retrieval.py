"""Evaluation of coordinated spaces: cross-modal retrieval, zero-shot classification, analogies."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from intermodal.coordination.similarity import cosine_similarity


def _ranks(similarity: Tensor) -> Tensor:
    """1-based rank of each row's match (the diagonal), ties counted pessimistically."""
    positive = similarity.diagonal().unsqueeze(1)
    return (similarity > positive).sum(dim=1) + (similarity == positive).sum(dim=1)


def retrieval_metrics(a: Tensor, b: Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Cross-modal retrieval between paired embeddings (pair i of ``a`` matches pair i of ``b``).

    For each direction (``a->b``: query a_i, gallery b; ``b->a``) by cosine similarity: recall@k
    (fraction of queries whose match ranks in the top k), median rank and mean reciprocal rank.

    Shape:
        ``a: (N, D), b: (N, D)`` -> a dict ``{"a->b R@1": ..., ...}``
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must be paired: {len(a)} vs {len(b)} rows")
    similarity = cosine_similarity(a.float(), b.float())
    results = {}
    for name, sim in (("a->b", similarity), ("b->a", similarity.T)):
        ranks = _ranks(sim).double()
        for k in ks:
            results[f"{name} R@{k}"] = float((ranks <= k).double().mean())
        results[f"{name} median rank"] = float(ranks.median())
        results[f"{name} MRR"] = float((1.0 / ranks).mean())
    return results


def class_prototypes(embeddings: Tensor, labels: Tensor, n_classes: int | None = None) -> Tensor:
    """Mean L2-normalized embedding of each class ``(K, D)``."""
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    z = F.normalize(embeddings, dim=1)
    sums = torch.zeros(n_classes, z.shape[1], dtype=z.dtype).index_add_(0, labels, z)
    counts = torch.bincount(labels, minlength=n_classes).clamp_min(1).unsqueeze(1)
    return sums / counts


def zero_shot_predict(embeddings: Tensor, prototypes: Tensor) -> Tensor:
    """Class of the nearest prototype by cosine similarity, e.g. image embeddings classified with
    prototypes built from the other modality. Shape: ``(N, D), (K, D) -> (N,)``."""
    return cosine_similarity(embeddings, prototypes).argmax(dim=1)


def analogy(
    query: Tensor, minus: Tensor, plus: Tensor, gallery: Tensor, k: int = 5
) -> tuple[Tensor, Tensor]:
    """Vector arithmetic in a coordinated space (Kiros et al. 2014): the ``k`` gallery items
    nearest (cosine) to ``normalize(query) - normalize(minus) + normalize(plus)``.

    Shape:
        ``query, minus, plus: (D,) or (Q, D); gallery: (N, D)`` -> ``(indices, similarities)``,
        each ``(k,)`` or ``(Q, k)``.
    """
    single = query.ndim == 1
    q, m, p = (F.normalize(v.reshape(-1, v.shape[-1]), dim=1) for v in (query, minus, plus))
    similarity = cosine_similarity(q - m + p, gallery)
    values, indices = similarity.topk(min(k, len(gallery)), dim=1)
    return (indices[0], values[0]) if single else (indices, values)
