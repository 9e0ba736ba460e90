"""Presence masks: every fusion against references computed here from the present modalities."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import intermodal.fusion as fusion_package
from intermodal import load_model, save_model
from intermodal.fusion import (
    AdditiveFusion,
    BilinearFusion,
    ConcatFusion,
    CrossModalAttentionFusion,
    Fusion,
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

DIMS2 = {"a": 3, "b": 2}
DIMS3 = {"a": 3, "b": 2, "c": 4}
LENGTHS = {"a": 4, "b": 7, "c": 3}


@pytest.fixture(autouse=True)
def _seed() -> Iterator[None]:
    torch.manual_seed(0)
    yield


def features(dims: dict[str, int], batch: int) -> dict[str, Tensor]:
    return {key: torch.randn(batch, dim, dtype=torch.float64) for key, dim in dims.items()}


def every_subset(keys: Sequence[str]) -> dict[str, Tensor]:
    """A mask with one sample per subset of ``keys``, the empty subset included."""
    rows = list(itertools.product([False, True], repeat=len(keys)))
    return {key: torch.tensor([row[j] for row in rows]) for j, key in enumerate(sorted(keys))}


def present(mask: dict[str, Tensor], i: int) -> list[str]:
    return [key for key in sorted(mask) if mask[key][i]]


def linear(x: Tensor, layer: nn.Linear) -> Tensor:
    out = x @ layer.weight.T
    return out if layer.bias is None else out + layer.bias


def one(x: Tensor) -> Tensor:
    return torch.cat([x, torch.ones(*x.shape[:-1], 1, dtype=x.dtype)], dim=-1)


def zeroed(x: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
    """The features with the rows of absent samples set to zero."""
    return {
        key: value * mask[key].reshape(-1, *[1] * (value.ndim - 1)) if key in mask else value
        for key, value in x.items()
    }


# --- late fusion ------------------------------------------------------------------------------


@pytest.mark.parametrize("combine", ["mean", "weighted", "learned"])
def test_late_fusion_combines_the_present_predictions_only(combine: str) -> None:
    f = LateFusion(DIMS3, 4, combine=combine).double()
    if combine == "weighted":
        with torch.no_grad():
            f.weight_logits.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x, mask = features(DIMS3, 8), every_subset(DIMS3)
    out = f(x, mask)
    for i in range(8):
        keys = present(mask, i)
        p = {key: linear(x[key][i], f.predictors[key]) for key in keys}
        zero = torch.zeros(4, dtype=torch.float64)
        if combine == "mean":
            expected = sum(p.values(), zero) / max(len(keys), 1)
        elif combine == "weighted":
            e = {key: torch.exp(f.weight_logits[sorted(DIMS3).index(key)]) for key in keys}
            total = sum(e.values(), torch.tensor(0.0, dtype=torch.float64))
            expected = sum((e[key] / total * p[key] for key in keys), zero)
        else:
            stacked = torch.cat([p.get(key, zero) for key in sorted(DIMS3)])
            expected = linear(stacked, f.combiner)
        torch.testing.assert_close(out[i], expected)


# --- gated multimodal unit ----------------------------------------------------------------------


def gmu_reference(f: GatedFusion, x: dict[str, Tensor], keys: list[str], i: int) -> Tensor:
    """One sample from its present modalities ``keys``: the gate logits use only their columns."""
    names = sorted(f.input_dims)
    starts = dict(zip(names, itertools.accumulate([0, *f.input_dims.values()]), strict=False))
    columns = {key: slice(starts[key], starts[key] + f.input_dims[key]) for key in names}
    logits = sum(
        (f.gate.weight[:, columns[key]] @ x[key][i] for key in keys),
        torch.zeros(f.gate.out_features, dtype=torch.float64),
    )
    h = {key: torch.tanh(f.hidden[key].weight @ x[key][i]) for key in keys}
    if not keys:
        return torch.zeros(f.output_dim, dtype=torch.float64)
    if len(names) == 2:
        if len(keys) == 1:
            return h[keys[0]]
        g = torch.sigmoid(logits)
        return g * h[names[0]] + (1 - g) * h[names[1]]
    per_modality = logits.reshape(len(names), -1)[[names.index(key) for key in keys]]
    weights = torch.exp(per_modality) / torch.exp(per_modality).sum(dim=0)
    return sum(weights[j] * h[key] for j, key in enumerate(keys))


@pytest.mark.parametrize("dims", [DIMS2, DIMS3])
def test_gated_fusion_renormalizes_its_gates_over_the_present_modalities(
    dims: dict[str, int],
) -> None:
    f = GatedFusion(dims, 4).double()
    mask = every_subset(dims)
    batch = len(next(iter(mask.values())))
    x = features(dims, batch)
    out = f(x, mask)
    for i in range(batch):
        torch.testing.assert_close(out[i], gmu_reference(f, x, present(mask, i), i))
    gates = f.gates(x, mask)
    presence = torch.stack([mask[key] for key in sorted(dims)]).double()
    has_any = presence.amax(dim=0)
    torch.testing.assert_close(gates.sum(dim=0), has_any.unsqueeze(1).expand(-1, 4))
    assert (gates[presence == 0] == 0).all()


# --- cross-modal attention ------------------------------------------------------------------------


def attention_reference(
    f: CrossModalAttentionFusion, x: dict[str, Tensor], mask: dict[str, Tensor]
) -> Tensor:
    """A loop over samples, each from its present modalities, with an explicit einsum and
    softmax per pair: an absent source sends zeros, an absent target pools zeros."""
    names, heads = sorted(f.input_dims), f.num_heads
    head_dim = f.model_dim // heads
    rows = []
    for i in range(len(mask[names[0]])):
        keys = present(mask, i)
        sequences = {key: x[key][i].reshape(-1, f.input_dims[key]) for key in keys}
        pooled = []
        for target, source in itertools.product(names, names):
            if target == source:
                continue
            if target not in keys or source not in keys:
                pooled.append(torch.zeros(f.model_dim, dtype=torch.float64))
                continue
            pair = f"{source}->{target}"
            q = linear(sequences[target], f.queries[pair]).reshape(-1, heads, head_dim)
            k = linear(sequences[source], f.keys[pair]).reshape(-1, heads, head_dim)
            v = linear(sequences[source], f.values[pair]).reshape(-1, heads, head_dim)
            scores = torch.einsum("thd,shd->hts", q, k) / head_dim**0.5
            weights = torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True)
            received = torch.einsum("hts,shd->thd", weights, v).reshape(-1, f.model_dim)
            pooled.append(received.mean(dim=0))
        rows.append(linear(torch.cat(pooled), f.output))
    return torch.stack(rows)


@pytest.mark.parametrize("sequence", [False, True], ids=["vectors", "sequences"])
@pytest.mark.parametrize("dims", [DIMS2, DIMS3], ids=["2", "3"])
def test_cross_modal_attention_masks_absent_tokens_with_gradients(
    dims: dict[str, int], sequence: bool
) -> None:
    f = CrossModalAttentionFusion(dims, 4, model_dim=16, num_heads=2).double()
    mask = every_subset(dims)
    batch = len(mask["a"])
    x = {
        key: torch.randn(batch, *([LENGTHS[key]] if sequence else []), dim, dtype=torch.float64)
        for key, dim in dims.items()
    }
    for value in x.values():
        value.requires_grad_(True)
    out, expected = f(x, mask), attention_reference(f, x, mask)
    torch.testing.assert_close(out, expected)
    weights = torch.randn_like(out)
    wrt = [*f.parameters(), *x.values()]
    grads = torch.autograd.grad((out * weights).sum(), wrt, allow_unused=True)
    reference = torch.autograd.grad((expected * weights).sum(), wrt, allow_unused=True)
    for tensor, got, want in zip(wrt, grads, reference, strict=True):
        got = torch.zeros_like(tensor) if got is None else got
        want = torch.zeros_like(tensor) if want is None else want
        torch.testing.assert_close(got, want)


def test_cross_modal_attention_matches_einsum_softmax_with_every_modality_present() -> None:
    dims = {"a": 3, "b": 5, "c": 2}
    f = CrossModalAttentionFusion(dims, 4, model_dim=16, num_heads=2).double()
    x = {
        key: torch.randn(6, 8, dim, dtype=torch.float64, requires_grad=True)
        for key, dim in dims.items()
    }
    all_present = {key: torch.ones(6, dtype=torch.bool) for key in dims}
    out, expected = f(x), attention_reference(f, x, all_present)
    torch.testing.assert_close(out, expected)
    wrt = [*f.parameters(), *x.values()]
    grads = torch.autograd.grad(out.square().sum(), wrt)
    reference = torch.autograd.grad(expected.square().sum(), wrt)
    for got, want in zip(grads, reference, strict=True):
        torch.testing.assert_close(got, want)
    per_step = f.attend("a", "b", x["a"], x["b"])  # CM_{b->a} before the mean over steps
    q = linear(x["a"], f.queries["b->a"]).reshape(6, 8, 2, 8)
    k = linear(x["b"], f.keys["b->a"]).reshape(6, 8, 2, 8)
    v = linear(x["b"], f.values["b->a"]).reshape(6, 8, 2, 8)
    weights = torch.softmax(torch.einsum("bthd,bshd->bhts", q, k) / 8**0.5, dim=-1)
    expected_steps = torch.einsum("bhts,bshd->bthd", weights, v).reshape(6, 8, 16)
    torch.testing.assert_close(per_step, expected_steps)
    torch.testing.assert_close(f.attend_pooled("a", "b", x["a"], x["b"]), per_step.mean(dim=1))


@pytest.mark.parametrize("steps", [3, 20], ids=["short", "long"])
def test_cross_modal_attention_softmax_over_short_and_long_key_sequences(steps: int) -> None:
    """The softmax over the keys runs in another layout for fewer than 16 keys on a CPU: both
    sides of that threshold match the explicit reference, gradients included."""
    from intermodal.fusion.attention import SHORT_ROWS

    assert (steps < SHORT_ROWS) == (steps == 3)
    dims = {"a": 3, "b": 5}
    f = CrossModalAttentionFusion(dims, 4, model_dim=8, num_heads=2).double()
    x = {
        k: torch.randn(4, steps, d, dtype=torch.float64, requires_grad=True)
        for k, d in dims.items()
    }
    out = f(x)
    expected = attention_reference(f, x, {k: torch.ones(4, dtype=torch.bool) for k in dims})
    torch.testing.assert_close(out, expected)
    wrt = [*f.parameters(), *x.values()]
    grads = torch.autograd.grad(out.square().sum(), wrt)
    for got, want in zip(grads, torch.autograd.grad(expected.square().sum(), wrt), strict=True):
        torch.testing.assert_close(got, want)


def test_cross_modal_attention_gives_the_same_result_for_every_batch_size() -> None:
    """Small batches compute all pairs together, large ones pair by pair: the outputs and
    gradients of a large batch equal those of its small pieces."""
    from intermodal.fusion.attention import BATCHED_ROWS

    f = CrossModalAttentionFusion(DIMS3, 4, model_dim=16, num_heads=2).double()
    batch = BATCHED_ROWS + 8
    x = {key: torch.randn(batch, 5, dim, dtype=torch.float64) for key, dim in DIMS3.items()}
    subsets = every_subset(DIMS3)
    mask = {key: subsets[key].repeat(batch // 8 + 1)[:batch] for key in DIMS3}
    whole = f(x, mask)
    pieces = torch.cat(
        [
            f({k: v[s : s + 64] for k, v in x.items()}, {k: m[s : s + 64] for k, m in mask.items()})
            for s in range(0, batch, 64)
        ]
    )
    torch.testing.assert_close(whole, pieces)
    weights = torch.randn_like(whole)
    grads = torch.autograd.grad((whole * weights).sum(), list(f.parameters()))
    reference = torch.autograd.grad((pieces * weights).sum(), list(f.parameters()))
    for got, want in zip(grads, reference, strict=True):
        torch.testing.assert_close(got, want)


# --- TFN, LMF, PTP, and the other zero-filling fusions ------------------------------------------


def test_tensor_fusion_keeps_the_present_modality_terms_through_the_appended_one() -> None:
    f = TensorFusion(DIMS2, 4).double()
    x = features(DIMS2, 4)
    mask = {"a": torch.tensor([True, True, False, False]), "b": torch.tensor([True, False] * 2)}
    out = f(x, mask)
    weight = f.output.weight.reshape(4, DIMS2["a"] + 1, DIMS2["b"] + 1)
    # b absent: only the terms [x_a; 1] (x) [0; 1], i.e. W[:, :, last] applied to [x_a; 1]
    torch.testing.assert_close(out[1], weight[:, :, -1] @ one(x["a"][1]) + f.output.bias)
    # a absent: W[:, last, :] applied to [x_b; 1]
    torch.testing.assert_close(out[2], weight[:, -1, :] @ one(x["b"][2]) + f.output.bias)
    torch.testing.assert_close(out[3], weight[:, -1, -1] + f.output.bias)
    full = torch.kron(one(x["a"][0]), one(x["b"][0]))
    torch.testing.assert_close(out[0], f.output.weight @ full + f.output.bias)


ZERO_FILLED: dict[str, Callable[[], Fusion]] = {
    "concat": lambda: ConcatFusion(DIMS3, 4),
    "nonlinear": lambda: NonlinearFusion(DIMS3, 4, hidden_dims=(5,)),
    "additive": lambda: AdditiveFusion(DIMS3, 4),
    "bilinear": lambda: BilinearFusion(DIMS2, 4),
    "interactions": lambda: MultiplicativeInteractions(DIMS2, 4),
    "tensor2": lambda: TensorFusion(DIMS2, 4),
    "tensor": lambda: TensorFusion(DIMS3, 4),
    "low_rank": lambda: LowRankFusion(DIMS3, 4, rank=3),
    "polynomial": lambda: PolynomialFusion(DIMS3, 4, order=3, rank=2),
    "polynomial_asymmetric": lambda: PolynomialFusion(DIMS3, 4, symmetric=False),
    "shift": lambda: ModalityShiftFusion({"a": 4, "b": 3, "c": 2}, 4),
}


@pytest.mark.parametrize("name", ZERO_FILLED)
def test_an_absent_modality_equals_zero_features(name: str) -> None:
    f = ZERO_FILLED[name]().double()
    mask = every_subset(f.input_dims)
    x = features(f.input_dims, len(mask["a"]))
    torch.testing.assert_close(f(x, mask), f(zeroed(x, mask)))


def test_very_early_fusion_zero_fills_an_absent_raw_signal() -> None:
    f = VeryEarlyFusion({"slow": 2, "fast": 1}, 4, time_steps=8, hidden_dim=5).double()
    x = {"slow": torch.randn(4, 5, 2, dtype=torch.float64), "fast": torch.randn(4, 11).double()}
    mask = every_subset(["slow", "fast"])
    torch.testing.assert_close(f(x, mask), f(zeroed(x, mask)))


def test_additive_fusion_sums_the_present_modalities() -> None:
    f, mask = AdditiveFusion(DIMS3, 4).double(), every_subset(DIMS3)
    x = features(DIMS3, 8)
    out = f(x, mask)
    for i in range(8):
        terms = [f.projections[key].weight @ x[key][i] for key in present(mask, i)]
        torch.testing.assert_close(out[i], sum(terms, f.bias))


def test_multiplicative_fusion_multiplies_the_present_modalities_only() -> None:
    f, mask = MultiplicativeFusion(DIMS3, 4, hidden_dim=6).double(), every_subset(DIMS3)
    x = features(DIMS3, 8)
    out = f(x, mask)
    for i in range(8):
        product = torch.ones(6, dtype=torch.float64)  # the empty product
        for key in present(mask, i):
            product = product * (f.projections[key].weight @ x[key][i])
        torch.testing.assert_close(out[i], linear(product, f.output))


def test_modality_shift_gets_no_displacement_from_an_absent_modality() -> None:
    dims = {"text": 4, "audio": 3, "video": 2}
    f = ModalityShiftFusion(dims, 4, primary="text", beta=0.7).double()
    mask = every_subset(dims)
    x = features(dims, 8)
    out = f(x, mask)
    for i in range(8):
        keys = present(mask, i)
        if "text" not in keys:  # x_p = 0: alpha = 0 and the output is 0
            torch.testing.assert_close(out[i], torch.zeros(4, dtype=torch.float64))
            continue
        x_p, h = x["text"][i], f.shift_bias
        for key in ("audio", "video"):
            if key in keys:
                gate = torch.relu(linear(torch.cat([x[key][i], x_p]), f.gates[key]))
                h = h + gate * (f.shifts[key].weight @ x[key][i])
        alpha = torch.clamp(0.7 * x_p.norm() / (h.norm() + f.eps), max=1.0)
        torch.testing.assert_close(out[i], x_p + alpha * h)


# --- product of experts ---------------------------------------------------------------------------


def poe_reference(
    f: ProductOfExpertsFusion, x: dict[str, Tensor], mask: dict[str, Tensor]
) -> tuple[Tensor, Tensor]:
    """The product of N(0, I) and the present Gaussian experts, a loop in float64."""
    means, logvars = [], []
    for i in range(len(mask["a"])):
        precision = torch.ones(f.output_dim, dtype=torch.float64)  # the prior's
        weighted_mean = torch.zeros(f.output_dim, dtype=torch.float64)
        for key in present(mask, i):
            mu = linear(x[key][i], f.means[key])
            variance = torch.exp(linear(x[key][i], f.logvars[key]).clamp(-10.0, 10.0))
            precision = precision + 1 / variance
            weighted_mean = weighted_mean + mu / variance
        means.append(weighted_mean / precision)
        logvars.append(-torch.log(precision))
    return torch.stack(means), torch.stack(logvars)


def test_product_of_experts_is_the_closed_form_product_of_gaussians() -> None:
    f = ProductOfExpertsFusion(DIMS3, 5).double()
    with torch.no_grad():  # variances over several orders of magnitude, some clamped
        for layer in f.logvars.values():
            layer.weight.mul_(8.0)
    x, mask = features(DIMS3, 8), every_subset(DIMS3)
    mu, logvar = f.posterior(x, mask)
    expected_mu, expected_logvar = poe_reference(f, x, mask)
    torch.testing.assert_close(mu, expected_mu)
    torch.testing.assert_close(logvar, expected_logvar)
    torch.testing.assert_close(f(x, mask), mu)
    # the first sample has no modality: the prior
    assert (mu[0] == 0).all() and (logvar[0] == 0).all()


def test_product_of_experts_without_any_expert_is_the_prior() -> None:
    f = ProductOfExpertsFusion(DIMS2, 3)
    x = features(DIMS2, 4)
    nobody = {key: torch.zeros(4, dtype=torch.bool) for key in DIMS2}
    mu, logvar = f.posterior({key: value.float() for key, value in x.items()}, nobody)
    assert torch.equal(mu, torch.zeros(4, 3)) and torch.equal(logvar, torch.zeros(4, 3))


def test_product_of_experts_gradients_reach_every_parameter() -> None:
    f = ProductOfExpertsFusion(DIMS3, 4)
    mask = every_subset(DIMS3)
    x = {key: value.float() for key, value in features(DIMS3, 8).items()}
    mu, logvar = f.posterior(x, mask)
    (mu.square().sum() + logvar.sum()).backward()
    for name, p in f.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_product_of_experts_stays_finite_for_extreme_inputs() -> None:
    f = ProductOfExpertsFusion(DIMS3, 4)
    x = {key: 1e6 * value.float() for key, value in features(DIMS3, 8).items()}
    mu, logvar = f.posterior(x, every_subset(DIMS3))
    assert torch.isfinite(mu).all() and torch.isfinite(logvar).all()
    # precision between 1 (the prior alone) and 1 + 3 e^10 (three experts at the clamp)
    assert (logvar <= 0).all() and (logvar >= -torch.log1p(torch.tensor(3 * 2.2027e4))).all()


def test_product_of_experts_takes_one_modality_and_round_trips(tmp_path: Path) -> None:
    single = ProductOfExpertsFusion({"a": 3}, 2)
    assert single({"a": torch.randn(2, 3)}).shape == (2, 2)
    f = ProductOfExpertsFusion(DIMS2, 3, min_logvar=-5.0, max_logvar=3.0)
    save_model(f, tmp_path / "poe")
    loaded = load_model(tmp_path / "poe")
    assert isinstance(loaded, ProductOfExpertsFusion) and loaded.max_logvar == 3.0
    x = {key: value.float() for key, value in features(DIMS2, 4).items()}
    mask = {"b": torch.tensor([True, False, True, False])}
    torch.testing.assert_close(loaded(x, mask), f(x, mask))
    with pytest.raises(ValueError, match="min_logvar must be below max_logvar"):
        ProductOfExpertsFusion(DIMS2, 3, min_logvar=1.0, max_logvar=0.0)


# --- every fusion ---------------------------------------------------------------------------------

EVERY: dict[str, Callable[[], Fusion]] = {
    "concat": lambda: ConcatFusion(DIMS3, 4),
    "late_mean": lambda: LateFusion(DIMS3, 4, "mean"),
    "late_weighted": lambda: LateFusion(DIMS3, 4, "weighted"),
    "late_learned": lambda: LateFusion(DIMS3, 4, "learned"),
    "additive": lambda: AdditiveFusion(DIMS3, 4),
    "multiplicative": lambda: MultiplicativeFusion(DIMS3, 4),
    "interactions": lambda: MultiplicativeInteractions(DIMS2, 4),
    "bilinear": lambda: BilinearFusion(DIMS2, 4),
    "tensor": lambda: TensorFusion(DIMS3, 4),
    "low_rank": lambda: LowRankFusion(DIMS3, 4),
    "polynomial": lambda: PolynomialFusion(DIMS3, 4),
    "gated2": lambda: GatedFusion(DIMS2, 4),
    "gated3": lambda: GatedFusion(DIMS3, 4),
    "shift": lambda: ModalityShiftFusion({"a": 4, "b": 3, "c": 2}, 4),
    "nonlinear": lambda: NonlinearFusion(DIMS3, 4),
    "attention": lambda: CrossModalAttentionFusion(DIMS3, 4, model_dim=4, num_heads=2),
    "very_early": lambda: VeryEarlyFusion({"a": 1, "b": 2}, 4, time_steps=8),
    "poe": lambda: ProductOfExpertsFusion(DIMS3, 4),
}


def inputs_for(f: Fusion, batch: int) -> dict[str, Tensor]:
    if isinstance(f, VeryEarlyFusion):
        return {
            key: torch.randn(batch, 6 + i, d) for i, (key, d) in enumerate(f.input_dims.items())
        }
    if isinstance(f, CrossModalAttentionFusion):
        return {key: torch.randn(batch, LENGTHS[key], d) for key, d in f.input_dims.items()}
    return {key: torch.randn(batch, d) for key, d in f.input_dims.items()}


@pytest.mark.parametrize("name", EVERY)
def test_no_mask_equals_an_all_true_mask(name: str) -> None:
    f = EVERY[name]()
    x = inputs_for(f, 5)
    expected = f(x)
    everyone = {key: torch.ones(5, dtype=torch.bool) for key in f.input_dims}
    torch.testing.assert_close(f(x, everyone), expected)
    torch.testing.assert_close(f(x, {}), expected)
    first = {f.modalities[0]: torch.ones(5, dtype=torch.bool)}  # the others: present
    torch.testing.assert_close(f(x, first), expected)


@pytest.mark.parametrize("name", EVERY)
def test_bad_masks_are_reported(name: str) -> None:
    f = EVERY[name]()
    x = inputs_for(f, 5)
    key = f.modalities[0]
    with pytest.raises(ValueError, match=r"must have shape \(B,\) = \(5,\), got \(5, 1\)"):
        f(x, {key: torch.ones(5, 1, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        f(x, {key: torch.ones(4, dtype=torch.bool)})
    with pytest.raises(TypeError, match=r"must be a bool tensor .* got torch\.float32"):
        f(x, {key: torch.ones(5)})
    with pytest.raises(TypeError, match="must be a bool tensor"):
        f(x, {key: [True] * 5})  # type: ignore[dict-item]
    with pytest.raises(KeyError, match=r"unknown modalities \['zz'\]"):
        f(x, {"zz": torch.ones(5, dtype=torch.bool)})
    with pytest.raises(TypeError, match="mask must be a dict"):
        f(x, torch.ones(5, dtype=torch.bool))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", EVERY)
def test_samples_without_any_modality_do_not_fail(name: str) -> None:
    f = EVERY[name]()
    mask = every_subset(f.input_dims)
    batch = len(mask[f.modalities[0]])
    x = inputs_for(f, batch)
    out = f(x, mask)
    assert out.shape == (batch, 4) and torch.isfinite(out).all()
    out.square().sum().backward()
    for param_name, p in f.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), param_name


@pytest.mark.parametrize("name", EVERY)
def test_values_of_absent_samples_do_not_leak(name: str) -> None:
    f = EVERY[name]()
    mask = every_subset(f.input_dims)
    batch = len(mask[f.modalities[0]])
    x = inputs_for(f, batch)
    absent = {key: ~mask[key].reshape(-1, *[1] * (value.ndim - 1)) for key, value in x.items()}
    garbage = {key: torch.where(absent[key], torch.nan, x[key]) for key in x}
    out = f(garbage, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, f(zeroed(x, mask), mask))


def test_every_fusion_states_what_it_does_with_an_absent_modality() -> None:
    classes = [
        cls
        for cls in vars(fusion_package).values()
        if isinstance(cls, type) and issubclass(cls, Fusion) and cls is not Fusion
    ]
    exported = {name for name in fusion_package.__all__ if name not in ("Fusion", "FusionSearch")}
    assert {cls.__name__ for cls in classes} == exported
    for cls in classes:
        assert isinstance(cls.absent, str) and cls.absent.strip(), cls.__name__
        assert "\n" not in cls.absent, cls.__name__


def test_presence_matrix_is_in_sorted_modality_order() -> None:
    f = ConcatFusion({"b": 2, "a": 3, "c": 1}, 4)
    like = torch.zeros(3, 2, dtype=torch.float64)
    matrix = f.presence({"c": torch.tensor([True, False, True])}, like)
    expected = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    torch.testing.assert_close(matrix, expected.double())
    assert f.check_mask(None, 3) == {}
