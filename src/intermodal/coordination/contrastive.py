"""Contrastive losses for coordinated embeddings, each a function plus a thin module.

Every loss works on the rows this process holds and, when ``torch.distributed`` is initialized,
compares them with the embeddings of all processes, gathered with gradients (open_clip's
``local_loss`` with ``gather_with_grad``): local rows against global columns, targets offset by
``rank * local_batch``. Averaged over processes (as data-parallel training does), each loss
equals the single-process loss on the concatenated batch; the gradient a process receives for
its own rows is ``world_size`` times the single-process gradient, because every process's loss
depends on them.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from intermodal.saving import register_module


def _all_gather(x: Tensor) -> Tensor:
    """Every process's ``x`` (same shape on each), concatenated along dim 0 in rank order."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


class _GatherWithGrad(torch.autograd.Function):
    """All processes' rows concatenated; backward sums the gradient of the concatenation over
    processes (every process's loss depends on every row) and keeps this process's rows. Written
    on ``dist.all_gather`` and ``dist.all_reduce``: ``torch.distributed.nn``'s autograd gather is
    deprecated and keeps references to the group that outlive ``destroy_process_group``, so the
    group's threads end while the interpreter shuts down, which can abort the process."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.rows = len(x)
        return _all_gather(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """All processes' ``x`` concatenated along dim 0 (gradients flow back to their owners), and
    the offset of this process's rows. Without an initialized process group: ``(x, 0)``."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    # labels have nothing to differentiate
    gathered = cast(Tensor, _GatherWithGrad.apply(x)) if x.is_floating_point() else _all_gather(x)
    return gathered, dist.get_rank() * len(x)


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"expected paired embeddings (B, D), got {tuple(a.shape)} and {tuple(b.shape)}"
        )


# --- Kiros et al. 2014 / VSE++ ---------------------------------------------------------------


def hinge_loss(a: Tensor, b: Tensor, margin: float = 0.2, hardest: bool = False) -> Tensor:
    """Symmetric margin ranking loss over in-batch negatives (Kiros, Salakhutdinov & Zemel 2014).

    With cosine similarities ``s(i, j)`` of ``a_i`` and ``b_j`` and positives on the diagonal,
    ``sum_{j != i} [margin - s(i, i) + s(i, j)]_+ + [margin - s(i, i) + s(j, i)]_+``, averaged
    over anchors i; ``hardest=True`` keeps only the hardest negative of each anchor in each
    direction (VSE++, Faghri et al. 2018).

    Shape:
        ``a: (B, D), b: (B, D) -> scalar``
    """
    _check_pair(a, b)
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    all_a, offset = gather_with_grad(a)
    all_b, _ = gather_with_grad(b)
    rows = torch.arange(len(a), device=a.device)
    positive = (a * b).sum(dim=1, keepdim=True)
    is_positive = torch.zeros(len(a), len(all_b), dtype=torch.bool, device=a.device)
    is_positive[rows, rows + offset] = True
    cost_b = (margin - positive + a @ all_b.T).clamp_min(0).masked_fill(is_positive, 0.0)
    cost_a = (margin - positive + b @ all_a.T).clamp_min(0).masked_fill(is_positive, 0.0)
    if hardest:
        return (cost_b.max(dim=1).values + cost_a.max(dim=1).values).mean()
    return (cost_b.sum(dim=1) + cost_a.sum(dim=1)).mean()


@register_module
class HingeLoss(nn.Module):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, margin: float = 0.2, hardest: bool = False) -> None:
        super().__init__()
        self.margin, self.hardest = margin, hardest

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return hinge_loss(a, b, self.margin, self.hardest)


# --- CLIP ------------------------------------------------------------------------------------


def _cross_entropy_rows(
    queries: Tensor,
    keys: Tensor,
    targets: Tensor,
    scale: Tensor,
    bias: Tensor | None,
    chunk: int | None,
) -> Tensor:
    """Sum over rows of ``cross_entropy(scale * q k^T + bias, targets)``; with ``chunk``, rows are
    processed in chunks whose logits are recomputed in the backward pass (memory O(chunk * N))."""

    def block(q: Tensor, t: Tensor) -> Tensor:
        logits = scale * q @ keys.T
        if bias is not None:
            logits = logits + bias
        return F.cross_entropy(logits, t, reduction="sum")

    if chunk is None or chunk >= len(queries):
        return block(queries, targets)
    total = queries.new_zeros(())
    for start in range(0, len(queries), chunk):
        part = slice(start, start + chunk)
        total = total + checkpoint(block, queries[part], targets[part], use_reentrant=False)
    return total


def clip_loss(
    a: Tensor,
    b: Tensor,
    logit_scale: Tensor,
    logit_bias: Tensor | None = None,
    chunk: int | None = None,
) -> Tensor:
    """Symmetric InfoNCE on L2-normalized embeddings (Radford et al. 2021, CLIP).

    ``logits = logit_scale * a_i . b_j (+ bias)``; the loss is the mean of the cross-entropies of
    rows (a -> b) and columns (b -> a) with the matching pair as target.

    Shape:
        ``a: (B, D), b: (B, D), logit_scale: scalar -> scalar``
    """
    _check_pair(a, b)
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    all_a, offset = gather_with_grad(a)
    all_b, _ = gather_with_grad(b)
    targets = torch.arange(len(a), device=a.device) + offset
    forward = _cross_entropy_rows(a, all_b, targets, logit_scale, logit_bias, chunk)
    backward = _cross_entropy_rows(b, all_a, targets, logit_scale, logit_bias, chunk)
    return (forward + backward) / (2 * len(a))


@register_module
class ClipLoss(nn.Module):
    """CLIP's loss with a temperature learned in log space: ``logit_scale = exp(log_scale)``,
    clamped to ``max_logit_scale`` (100, as in CLIP), initialized at ``1 / temperature``.

    The learned parameter is ``log_scale_offset``, initialized at 0, and
    ``log_scale = log(1 / temperature) + log_scale_offset`` with the constant kept as a Python
    float: the initial scale is exact in every dtype (after ``.double()``, ``log_scale`` is
    ``log(1 / temperature)`` in float64, not a float32 value widened) and every parameter has
    the module's dtype (no float64 parameter in a float32 model, which MPS could not hold).
    AdamW's weight decay pulls the offset, hence the temperature, towards its initial value.

    Args:
        temperature: initial temperature (0.07 in CLIP).
        learn_temperature: train the scale.
        max_logit_scale: upper clamp of the scale.
        logit_bias: add a learned scalar bias to the logits (initialized at 0).
        chunk: rows per chunk for large batches (see :func:`clip_loss`); None computes all at once.

    Shape:
        ``a: (B, D), b: (B, D) -> scalar``
    """

    def __init__(
        self,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        max_logit_scale: float = 100.0,
        logit_bias: bool = False,
        chunk: int | None = None,
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.initial_log_scale = math.log(1.0 / temperature)
        self.log_scale_offset = nn.Parameter(torch.zeros(()), requires_grad=learn_temperature)
        self.bias = nn.Parameter(torch.zeros(())) if logit_bias else None
        self.max_logit_scale, self.chunk = max_logit_scale, chunk

    @property
    def log_scale(self) -> Tensor:
        """``log(1 / temperature) + log_scale_offset``, in the module's dtype."""
        return self.log_scale_offset + self.initial_log_scale

    @property
    def logit_scale(self) -> Tensor:
        """``exp(log_scale)`` clamped to ``max_logit_scale``: the inverse temperature."""
        return self.log_scale.exp().clamp(max=self.max_logit_scale)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return clip_loss(a, b, self.logit_scale, self.bias, self.chunk)


# --- SigLIP ----------------------------------------------------------------------------------


def siglip_loss(a: Tensor, b: Tensor, logit_scale: Tensor, logit_bias: Tensor) -> Tensor:
    """Pairwise sigmoid loss (Zhai et al. 2023, SigLIP): every pair is a binary problem,
    ``-sum_ij log sigmoid(z_ij (t a_i . b_j + bias)) / B`` with ``z_ij = 1`` for matching pairs
    and -1 otherwise, on L2-normalized embeddings.

    Shape:
        ``a: (B, D), b: (B, D) -> scalar``
    """
    _check_pair(a, b)
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    all_b, offset = gather_with_grad(b)
    logits = logit_scale * a @ all_b.T + logit_bias
    signs = -torch.ones_like(logits)
    rows = torch.arange(len(a), device=a.device)
    signs[rows, rows + offset] = 1.0
    return -F.logsigmoid(signs * logits).sum() / len(a)


@register_module
class SigLipLoss(nn.Module):
    """SigLIP's loss with a learned scale (in log space, initialized at 10) and bias (initialized
    at -10), the paper's initialization.

    As in :class:`ClipLoss`, the learned parameters are offsets from constants kept as Python
    floats, ``log_scale = log(scale) + log_scale_offset`` and ``logit_bias = bias + bias_offset``
    (both offsets start at 0), so the initial values are exact in every dtype.

    Args:
        scale: initial logit scale (inverse temperature).
        bias: initial logit bias.
        max_logit_scale: upper clamp of the scale.

    Shape:
        ``a: (B, D), b: (B, D) -> scalar``
    """

    def __init__(
        self, scale: float = 10.0, bias: float = -10.0, max_logit_scale: float = 100.0
    ) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.initial_log_scale, self.initial_bias = math.log(scale), float(bias)
        self.log_scale_offset = nn.Parameter(torch.zeros(()))
        self.bias_offset = nn.Parameter(torch.zeros(()))
        self.max_logit_scale = max_logit_scale

    @property
    def log_scale(self) -> Tensor:
        """``log(scale) + log_scale_offset``, in the module's dtype."""
        return self.log_scale_offset + self.initial_log_scale

    @property
    def logit_scale(self) -> Tensor:
        """``exp(log_scale)`` clamped to ``max_logit_scale``."""
        return self.log_scale.exp().clamp(max=self.max_logit_scale)

    @property
    def logit_bias(self) -> Tensor:
        """``bias + bias_offset``, in the module's dtype."""
        return self.bias_offset + self.initial_bias

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return siglip_loss(a, b, self.logit_scale, self.logit_bias)


# --- supervised and self-supervised contrastive ----------------------------------------------


def supcon_loss(features: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the L_out form).

    For each anchor i with positives ``P(i) = {p != i : y_p = y_i}`` and candidates all other
    samples: ``-1/|P(i)| sum_{p in P(i)} log(exp(z_i.z_p / tau) / sum_{c != i} exp(z_i.z_c / tau))``
    on L2-normalized z, averaged over anchors that have positives.

    Shape:
        ``features: (N, D), labels: (N,) -> scalar``
    """
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(
            "expected features (N, D) and labels (N,), "
            f"got {tuple(features.shape)}, {tuple(labels.shape)}"
        )
    z = F.normalize(features, dim=1)
    all_z, offset = gather_with_grad(z)
    all_labels, _ = gather_with_grad(labels)
    rows = torch.arange(len(z), device=z.device)
    logits = z @ all_z.T / temperature
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[rows, rows + offset] = True
    log_prob = logits - torch.logsumexp(
        logits.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True
    )
    positives = (labels[:, None] == all_labels[None, :]) & ~self_mask
    count = positives.sum(dim=1)
    has = count > 0
    if not has.any():
        raise ValueError("no anchor has a positive: every label appears once")
    per_anchor = -(log_prob * positives).sum(dim=1)[has] / count[has]
    return per_anchor.mean()


@register_module
class SupConLoss(nn.Module):
    """Module form of :func:`supcon_loss`."""

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return supcon_loss(features, labels, self.temperature)


def ntxent_loss(a: Tensor, b: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent (Chen et al. 2020, SimCLR): the 2B embeddings of B pairs, each anchor's positive
    its partner and its candidates the other 2B - 1 embeddings; mean over the 2B anchors. It is
    :func:`supcon_loss` with one positive per anchor.

    Shape:
        ``a: (B, D), b: (B, D) -> scalar``
    """
    _check_pair(a, b)
    all_a, offset = gather_with_grad(a)
    all_b, _ = gather_with_grad(b)
    z = F.normalize(torch.cat([a, b]), dim=1)
    candidates = F.normalize(torch.cat([all_a, all_b]), dim=1)
    n_local, n_global = len(a), len(all_a)
    rows = torch.arange(n_local, device=a.device)
    own = torch.cat([rows + offset, rows + offset + n_global])  # positions of the anchors
    partner = torch.cat([rows + offset + n_global, rows + offset])
    logits = z @ candidates.T / temperature
    logits[torch.arange(2 * n_local, device=a.device), own] = float("-inf")
    return F.cross_entropy(logits, partner)


@register_module
class NTXentLoss(nn.Module):
    """Module form of :func:`ntxent_loss`."""

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return ntxent_loss(a, b, self.temperature)
