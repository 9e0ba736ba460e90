from __future__ import annotations

import pytest
import torch

from intermodal.fusion import ConcatFusion, LateFusion

DIMS = {"b": 3, "a": 2, "c": 4}


def features(batch: int = 5) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {key: torch.randn(batch, dim) for key, dim in DIMS.items()}


def test_concat_is_a_linear_map_of_the_sorted_concatenation() -> None:
    fusion = ConcatFusion(DIMS, 6)
    x = features()
    concatenated = torch.cat([x["a"], x["b"], x["c"]], dim=1)
    expected = concatenated @ fusion.projection.weight.T + fusion.projection.bias
    torch.testing.assert_close(fusion(x), expected)
    plain = ConcatFusion(DIMS, 9, project=False)
    torch.testing.assert_close(plain(x), concatenated)


@pytest.mark.parametrize("combine", ["mean", "weighted", "learned"])
def test_late_fusion_combines_per_modality_predictions(combine: str) -> None:
    fusion = LateFusion(DIMS, 4, combine=combine)
    with torch.no_grad():
        if combine == "weighted":
            fusion.weight_logits.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x = features()
    p = [x[k] @ fusion.predictors[k].weight.T + fusion.predictors[k].bias for k in ("a", "b", "c")]
    if combine == "mean":
        expected = (p[0] + p[1] + p[2]) / 3
    elif combine == "weighted":
        w = torch.exp(fusion.weight_logits) / torch.exp(fusion.weight_logits).sum()
        expected = w[0] * p[0] + w[1] * p[1] + w[2] * p[2]
    else:
        expected = torch.cat(p, dim=1) @ fusion.combiner.weight.T + fusion.combiner.bias
    torch.testing.assert_close(fusion(x), expected)


@pytest.mark.parametrize(
    "module",
    [ConcatFusion(DIMS, 4), LateFusion(DIMS, 4, "weighted"), LateFusion(DIMS, 4, "learned")],
)
def test_every_parameter_gets_a_gradient(module: torch.nn.Module) -> None:
    module(features(batch=1)).square().sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_inputs_are_reported() -> None:
    fusion = ConcatFusion(DIMS, 4)
    x = features()
    with pytest.raises(KeyError, match=r"missing modalities \['c'\]"):
        fusion({"a": x["a"], "b": x["b"]})
    with pytest.raises(ValueError, match=r"'b' must be \(B, 3\)"):
        fusion({**x, "b": torch.randn(5, 2)})
    with pytest.raises(ValueError, match="batch sizes differ"):
        fusion({**x, "c": torch.randn(4, 4)})
    with pytest.raises(ValueError, match="combine must be one of"):
        LateFusion(DIMS, 4, combine="max")
    with pytest.raises(ValueError, match="output_dim must be a positive int"):
        ConcatFusion(DIMS, 0)
