"""SimBaMM against a Transformer encoder written out here (projections, multi-head attention with
a key padding mask, residuals, layer norms, feed-forward blocks, masked mean)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor
from torch.nn import functional as F

from intermodal.fusion import SimBaMMFusion

DIMS = {"a": 3, "b": 5, "c": 2}


def layer_norm(x: Tensor, norm: torch.nn.LayerNorm) -> Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + norm.eps) * norm.weight + norm.bias


def reference(f: SimBaMMFusion, features: dict[str, Tensor], present: Tensor) -> Tensor:
    """The module's formula step by step; ``present`` is ``(B, M)`` in sorted modality order."""
    keys = sorted(features)
    h = torch.stack(
        [features[k] @ f.projections[k].weight.T + f.projections[k].bias for k in keys], dim=1
    )
    batch, tokens, width = h.shape
    attend = present | ~present.any(dim=1, keepdim=True)
    for layer in f.encoder.layers:
        attention = layer.self_attn
        heads = attention.num_heads
        size = width // heads
        q, k, v = (h @ attention.in_proj_weight.T + attention.in_proj_bias).chunk(3, dim=-1)

        def split(x: Tensor) -> Tensor:
            return x.reshape(batch, tokens, heads, size).transpose(1, 2)  # noqa: B023

        scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(size)
        scores = scores.masked_fill(~attend[:, None, None, :], float("-inf"))
        mixed = (torch.softmax(scores, dim=-1) @ split(v)).transpose(1, 2).reshape(h.shape)
        out = mixed @ attention.out_proj.weight.T + attention.out_proj.bias
        h = layer_norm(h + out, layer.norm1)
        hidden = F.relu(h @ layer.linear1.weight.T + layer.linear1.bias)
        h = layer_norm(h + hidden @ layer.linear2.weight.T + layer.linear2.bias, layer.norm2)
    weights = present.unsqueeze(-1).double()
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def every_subset(batch_per_subset: int = 2) -> tuple[dict[str, Tensor], Tensor]:
    """A mask with each of the 2^3 presence patterns (the empty one too) on some rows."""
    patterns = list(itertools.product([True, False], repeat=3))
    rows = torch.tensor([p for p in patterns for _ in range(batch_per_subset)])
    return {k: rows[:, i] for i, k in enumerate(sorted(DIMS))}, rows


@pytest.mark.parametrize("training", [False, True])
def test_matches_the_written_out_encoder_with_every_presence_pattern(training: bool) -> None:
    torch.manual_seed(0)
    f = SimBaMMFusion(DIMS, 8, num_heads=2, num_layers=2, dropout=0.0).double()
    f.train(training)
    mask, present = every_subset()
    x = {k: torch.randn(len(present), d, dtype=torch.float64) for k, d in DIMS.items()}
    out = f(x, mask)
    torch.testing.assert_close(out, reference(f, x, present), rtol=1e-10, atol=1e-10)
    assert (out[~present.any(dim=1)] == 0).all()  # nothing present: zeros
    torch.testing.assert_close(f(x), reference(f, x, torch.ones_like(present)))


def test_an_absent_modality_is_never_read() -> None:
    torch.manual_seed(1)
    f = SimBaMMFusion(DIMS, 8, num_heads=4).double().eval()
    mask, present = every_subset()
    x = {k: torch.randn(len(present), d, dtype=torch.float64) for k, d in DIMS.items()}
    noisy = {k: torch.where(mask[k][:, None], v, 1e6 * torch.randn_like(v)) for k, v in x.items()}
    torch.testing.assert_close(f(noisy, mask), f(x, mask), rtol=0, atol=0)


def test_every_parameter_gets_a_gradient() -> None:
    f = SimBaMMFusion(DIMS, 8, num_heads=2)
    x = {k: torch.randn(6, d) for k, d in DIMS.items()}
    f(x).pow(2).sum().backward()
    for name, parameter in f.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="must divide"):
        SimBaMMFusion(DIMS, 10, num_heads=4)
    with pytest.raises(ValueError, match="num_layers"):
        SimBaMMFusion(DIMS, 8, num_layers=0)
    f = SimBaMMFusion(DIMS, 8, num_heads=2, feedforward_dim=5)
    assert f.encoder.layers[0].linear1.out_features == 5
