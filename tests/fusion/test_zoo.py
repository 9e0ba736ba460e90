"""Every fusion family against a reference computed here from the module's own weights."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from intermodal.fusion import (
    AdditiveFusion,
    BilinearFusion,
    ConcatFusion,
    CrossModalAttentionFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    ModalityShiftFusion,
    MultiplicativeFusion,
    MultiplicativeInteractions,
    NonlinearFusion,
    PolynomialFusion,
    ProductOfExpertsFusion,
    TensorFusion,
    VeryEarlyFusion,
)

DIMS3 = {"a": 3, "b": 2, "c": 4}
DIMS2 = {"a": 3, "b": 2}


@pytest.fixture(autouse=True)
def _double_precision() -> Iterator[None]:
    """References are compared at double precision."""
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def features(dims: dict[str, int], batch: int = 5) -> dict[str, torch.Tensor]:
    return {key: torch.randn(batch, dim) for key, dim in dims.items()}


def linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    out = torch.einsum("bi,oi->bo", x, layer.weight)
    return out if layer.bias is None else out + layer.bias


def one(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(len(x), 1)], dim=1)


def kron_rows(*xs: torch.Tensor) -> torch.Tensor:
    """Per sample, the Kronecker product of the given rows (a loop over the batch)."""
    rows = []
    for i in range(len(xs[0])):
        row = xs[0][i]
        for x in xs[1:]:
            row = torch.kron(row, x[i])
        rows.append(row)
    return torch.stack(rows)


# --- each formula ---------------------------------------------------------------------------


def test_additive() -> None:
    f, x = AdditiveFusion(DIMS3, 4), features(DIMS3)
    expected = sum(x[k] @ f.projections[k].weight.T for k in DIMS3) + f.bias
    torch.testing.assert_close(f(x), expected)


def test_multiplicative() -> None:
    f, x = MultiplicativeFusion(DIMS3, 4, hidden_dim=6), features(DIMS3)
    product = torch.ones(5, 6)
    for k in DIMS3:
        product = product * (x[k] @ f.projections[k].weight.T)
    torch.testing.assert_close(f(x), linear(product, f.output))


@pytest.mark.parametrize("variant", ["matrix", "vector", "scalar"])
def test_multiplicative_interactions(variant: str) -> None:
    out = 4 if variant == "matrix" else 3
    f, x = MultiplicativeInteractions(DIMS2, out, variant=variant), features(DIMS2)
    expected = []
    for i in range(5):
        generated = f.weight_bias + sum(x["b"][i, j] * f.weight[j] for j in range(2))
        if variant == "matrix":
            z = x["a"][i] @ generated
        else:
            z = generated * x["a"][i]
        expected.append(z + f.context_projection.weight @ x["b"][i] + f.context_projection.bias)
    torch.testing.assert_close(f(x), torch.stack(expected))
    swapped = MultiplicativeInteractions(DIMS2, 2, variant="vector", primary="b")
    assert swapped(x).shape == (5, 2)


def test_bilinear() -> None:
    f, x = BilinearFusion(DIMS2, 4), features(DIMS2)
    expected = torch.stack(
        [
            torch.stack([x["a"][i] @ f.weight[k] @ x["b"][i] + f.bias[k] for k in range(4)])
            for i in range(5)
        ]
    )
    torch.testing.assert_close(f(x), expected)


def test_tensor_fusion_is_a_linear_map_of_the_kronecker_product() -> None:
    f, x = TensorFusion(DIMS3, 4), features(DIMS3)
    fused = kron_rows(one(x["a"]), one(x["b"]), one(x["c"]))
    assert f.output.in_features == 4 * 3 * 5
    torch.testing.assert_close(f.fuse(x), fused)
    torch.testing.assert_close(f(x), linear(fused, f.output))
    inputs = {k: v.clone().requires_grad_() for k, v in x.items()}
    weights = torch.randn(5, 4)
    got = torch.autograd.grad((f(inputs) * weights).sum(), list(inputs.values()))
    reference = linear(kron_rows(*(one(inputs[k]) for k in ("a", "b", "c"))), f.output)
    want = torch.autograd.grad((reference * weights).sum(), list(inputs.values()))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_low_rank_fusion_equals_tfn_with_the_rebuilt_weight_tensor() -> None:
    rank, out = 3, 4
    f, x = LowRankFusion(DIMS3, out, rank=rank), features(DIMS3)
    a, b, c = (f.factors[k] for k in ("a", "b", "c"))
    full = torch.einsum("r,rio,rjo,rko->ijko", f.rank_weights, a, b, c).reshape(-1, out)
    fused = kron_rows(one(x["a"]), one(x["b"]), one(x["c"]))
    torch.testing.assert_close(f(x), fused @ full + f.bias)
    n_params = sum(p.numel() for p in f.parameters())
    assert n_params == rank * sum(d + 1 for d in DIMS3.values()) * out + rank + out


@pytest.mark.parametrize(("order", "symmetric"), [(2, True), (3, True), (2, False), (3, False)])
def test_polynomial_fusion_equals_the_full_cp_tensor(order: int, symmetric: bool) -> None:
    f, x = PolynomialFusion(DIMS2, 4, order=order, rank=3, symmetric=symmetric), features(DIMS2)
    v = torch.cat([torch.ones(5, 1), x["a"], x["b"]], dim=1)
    factors = [f.factors[0 if symmetric else p] for p in range(order)]
    letters = "ijk"[:order]
    spec = ",".join(f"r{ch}o" for ch in letters)
    full = torch.einsum(f"r,{spec}->{letters}o", f.rank_weights, *factors)
    powers = kron_rows(*[v] * order)
    torch.testing.assert_close(f(x), powers @ full.reshape(-1, 4) + f.bias)


@pytest.mark.parametrize("dims", [DIMS2, DIMS3])
def test_gated_fusion(dims: dict[str, int]) -> None:
    f, x = GatedFusion(dims, 4), features(dims)
    keys = sorted(dims)
    h = [torch.tanh(x[k] @ f.hidden[k].weight.T) for k in keys]
    logits = torch.cat([x[k] for k in keys], dim=1) @ f.gate.weight.T
    if len(keys) == 2:
        g = torch.sigmoid(logits)
        expected = g * h[0] + (1 - g) * h[1]
    else:
        per_modality = logits.reshape(5, len(keys), 4)
        weights = torch.exp(per_modality) / torch.exp(per_modality).sum(dim=1, keepdim=True)
        expected = sum(weights[:, m] * h[m] for m in range(len(keys)))
    torch.testing.assert_close(f(x), expected)


@pytest.mark.parametrize("sequence", [False, True])
def test_modality_shift(sequence: bool) -> None:
    dims = {"text": 4, "audio": 3, "video": 2}
    f = ModalityShiftFusion(dims, 4, primary="text", beta=0.7)
    x = {k: torch.randn(5, 6, d) if sequence else torch.randn(5, d) for k, d in dims.items()}
    h = f.shift_bias.clone()
    for m in ("audio", "video"):
        gate = torch.relu(
            linear(torch.cat([x[m], x["text"]], -1).reshape(-1, dims[m] + 4), f.gates[m])
        )
        shift = x[m].reshape(-1, dims[m]) @ f.shifts[m].weight.T
        h = h + (gate * shift).reshape(*x["text"].shape)
    alpha = torch.minimum(0.7 * x["text"].norm(dim=-1) / (h.norm(dim=-1) + 1e-6), torch.tensor(1.0))
    torch.testing.assert_close(f(x), x["text"] + alpha.unsqueeze(-1) * h)


def test_nonlinear_fusion() -> None:
    f, x = NonlinearFusion(DIMS3, 4, hidden_dims=(7,)), features(DIMS3)
    first, last = f.mlp.layers[0], f.mlp.layers[2]
    concatenated = torch.cat([x["a"], x["b"], x["c"]], dim=1)
    torch.testing.assert_close(f(x), linear(torch.relu(linear(concatenated, first)), last))


def test_cross_modal_attention() -> None:
    dims = {"a": 3, "b": 5, "c": 2}
    f = CrossModalAttentionFusion(dims, 4, model_dim=6, num_heads=2)
    x = {"a": torch.randn(2, 4, 3), "b": torch.randn(2, 7, 5), "c": torch.randn(2, 2)}
    seqs = {"a": x["a"], "b": x["b"], "c": x["c"].unsqueeze(1)}
    pooled = []
    for target in ("a", "b", "c"):
        received = []
        for source in ("a", "b", "c"):
            if source == target:
                continue
            key = f"{source}->{target}"
            q = linear(seqs[target].reshape(-1, dims[target]), f.queries[key]).reshape(2, -1, 6)
            k = linear(seqs[source].reshape(-1, dims[source]), f.keys[key]).reshape(2, -1, 6)
            v = linear(seqs[source].reshape(-1, dims[source]), f.values[key]).reshape(2, -1, 6)
            out = torch.zeros(2, q.shape[1], 6)
            for b, i, head in itertools.product(range(2), range(q.shape[1]), range(2)):
                cols = slice(3 * head, 3 * head + 3)
                scores = torch.stack(
                    [q[b, i, cols] @ k[b, j, cols] / 3**0.5 for j in range(k.shape[1])]
                )
                weights = torch.exp(scores) / torch.exp(scores).sum()
                out[b, i, cols] = (weights.unsqueeze(1) * v[b, :, cols]).sum(dim=0)
            received.append(out)
        pooled.append(torch.cat(received, dim=-1).mean(dim=1))
    torch.testing.assert_close(f(x), linear(torch.cat(pooled, dim=1), f.output))


def test_very_early_fusion_resamples_and_merges_raw_signals() -> None:
    f = VeryEarlyFusion({"slow": 2, "fast": 1}, 4, time_steps=9, hidden_dim=5)
    x = {"slow": torch.randn(3, 4, 2), "fast": torch.randn(3, 13)}
    merged = f.merge(x)
    grid = np.linspace(0, 1, 9)
    for b in range(3):
        expected = [np.interp(grid, np.linspace(0, 1, 13), x["fast"][b].numpy())]
        expected += [
            np.interp(grid, np.linspace(0, 1, 4), x["slow"][b, :, c].numpy()) for c in range(2)
        ]
        np.testing.assert_allclose(merged[b].detach().numpy(), np.stack(expected), atol=1e-12)
    torch.testing.assert_close(f(x), f.output(f.encoder(merged).mean(dim=2)))


# --- properties shared by families ----------------------------------------------------------

MULTILINEAR = {
    "tensor": lambda: TensorFusion(DIMS3, 4),
    "low_rank": lambda: LowRankFusion(DIMS3, 4, rank=3),
    "bilinear": lambda: BilinearFusion(DIMS2, 4),
    "multiplicative": lambda: MultiplicativeFusion(DIMS3, 4),
    "interactions": lambda: MultiplicativeInteractions(DIMS2, 4),
}


@pytest.mark.parametrize("name", MULTILINEAR)
def test_affine_in_each_modality_when_the_others_are_fixed(name: str) -> None:
    f = MULTILINEAR[name]()
    x = features(f.input_dims)
    for key in f.input_dims:
        u, w = torch.randn_like(x[key]), torch.randn_like(x[key])
        t = 0.3
        mixed = f({**x, key: t * u + (1 - t) * w})
        torch.testing.assert_close(mixed, t * f({**x, key: u}) + (1 - t) * f({**x, key: w}))


def test_additive_is_affine_in_all_inputs_jointly() -> None:
    f, x, y = AdditiveFusion(DIMS3, 4), features(DIMS3), features(DIMS3)
    t = -0.4
    mixed = {k: t * x[k] + (1 - t) * y[k] for k in DIMS3}
    torch.testing.assert_close(f(mixed), t * f(x) + (1 - t) * f(y))
    tensor = TensorFusion(DIMS3, 4)  # has cross terms, so it is not jointly affine
    assert not torch.allclose(tensor(mixed), t * tensor(x) + (1 - t) * tensor(y))


ALL = {
    "concat": lambda d: ConcatFusion(d, 4),
    "late": lambda d: LateFusion(d, 4, "learned"),
    "additive": lambda d: AdditiveFusion(d, 4),
    "multiplicative": lambda d: MultiplicativeFusion(d, 4),
    "interactions": lambda d: MultiplicativeInteractions(d, 4),
    "bilinear": lambda d: BilinearFusion(d, 4),
    "tensor": lambda d: TensorFusion(d, 4),
    "low_rank": lambda d: LowRankFusion(d, 4),
    "polynomial": lambda d: PolynomialFusion(d, 4, symmetric=False),
    "gated": lambda d: GatedFusion(d, 4),
    "shift": lambda d: ModalityShiftFusion({k: 4 for k in d}, 4),
    "nonlinear": lambda d: NonlinearFusion(d, 4),
    "attention": lambda d: CrossModalAttentionFusion(d, 4, model_dim=4, num_heads=2),
    "very_early": lambda d: VeryEarlyFusion({k: 1 for k in d}, 4, time_steps=8),
    "product_of_experts": lambda d: ProductOfExpertsFusion(d, 4),
}
TWO_MODAL = {"interactions", "bilinear"}


def inputs_for(f: nn.Module, batch: int) -> dict[str, torch.Tensor]:
    if isinstance(f, VeryEarlyFusion):
        return {k: torch.randn(batch, 6 + i) for i, k in enumerate(f.input_dims)}
    if isinstance(f, CrossModalAttentionFusion):  # sequences: with one step, softmax is constant
        return {k: torch.randn(batch, 3 + i, d) for i, (k, d) in enumerate(f.input_dims.items())}
    return features(f.input_dims, batch)


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_receives_a_gradient(name: str) -> None:
    f = ALL[name](DIMS2 if name in TWO_MODAL else DIMS3)
    f(inputs_for(f, batch=6)).square().sum().backward()
    for param_name, p in f.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, param_name


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("count", [2, 3, 4])
def test_shapes_for_batch_size_one_and_two_to_four_modalities(name: str, count: int) -> None:
    dims = dict(zip("wxyz", (3, 2, 4, 1)[:count], strict=False))
    if name in TWO_MODAL and count != 2:
        with pytest.raises(ValueError, match="exactly 2 modalities"):
            ALL[name](dims)
        return
    f = ALL[name](dims)
    assert f(inputs_for(f, batch=1)).shape == (1, 4)


@pytest.mark.parametrize("name", ALL)
def test_missing_keys_and_wrong_dims_are_reported(name: str) -> None:
    f = ALL[name](DIMS2)
    x = inputs_for(f, batch=2)
    with pytest.raises(KeyError, match="missing modalities"):
        f({"a": x["a"]})
    with pytest.raises(ValueError, match="'b' must be"):
        f({**x, "b": torch.randn(2, 3, 7, 7)})


def test_tensor_fusion_refuses_what_would_not_fit_and_suggests_lmf() -> None:
    with pytest.raises(MemoryError, match="Use LowRankFusion"):
        TensorFusion({k: 64 for k in "abcdef"}, 64)
    f = TensorFusion({"a": 30, "b": 30}, 4, memory_limit=200_000)
    f(features({"a": 30, "b": 30}, batch=10))
    with pytest.raises(MemoryError, match="a batch of 100 fused tensors"):
        f(features({"a": 30, "b": 30}, batch=100))


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="set output_dim=3"):
        MultiplicativeInteractions(DIMS2, 4, variant="vector")
    with pytest.raises(ValueError, match="set output_dim=4"):
        ModalityShiftFusion({"a": 4, "b": 2}, 5)
    with pytest.raises(KeyError, match="primary modality 'z'"):
        ModalityShiftFusion({"a": 4, "b": 2}, 4, primary="z")
    with pytest.raises(ValueError, match="divisible"):
        CrossModalAttentionFusion(DIMS2, 4, model_dim=5, num_heads=2)
