"""SimBaMM: the simple late-fusion Transformer baseline."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion(
    "simbamm",
    "SimBaMM (Rheude 2025): one token per modality, a small Transformer encoder, mean pooling",
)
@register_module
class SimBaMMFusion(Fusion):
    """The Simple Baseline for Multimodal Learning (Rheude, Eils & Wild, 2025, "Fusion or
    Confusion? Multimodal Complexity Is Not All You Need", https://arxiv.org/abs/2512.22991), in
    its one-token-per-modality form.

    Each modality's encoding ``e_m`` (the output of its encoder) is projected by its own linear
    map to a token ``t_m = P_m e_m`` of ``output_dim`` features; the M tokens pass through a
    Transformer encoder (``num_layers`` layers of multi-head self-attention and a feed-forward
    block, each with a residual connection and layer normalization after it, as in Vaswani et
    al. 2017 and PyTorch's ``TransformerEncoderLayer``: ReLU, dropout); the output is the mean
    of the encoded tokens of the present modalities. The head that follows maps it to the
    predictions.

    An absent modality is masked (the paper's modality masking): its token is no key of the
    attention, so no present token attends to it, and it is left out of the mean. A sample
    with no modality present gives zeros.

    Where the paper is silent this implementation chooses: no positional or modality embedding
    (each token's projection is its own, so its bias marks the modality, and the tokens are a
    set), mean pooling rather than a class token, post-normalization.

    Args:
        input_dims: d_m, the encoding size of each modality.
        output_dim: the token width and the output size (divisible by ``num_heads``).
        num_heads: attention heads.
        num_layers: Transformer layers.
        feedforward_dim: hidden size of the feed-forward blocks (default ``2 * output_dim``).
        dropout: dropout in attention and feed-forward blocks.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    absent = "masked: not attended to and left out of the pooled tokens"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        num_heads: int = 4,
        num_layers: int = 2,
        feedforward_dim: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if num_heads < 1 or output_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide output_dim={output_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.projections = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )
        layer = nn.TransformerEncoderLayer(
            output_dim,
            num_heads,
            dim_feedforward=feedforward_dim or 2 * output_dim,
            dropout=dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def tokens(self, features: Mapping[str, Tensor]) -> Tensor:
        """The modality tokens ``(B, M, output_dim)`` in sorted modality order."""
        tensors = self.check(features)
        return torch.stack(
            [self.projections[key](x) for key, x in zip(self.input_dims, tensors, strict=True)],
            dim=1,
        )

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tokens = self.tokens(features)
        present = self.presence(mask, tokens).T.bool()  # (B, M)
        # A sample with nothing present attends to all of its tokens (instead of to none,
        # which would give NaN); the pooling below drops them.
        attend = present | ~present.any(dim=1, keepdim=True)
        encoded = self.encoder(tokens, src_key_padding_mask=~attend)
        weights = present.unsqueeze(-1).to(encoded.dtype)
        return (encoded * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
