"""Cross-modal attention fusion in the style of the Multimodal Transformer (MulT)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion, zero_where_absent
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module

BATCHED_ROWS = 128
"""Up to this batch size, all pairs are computed together (fewer, larger operations: 1.6x as
fast for a training batch of 64 on a CPU, forward and backward); from about 256 rows, as in an
analysis, pair by pair is faster (see ``benchmarks/lean_step.py``)."""


SHORT_ROWS = 16
"""Below this many keys, the CPU computes the softmax over a leading dimension."""


def attention_weights(scores: Tensor) -> Tensor:
    """``softmax(scores, dim=-1)`` of scores ``(..., T_a, T_b)``.

    PyTorch's CPU softmax over a last dimension shorter than a vector register (16 floats with
    AVX-512) runs several times slower than over a leading dimension, where it vectorizes over
    all the other entries: for attention over 8 tokens, forward and backward, 4x (see
    ``benchmarks/costly_methods.py``). On a CPU the keys' axis is moved first for such short
    rows; the result is the same softmax, a view in the scores' shape.
    """
    if scores.device.type == "cpu" and scores.shape[-1] < SHORT_ROWS:
        return torch.softmax(scores.movedim(-1, 0), dim=0).movedim(0, -1)
    return torch.softmax(scores, dim=-1)


def pooled_values(weights: Tensor, v: Tensor) -> Tensor:
    """``mean_t (weights V)`` computed as ``(mean_t weights) V``: attention weights
    ``(..., T_a, T_b)`` and values ``(..., T_b, d)`` to ``(..., d)``."""
    return (weights.mean(dim=-2).unsqueeze(-1) * v).sum(dim=-2)


def pair_key(target: str, source: str) -> str:
    return f"{source}->{target}".replace(".", "_")


@register_fusion(
    "attention",
    "cross-modal attention (MulT-style) over learned tokens per vector modality",
    searchable=False,
)
@register_module
class CrossModalAttentionFusion(Fusion):
    """Cross-modal attention between modality sequences (Tsai et al., ACL 2019, MulT,
    https://arxiv.org/abs/1906.00295).

    For every ordered pair (target a, source b), the target's time steps attend over the
    source's: ``CM_{b->a} = softmax(Q_a K_b^T / sqrt(d_h)) V_b`` with ``Q_a = X_a W_Q``,
    ``K_b = X_b W_K``, ``V_b = X_b W_V`` (``num_heads`` heads of size d_h =
    ``model_dim / num_heads``). Each target concatenates what it receives from all sources,
    averages over its time steps, and the targets' results are concatenated and mapped
    linearly to ``output_dim``. One cross-modal attention layer, without MulT's residual,
    normalization and feed-forward blocks. Vectors ``(B, d)`` count as sequences of length 1.
    The average over time steps is taken on the attention weights,
    ``mean_t(softmax(...) V_b) = (mean_t softmax(...)) V_b``, so the per-step output is never
    formed (``attend`` returns it).

    With a presence mask, an absent modality's tokens are masked: a target receives zeros from
    an absent source (in place of ``CM_{b->a}``), and an absent target contributes zeros to the
    pooled vector; the output layer's bias remains.

    Shape:
        ``{m: (B, T_m, d_m) or (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "tokens masked: zeros from an absent source; an absent target pools to zeros"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        model_dim: int = 32,
        num_heads: int = 4,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if model_dim % num_heads:
            raise ValueError(f"model_dim={model_dim} must be divisible by num_heads={num_heads}")
        self.model_dim, self.num_heads = model_dim, num_heads
        pairs = [(a, b) for a in self.input_dims for b in self.input_dims if a != b]
        self.queries = nn.ModuleDict(
            {pair_key(a, b): nn.Linear(self.input_dims[a], model_dim) for a, b in pairs}
        )
        self.keys = nn.ModuleDict(
            {pair_key(a, b): nn.Linear(self.input_dims[b], model_dim, bias=False) for a, b in pairs}
        )  # a key bias would shift all scores of a query equally: softmax ignores it
        self.values = nn.ModuleDict(
            {pair_key(a, b): nn.Linear(self.input_dims[b], model_dim) for a, b in pairs}
        )
        count = len(self.input_dims)
        self.output = nn.Linear(count * (count - 1) * model_dim, output_dim)

    def _heads(self, x: Tensor) -> Tensor:
        batch, steps, _ = x.shape
        return x.reshape(batch, steps, self.num_heads, -1).transpose(1, 2)

    def _weights_and_values(
        self, target: str, source: str, x_t: Tensor, x_s: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``softmax(Q_a K_b^T / sqrt(d_h))`` ``(B, heads, T_a, T_b)`` and ``V_b``
        ``(B, heads, T_b, d_h)``."""
        key = pair_key(target, source)
        query: nn.Linear = self.queries[key]  # type: ignore[assignment]
        scale = (self.model_dim // self.num_heads) ** -0.5  # folded into the query projection
        q = self._heads(nn.functional.linear(x_t, query.weight * scale, query.bias * scale))
        k = self._heads(self.keys[key](x_s))
        v = self._heads(self.values[key](x_s))
        return attention_weights(q @ k.transpose(-1, -2)), v

    def attend(self, target: str, source: str, x_t: Tensor, x_s: Tensor) -> Tensor:
        """``CM_{source->target}``: ``(B, T_target, model_dim)``."""
        weights, v = self._weights_and_values(target, source, x_t, x_s)
        out = (weights @ v).transpose(1, 2)
        return out.reshape(x_t.shape[0], x_t.shape[1], self.model_dim)

    def attend_pooled(self, target: str, source: str, x_t: Tensor, x_s: Tensor) -> Tensor:
        """``CM_{source->target}`` averaged over the target's steps: ``(B, model_dim)``.

        Computed as ``(mean_t softmax(...)) V``, equal to ``mean_t (softmax(...) V)`` but without
        the per-step output; on the CPU it is the fastest form measured for short sequences
        (faster than ``scaled_dot_product_attention`` followed by the mean, forward and backward).
        """
        weights, v = self._weights_and_values(target, source, x_t, x_s)
        return pooled_values(weights, v).reshape(x_t.shape[0], self.model_dim)

    def _pooled_together(self, sequences: dict[str, Tensor], present: dict[str, Tensor]) -> Tensor:
        """Every pair's pooled ``CM_{b->a}`` at once, for sequences of one length T: ``(B, P *
        model_dim)`` in the order of ``forward``'s loop (targets, then their sources).

        The same formula with a few large operations instead of a dozen small ones per pair: the
        query projections of one target for all its sources are one linear map (their weights
        stacked), as are the key and value projections of one source for all its targets; the
        scores, softmax and pooling of all pairs are batched.
        """
        names = list(sequences)
        pairs = [(a, b) for a in names for b in names if a != b]
        batch, steps = next(iter(sequences.values())).shape[:2]
        heads, size = self.num_heads, self.model_dim // self.num_heads

        def project(
            layers: nn.ModuleDict, x: Tensor, keys: list[str], scale: float = 1.0
        ) -> Tensor:
            """``x`` through the layers named ``keys`` as one map, times ``scale``:
            ``(B, T, len(keys), D)``."""
            linears: list[nn.Linear] = [layers[k] for k in keys]  # type: ignore[misc]
            weight = torch.cat([layer.weight for layer in linears])
            biased = linears[0].bias is not None
            bias = torch.cat([layer.bias for layer in linears]) if biased else None
            if scale != 1.0:  # on the weights, which are smaller than the projections
                weight, bias = weight * scale, bias * scale if bias is not None else None
            return nn.functional.linear(x, weight, bias).reshape(batch, steps, len(keys), -1)

        scale = size**-0.5  # 1 / sqrt(d_h), folded into the query projections
        q = torch.cat(  # in the pairs' order: each target with its sources
            [
                project(
                    self.queries, sequences[a], [pair_key(a, b) for b in names if b != a], scale
                )
                for a in names
            ],
            dim=2,
        )
        k_parts, v_parts = [], []
        for b in names:
            keys = [pair_key(a, b) for a in names if a != b]
            k_parts.append(project(self.keys, sequences[b], keys))
            v_parts.append(project(self.values, sequences[b], keys))
        # keys and values come grouped by source: each pair's slice, stacked in the pairs' order
        # (one copy, and no index tensor, which a stack of models would turn into a gather)
        slots = [(names.index(b), [x for x in names if x != b].index(a)) for a, b in pairs]
        k = torch.stack([k_parts[s][:, :, j] for s, j in slots], dim=2)
        v = torch.stack([v_parts[s][:, :, j] for s, j in slots], dim=2)
        # (B, T, P, D) -> (B, P, heads, T, d_h)
        q, k, v = (
            x.reshape(batch, steps, len(pairs), heads, size).permute(0, 2, 3, 1, 4)
            for x in (q, k, v)
        )
        weights = attention_weights(q @ k.transpose(-1, -2))
        pooled = pooled_values(weights, v)  # (B, P, heads, d_h)
        if present:
            ones = torch.ones(batch, dtype=torch.bool, device=q.device)
            keep = torch.stack(
                [present.get(a, ones) & present.get(b, ones) for a, b in pairs], dim=1
            )
            pooled = torch.where(keep[:, :, None, None], pooled, pooled.new_zeros(()))
        return pooled.reshape(batch, len(pairs) * self.model_dim)

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.output(self.pooled(features, mask))

    def affine_split(self) -> tuple[Callable[..., Tensor], nn.Module]:
        """The pooled cross-modal vectors and the linear layer on them (see
        :meth:`Fusion.affine_split`)."""
        return self.pooled, self.output

    def pooled(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Every pair's ``CM_{b->a}`` averaged over the target's steps, concatenated in the
        order of the targets, then their sources: ``(B, M (M - 1) model_dim)``."""
        tensors = self.check(features, ndims=(2, 3))
        present = self.check_mask(mask, tensors[0].shape[0], tensors[0].device)
        sequences = {
            key: x.unsqueeze(1) if x.ndim == 2 else x
            for key, x in zip(self.input_dims, tensors, strict=True)
        }
        sequences = {
            key: zero_where_absent(x, present[key]) if key in present else x
            for key, x in sequences.items()
        }
        if len(tensors[0]) <= BATCHED_ROWS and len({x.shape[1] for x in sequences.values()}) == 1:
            return self._pooled_together(sequences, present)
        pooled = []
        for target, x_t in sequences.items():
            received = []
            for source, x_s in sequences.items():
                if source == target:
                    continue
                pooled_source = self.attend_pooled(target, source, x_t, x_s)
                if source in present:
                    pooled_source = zero_where_absent(pooled_source, present[source])
                received.append(pooled_source)
            result = torch.cat(received, dim=-1)
            if target in present:
                result = zero_where_absent(result, present[target])
            pooled.append(result)
        return torch.cat(pooled, dim=-1)
