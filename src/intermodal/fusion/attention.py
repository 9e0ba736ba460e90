"""Cross-modal attention fusion in the style of the Multimodal Transformer (MulT)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.saving import register_module


def pair_key(target: str, source: str) -> str:
    return f"{source}->{target}".replace(".", "_")


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

    Shape:
        ``{m: (B, T_m, d_m) or (B, d_m)} -> (B, output_dim)``
    """

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

    def attend(self, target: str, source: str, x_t: Tensor, x_s: Tensor) -> Tensor:
        """``CM_{source->target}``: ``(B, T_target, model_dim)``."""
        key = pair_key(target, source)
        q = self._heads(self.queries[key](x_t))
        k = self._heads(self.keys[key](x_s))
        v = self._heads(self.values[key](x_s))
        weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        out = (weights @ v).transpose(1, 2)
        return out.reshape(x_t.shape[0], x_t.shape[1], self.model_dim)

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        tensors = self.check(features, ndims=(2, 3))
        sequences = {
            key: x.unsqueeze(1) if x.ndim == 2 else x
            for key, x in zip(self.input_dims, tensors, strict=True)
        }
        pooled = []
        for target, x_t in sequences.items():
            received = [
                self.attend(target, source, x_t, x_s)
                for source, x_s in sequences.items()
                if source != target
            ]
            pooled.append(torch.cat(received, dim=-1).mean(dim=1))
        return self.output(torch.cat(pooled, dim=-1))
