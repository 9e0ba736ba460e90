"""Evaluation of coordinated spaces: cross-modal retrieval, zero-shot classification, analogies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from intermodal.coordination.similarity import cosine_similarity

_TILE = 64
"""Rows of queries per matrix product. Every product has this shape, so a query's similarities
are bitwise the same whatever the chunk size (a BLAS may round differently for other shapes)."""

LabelsLike = Tensor | np.ndarray | Sequence[int]


def _as_embeddings(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(
            f"a and b must be 2-D embeddings (N, D), got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}; flatten or pool each item to one vector first"
        )
    if a.shape[0] == 0 or b.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"a and b must hold at least one row and one feature, got shapes {tuple(a.shape)} "
            f"and {tuple(b.shape)}"
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same embedding size to be compared, got {a.shape[1]} and "
            f"{b.shape[1]} features; project both modalities into one coordinated space first"
        )
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"a and b must be paired (row i of a matches row i of b), got {a.shape[0]} and "
            f"{b.shape[0]} rows"
        )
    if a.device != b.device:
        raise ValueError(f"a and b are on different devices ({a.device} and {b.device})")
    if a.is_complex() or b.is_complex():
        raise TypeError("a and b must be real-valued embeddings")
    dtype = torch.float64 if torch.float64 in (a.dtype, b.dtype) else torch.float32
    a, b = a.detach().to(dtype), b.detach().to(dtype)
    for name, values in (("a", a), ("b", b)):
        if not torch.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return a, b


def _as_labels(labels: LabelsLike, n: int, name: str, device: torch.device) -> Tensor:
    values = labels.detach() if isinstance(labels, Tensor) else torch.as_tensor(np.asarray(labels))
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D class labels (N,), got shape {tuple(values.shape)}; "
            "pass one integer class per row (convert one-hot labels with argmax)"
        )
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} labels but its embeddings have {n} rows")
    if values.dtype == torch.bool or values.is_floating_point() or values.is_complex():
        raise TypeError(f"{name} must be integer class labels, got dtype {values.dtype}")
    return values.to(device=device, dtype=torch.int64)


def _similarity_chunk(queries: Tensor, gallery_t: Tensor, start: int, stop: int) -> Tensor:
    """Cosine similarities of queries ``start:stop`` (L2-normalized) with the gallery,
    ``(stop - start, M)``, computed in products of ``_TILE`` rows aligned to multiples of
    ``_TILE``; ``start`` must be such a multiple."""
    rows = stop - start
    padded = -(-rows // _TILE) * _TILE
    block = queries[start:stop]
    if padded != rows:
        block = torch.cat([block, block.new_zeros(padded - rows, block.shape[1])])
    out = block.new_empty(padded, gallery_t.shape[1])
    for tile in range(0, padded, _TILE):
        torch.mm(block[tile : tile + _TILE], gallery_t, out=out[tile : tile + _TILE])
    return out[:rows]


def _median(values: Tensor) -> float:
    """Median with the midpoint convention for an even count (as ``numpy.median``)."""
    ordered = values.sort().values
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def _precision_sums(negated: Tensor, relevant: Tensor, hits: Tensor, positions: Tensor) -> Tensor:
    """Sum, over the relevant items of each row, of the precision at the item's rank; tied items
    share the cut-off at the end of their group, as in scikit-learn's ``average_precision_score``.

    Shape:
        ``negated``: (C, M) negated similarities sorted in ascending order; ``relevant``: (C, M)
        bool in that order; ``hits``: (C, M) its cumulative sum; ``positions``: (M,) 1..M
        -> (C,) float64.
    """
    end = torch.ones_like(relevant)  # last item of its group of ties
    torch.ne(negated[:, 1:], negated[:, :-1], out=end[:, :-1])
    if bool(end.all()):
        return hits.double().div_(positions).masked_fill_(~relevant, 0.0).sum(dim=1)
    # Hits before each group: hits are nondecreasing, so a running maximum of hits at group ends.
    before = torch.zeros_like(hits)
    before[:, 1:] = hits.masked_fill(~end, 0)[:, :-1].cummax(dim=1).values
    in_group = (hits - before).masked_fill_(~end, 0)  # relevant items of the group ending here
    return in_group.double().mul_(hits).div_(positions).sum(dim=1)


def _direction(
    name: str,
    queries: Tensor,
    gallery: Tensor,
    ks: tuple[int, ...],
    labels_q: Tensor | None,
    labels_g: Tensor | None,
    chunk_size: int,
) -> dict[str, float]:
    """Metrics of one direction: ``queries`` (N, D) against ``gallery`` (M, D), both normalized."""
    n, m = len(queries), len(gallery)
    device = queries.device
    gallery_t = gallery.T
    ranks = torch.empty(n, dtype=torch.float64, device=device)
    f64 = torch.float64
    n_relevant = torch.zeros(n, dtype=torch.int64, device=device)
    average_precision = torch.zeros(n, dtype=f64, device=device)
    average_precision_at_r = torch.zeros(n, dtype=f64, device=device)
    precision_at_k = torch.zeros(n, len(ks), dtype=f64, device=device)
    positions = torch.arange(1, m + 1, dtype=f64, device=device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        similarity = _similarity_chunk(queries, gallery_t, start, stop)
        rows = torch.arange(stop - start, device=device)
        match = similarity[rows, rows + start].unsqueeze(1)
        # 1-based rank of the paired item, ties counted pessimistically.
        ranks[start:stop] = (similarity >= match).sum(dim=1).double()
        if labels_q is None or labels_g is None:
            continue
        relevant = labels_q[start:stop, None] == labels_g[None, :]
        count = relevant.sum(dim=1)
        n_relevant[start:stop] = count
        # Gallery by descending similarity, gallery index order within ties.
        negated, order = torch.sort(-similarity, dim=1, stable=True)
        del similarity
        relevant = relevant.gather(1, order)
        del order
        hits = relevant.cumsum(dim=1, dtype=torch.int32)
        precision_sum = _precision_sums(negated, relevant, hits, positions)
        del negated
        average_precision[start:stop] = precision_sum / count
        r_max = int(count.max())
        if r_max > 0:
            head = hits[:, :r_max].double().div_(positions[:r_max])
            keep = relevant[:, :r_max] & (positions[:r_max] <= count[:, None])
            average_precision_at_r[start:stop] = head.masked_fill_(~keep, 0.0).sum(dim=1) / count
        for column, k in enumerate(ks):
            precision_at_k[start:stop, column] = hits[:, min(k, m) - 1].double() / k

    results = {f"{name} R@{k}": float((ranks <= k).double().mean()) for k in ks}
    results[f"{name} median rank"] = _median(ranks)
    results[f"{name} MRR"] = float((1.0 / ranks).mean())
    if labels_q is not None and labels_g is not None:
        answered = n_relevant > 0
        nan = float("nan")
        results[f"{name} MAP"] = (
            float(average_precision[answered].mean()) if answered.any() else nan
        )
        results[f"{name} MAP@R"] = (
            float(average_precision_at_r[answered].mean()) if answered.any() else nan
        )
        for column, k in enumerate(ks):
            results[f"{name} P@{k}"] = float(precision_at_k[:, column].mean())
    return results


def retrieval_metrics(
    a: Tensor,
    b: Tensor,
    ks: tuple[int, ...] = (1, 5, 10),
    labels_a: LabelsLike | None = None,
    labels_b: LabelsLike | None = None,
    chunk_size: int = 256,
) -> dict[str, float]:
    """Cross-modal retrieval between paired embeddings (pair i of ``a`` matches pair i of ``b``).

    For each direction (``a->b``: query a_i, gallery all of b; ``b->a``) by cosine similarity:

    - instance retrieval: ``R@k`` (fraction of queries whose paired item ranks in the top k),
      ``median rank`` (midpoint of the two middle ranks for an even count, as ``numpy.median``
      and VSE++, Faghri et al. 2018) and ``MRR`` (mean reciprocal rank). The paired item's rank
      counts ties pessimistically: 1 + the number of other items at least as similar.
    - with class labels, category retrieval as in cross-modal benchmarks such as the Wikipedia
      image-text set (Rasiwasia et al., ACM MM 2010), where a gallery item is relevant when its
      label equals the query's:

      - ``MAP``: mean average precision over the whole gallery. AP = mean, over the relevant
        items, of the precision at the item's rank. Tied similarities share one cut-off, as
        in scikit-learn's ``average_precision_score``: every relevant item of a group of ties
        gets the precision at the end of its group, so the order within ties does not matter.
      - ``MAP@R`` (Musgrave et al., "A Metric Learning Reality Check", ECCV 2020): with R the
        number of relevant items of the query, ``(1/R) sum_{i<=R} P@i rel(i)``.
      - ``P@k``: fraction of relevant items among the first k (divided by k, also when the
        gallery has fewer than k items).

      For ``MAP@R`` and ``P@k`` the gallery is ranked by descending similarity, ties in
      gallery index order (a stable sort). Queries with no relevant item in the gallery are
      left out of ``MAP`` and ``MAP@R`` (NaN when no query has one) and count as 0 in ``P@k``.

    Queries are processed ``chunk_size`` rows at a time (rounded up to a multiple of 64), so the
    N x N similarity matrix is never materialized: memory beyond the inputs is a few
    ``(chunk_size, N)`` blocks, about 6 bytes per entry without labels and 50 with labels (sort
    indices, cumulative counts, float64 precisions), e.g. about 1.3 GB for ``chunk_size=256``
    and N = 100,000. With labels the time is dominated by sorting every row of each block.
    Results do not depend on ``chunk_size``: every similarity comes from a matrix product of one
    fixed shape, and per-query values are averaged once at the end.

    Args:
        a, b: paired embeddings; float64 if either is float64, otherwise float32.
        ks: the cut-offs k of ``R@k`` and ``P@k``, positive integers.
        labels_a, labels_b: integer class labels of the rows of ``a`` and ``b``; when only one is
            given it is used for both (pairs share their class).
        chunk_size: query rows per block.

    Shape:
        ``a: (N, D), b: (N, D), labels_a: (N,), labels_b: (N,)`` -> a dict
        ``{"a->b R@1": ..., "a->b median rank": ..., "a->b MAP": ..., "b->a P@5": ...}``
    """
    a, b = _as_embeddings(a, b)
    ks = tuple(ks)
    if not ks or any(
        isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 for k in ks
    ):
        raise ValueError(f"ks must be positive integers such as (1, 5, 10), got {ks}")
    ks = tuple(int(k) for k in ks)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chunk_size = -(-chunk_size // _TILE) * _TILE
    if labels_a is None:
        labels_a = labels_b
    if labels_b is None:
        labels_b = labels_a
    la = None if labels_a is None else _as_labels(labels_a, len(a), "labels_a", a.device)
    lb = None if labels_b is None else _as_labels(labels_b, len(b), "labels_b", b.device)
    za, zb = F.normalize(a, dim=1, eps=1e-8), F.normalize(b, dim=1, eps=1e-8)
    return {
        **_direction("a->b", za, zb, ks, la, lb, chunk_size),
        **_direction("b->a", zb, za, ks, lb, la, chunk_size),
    }


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
