from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from intermodal.data import standardize, stratified_split
from intermodal.encoders import MLP
from intermodal.fission import (
    BimodalAutoencoder,
    FactorizedModel,
    SharedPrivateModel,
    mmd,
    orthogonality_loss,
)
from intermodal.training import fit
from tests.helpers import blobs


def autoencoder(**options) -> BimodalAutoencoder:
    torch.manual_seed(0)
    return BimodalAutoencoder(
        ["a", "b"],
        {"a": MLP(5, 8, final_activation=True), "b": MLP(3, 8, final_activation=True)},
        {"a": 8, "b": 8},
        {"a": 5, "b": 3},
        shared_dim=6,
        **options,
    )


def test_augmentation_zeroes_a_third_of_each_modality() -> None:
    model = autoencoder()
    inputs = {"a": torch.randn(300, 5) + 3, "b": torch.randn(300, 3) + 3}
    out = model.augment(inputs, torch.Generator().manual_seed(0))
    zero_a = (out["a"] == 0).all(dim=1)
    zero_b = (out["b"] == 0).all(dim=1)
    assert int(zero_a.sum()) == 100 and int(zero_b.sum()) == 100
    assert not (zero_a & zero_b).any()  # the last third keeps both
    torch.testing.assert_close(out["a"][~zero_a], inputs["a"][~zero_a])


def test_reconstruction_loss_decreases() -> None:
    splits = standardize(stratified_split(blobs(n_per_class=60), seed=0))
    model = autoencoder()
    x = splits.test.modalities

    def reconstruction() -> float:
        with torch.no_grad():
            out = model.reconstruct(x)
            return float(sum(F.mse_loss(out[m], x[m]) for m in x))

    before = reconstruction()
    fit(model, splits, max_epochs=30, accelerator="cpu")
    assert reconstruction() < 0.8 * before


def test_orthogonality_loss_equals_its_formula() -> None:
    torch.manual_seed(0)
    s, p = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 4, dtype=torch.float64)
    s_hat = s - s.mean(0)
    p_hat = p - p.mean(0)
    s_hat = s_hat / s_hat.norm(dim=1, keepdim=True)
    p_hat = p_hat / p_hat.norm(dim=1, keepdim=True)
    expected = (
        sum(
            float(sum(s_hat[b, i] * p_hat[b, j] for b in range(7))) ** 2
            for i in range(3)
            for j in range(4)
        )
        / 7**2
    )
    assert float(orthogonality_loss(s, p)) == pytest.approx(expected)


def test_factorized_model_has_more_representations_than_modalities() -> None:
    torch.manual_seed(0)
    model = FactorizedModel(
        {"a": MLP(5, 8), "b": MLP(3, 8)},
        {"a": MLP(5, 8), "b": MLP(3, 8)},
        {"a": 8, "b": 8},
        {"a": 5, "b": 3},
        outputs=3,
        shared_dim=4,
        private_dim=2,
    )
    inputs = {"a": torch.randn(10, 5), "b": torch.randn(10, 3)}
    factors = model.factors(inputs)
    assert {k: tuple(v.shape) for k, v in factors.items()} == {
        "shared": (10, 4),
        "a": (10, 2),
        "b": (10, 2),
    }
    assert model(inputs).shape == (10, 3)
    loss = model.training_loss(inputs, torch.randint(0, 3, (10,)))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_shared_private_codes_and_loss() -> None:
    torch.manual_seed(0)
    model = SharedPrivateModel(
        {"a": MLP(5, 8), "b": MLP(3, 8)}, {"a": 8, "b": 8}, outputs=3, code_dim=4
    )
    inputs = {"a": torch.randn(10, 5), "b": torch.randn(10, 3)}
    codes = model.codes(inputs)
    assert sorted(codes) == ["private:a", "private:b", "shared:a", "shared:b"]
    assert model(inputs).shape == (10, 3)
    target = torch.randint(0, 3, (10,))
    expected = (
        F.cross_entropy(model(inputs), target)
        + (codes["shared:a"] - codes["shared:b"]).square().mean()
        + 0.3
        * (
            orthogonality_loss(codes["shared:a"], codes["private:a"])
            + orthogonality_loss(codes["shared:b"], codes["private:b"])
        )
    )
    torch.testing.assert_close(model.training_loss(inputs, target), expected)


SCALES = (0.2, 0.5, 1.0, 2.0, 5.0)


def mmd_loops(x: torch.Tensor, y: torch.Tensor, scales: tuple[float, ...] = SCALES) -> float:
    """Biased MMD^2 with ``k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2 D))``, over all pairs."""
    dim = x.shape[1]

    def k(a: torch.Tensor, b: torch.Tensor) -> float:
        squared = float((a - b).square().sum())
        return sum(math.exp(-squared / (2 * s * s * dim)) for s in scales)

    def mean_kernel(u: torch.Tensor, v: torch.Tensor) -> float:
        return sum(k(u[i], v[j]) for i in range(len(u)) for j in range(len(v))) / (len(u) * len(v))

    return mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)


def test_mmd_matches_a_double_loop_batched_or_not() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 4, generator=generator, dtype=torch.float64)
    y = torch.randn(3, 6, 4, generator=generator, dtype=torch.float64) + 0.5
    for scales in (SCALES, (0.7, 3.0)):
        batched = mmd(x, y, scales)
        assert batched.shape == (3,)
        for i in range(3):
            single = mmd(x[i], y[i], scales)
            assert float(single) == pytest.approx(mmd_loops(x[i], y[i], scales), rel=1e-12)
            assert float(batched[i]) == pytest.approx(float(single), rel=1e-12)
    same = y[0].clone().requires_grad_()
    value = mmd(same, y[0])
    value.backward()
    assert abs(float(value.detach())) < 1e-12
    assert same.grad is not None and torch.isfinite(same.grad).all()


def test_mmd_gradients_match_those_of_a_double_loop() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 3, generator=generator, dtype=torch.float64, requires_grad=True)

    def reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        def mean_kernel(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            terms = [
                torch.exp(-(u[i] - v[j]).square().sum() / (2 * s * s * u.shape[1]))
                for i in range(len(u))
                for j in range(len(v))
                for s in SCALES
            ]
            return torch.stack(terms).sum() / (len(u) * len(v))

        return mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b)

    got = torch.autograd.grad(mmd(x, y), [x, y])
    want = torch.autograd.grad(reference(x, y), [x, y])
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def factorized(task: str = "classification", outputs: int = 3) -> FactorizedModel:
    torch.manual_seed(0)
    raw, features = {"a": 5, "b": 3, "c": 4}, {"a": 8, "b": 6, "c": 7}
    return FactorizedModel(
        {m: MLP(raw[m], features[m], (6,), final_activation=True) for m in raw},
        {m: MLP(raw[m], features[m], (5,), final_activation=True) for m in raw},
        features,
        raw,
        outputs=outputs,
        shared_dim=4,
        private_dim=3,
        reconstruction_weight=0.7,
        prior_weight=0.3,
        alignment_weight=1.5,
        task=task,
    ).double()


def factorized_inputs(batch: int = 6) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        m: torch.randn(batch, size, generator=generator, dtype=torch.float64)
        for m, size in (("a", 5), ("b", 3), ("c", 4))
    }


def factorized_reference(
    model: FactorizedModel,
    x: dict[str, torch.Tensor],
    task_term: torch.Tensor,
    shared_noise: torch.Tensor,
    private_noise: torch.Tensor,
) -> float:
    names = ["a", "b", "c"]
    encoded = {m: model.encoders[m](x[m]) for m in names}
    shared = model.to_shared(torch.cat([encoded[m] for m in names], dim=1))
    private = {m: model.to_private[m](model.private_encoders[m](x[m])) for m in names}
    reconstruction = sum(
        float(F.mse_loss(model.decoders[m](torch.cat([shared, private[m]], dim=1)), x[m]))
        for m in names
    )
    prior = mmd_loops(shared, shared_noise) + sum(
        mmd_loops(private[m], private_noise[i]) for i, m in enumerate(names)
    )

    def alone(m: str) -> torch.Tensor:
        kept = [encoded[n] if n == m else torch.zeros_like(encoded[n]) for n in names]
        return model.to_shared(torch.cat(kept, dim=1))

    pairs = [(i, j) for i in names for j in names if i < j]
    alignment = sum(float((alone(i) - alone(j)).square().sum(1).mean()) for i, j in pairs)
    return float(task_term) + 0.7 * reconstruction + 0.3 * prior + 1.5 * alignment / len(pairs)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_factorized_losses_equal_their_formula(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = factorized(task, outputs=3 if task == "classification" else 1)
    x = factorized_inputs()
    generator = torch.Generator().manual_seed(2)
    noise = {
        (6, 4): torch.randn(6, 4, generator=generator, dtype=torch.float64),
        (3, 6, 3): torch.randn(3, 6, 3, generator=generator, dtype=torch.float64),
    }
    drawn = []

    def fixed_randn_like(t: torch.Tensor) -> torch.Tensor:
        drawn.append(tuple(t.shape))
        return noise[tuple(t.shape)]

    monkeypatch.setattr(torch, "randn_like", fixed_randn_like)
    names = ["a", "b", "c"]
    with torch.no_grad():
        shared = model.to_shared(torch.cat([model.encoders[m](x[m]) for m in names], dim=1))
        if task == "classification":
            target = torch.tensor([0, 2, 1, 1, 0, 2])
            task_term = F.cross_entropy(model.head(shared), target)
        else:
            target = torch.randn(6, generator=generator, dtype=torch.float64)
            task_term = (model.head(shared)[:, 0] - target).square().mean()
        expected = factorized_reference(model, x, task_term, noise[(6, 4)], noise[(3, 6, 3)])
        got = model.training_loss(x, target)
        assert sorted(drawn) == sorted(noise)  # one draw for the shared, one for the private
        assert float(got) == pytest.approx(expected, rel=1e-12)
        assert float(model.validation_loss(x, target)) == pytest.approx(float(task_term), rel=1e-12)


def autoencoder64(**options) -> BimodalAutoencoder:
    return autoencoder(**options).double()


def clean_pair(batch: int = 12) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return {
        "a": 3 * torch.randn(batch, 5, generator=generator, dtype=torch.float64),
        "b": 3 * torch.randn(batch, 3, generator=generator, dtype=torch.float64),
    }


def pearson_mean(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over columns of the Pearson correlation over rows; a constant column (a ReLU unit
    that is off for the whole batch) correlates with nothing and counts as 0."""
    x, y = x - x.mean(0), y - y.mean(0)
    correlations = []
    for j in range(x.shape[1]):
        norms = float(x[:, j].norm() * y[:, j].norm())
        correlations.append(float(x[:, j] @ y[:, j]) / norms if norms > 0 else 0.0)
    assert any(c != 0 for c in correlations)
    return sum(correlations) / len(correlations)


def autoencoder_code(model: BimodalAutoencoder, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    features = torch.cat([model.encoders["a"](a), model.encoders["b"](b)], dim=1)
    return torch.relu(model.to_shared[0](features))


def reconstruction_error(
    model: BimodalAutoencoder, code: torch.Tensor, x: dict[str, torch.Tensor]
) -> float:
    return sum(float(F.mse_loss(model.decoders[m](code), x[m])) for m in ("a", "b"))


@pytest.mark.parametrize(
    "options",
    [{}, {"outputs": 3}, {"alignment_weight": 0.4}, {"outputs": 3, "noise": 0.1}],
    ids=["plain", "head", "aligned", "head-noise"],
)
def test_bimodal_autoencoder_training_loss_equals_its_formula(options: dict) -> None:
    model = autoencoder64(**options)
    x = clean_pair()
    target = torch.tensor([0, 1, 2] * 4)
    with torch.no_grad():
        torch.manual_seed(4)
        got = float(model.training_loss(x, target))
        torch.manual_seed(4)
        order = torch.randperm(12)
        keep_a, keep_b = (
            torch.ones(12, 1, dtype=torch.float64),
            torch.ones(12, 1, dtype=torch.float64),
        )
        keep_a[order[:4]] = 0.0
        keep_b[order[4:8]] = 0.0
        a, b = x["a"] * keep_a, x["b"] * keep_b
        if options.get("noise"):
            # the noise is drawn in the inputs' dtype, A's then B's, after the permutation
            a = a + 0.1 * torch.randn(12, 5, dtype=torch.float64)
            b = b + 0.1 * torch.randn(12, 3, dtype=torch.float64)
        code = autoencoder_code(model, a, b)
        expected = reconstruction_error(model, code, x)
        if "outputs" in options:
            expected += float(F.cross_entropy(model.head(code), target))
        if "alignment_weight" in options:
            alone_a = autoencoder_code(model, x["a"], torch.zeros_like(x["b"]))
            alone_b = autoencoder_code(model, torch.zeros_like(x["a"]), x["b"])
            expected += 0.4 * (1 - pearson_mean(alone_a, alone_b))
    # the implementation's correlation adds 1e-6 to its denominator
    tolerance = 1e-6 if "alignment_weight" in options else 1e-12 * abs(expected)
    assert got == pytest.approx(expected, abs=tolerance)


def test_bimodal_autoencoder_validation_loss_equals_its_formula() -> None:
    x = clean_pair()
    target = torch.tensor([0, 1, 2] * 4)
    with torch.no_grad():
        with_head = autoencoder64(outputs=3, alignment_weight=0.4)
        expected = F.cross_entropy(
            with_head.head(autoencoder_code(with_head, x["a"], x["b"])), target
        )
        got = with_head.validation_loss(x, target)
        assert float(got) == pytest.approx(float(expected), rel=1e-12)
        plain = autoencoder64(alignment_weight=0.4)
        zero_a, zero_b = torch.zeros_like(x["a"]), torch.zeros_like(x["b"])
        alone_a = autoencoder_code(plain, x["a"], zero_b)
        alone_b = autoencoder_code(plain, zero_a, x["b"])
        versions = [autoencoder_code(plain, x["a"], x["b"]), alone_a, alone_b]
        expected_plain = sum(reconstruction_error(plain, code, x) for code in versions) / 3
        expected_plain += 0.4 * (1 - pearson_mean(alone_a, alone_b))
        assert float(plain.validation_loss(x, target)) == pytest.approx(expected_plain, abs=1e-6)
        assert float(plain.validation_loss(x, target)) == float(plain.validation_loss(x, target))


def test_shared_private_codes_of_an_absent_modality_are_zero() -> None:
    torch.manual_seed(0)
    model = SharedPrivateModel(
        {"a": MLP(5, 8), "b": MLP(3, 8)}, {"a": 8, "b": 8}, outputs=3, code_dim=4
    ).double()
    generator = torch.Generator().manual_seed(5)
    inputs = {
        "a": torch.randn(6, 5, generator=generator, dtype=torch.float64),
        "b": torch.randn(6, 3, generator=generator, dtype=torch.float64),
    }
    inputs["b"][1] = float("nan")  # an absent row's raw values must not leak
    present = torch.tensor([True, False, True, True, False, True])
    mask = {"b": present}
    with torch.no_grad():
        full = model.codes(inputs)
        masked = model.codes(inputs, mask)
        for key in ("shared:b", "private:b"):
            assert (masked[key][~present] == 0).all()
            torch.testing.assert_close(masked[key][present], full[key][present])
        for key in ("shared:a", "private:a"):
            torch.testing.assert_close(masked[key], full[key])
        logits = model.head(torch.cat([masked[k] for k in sorted(masked)], dim=1))
        torch.testing.assert_close(model(inputs, mask), logits)
        assert torch.isfinite(logits).all()
        target = torch.tensor([0, 1, 2, 0, 1, 2])
        expected = (
            F.cross_entropy(logits, target)
            + (masked["shared:a"] - masked["shared:b"]).square().mean()
            + 0.3
            * (
                orthogonality_loss(masked["shared:a"], masked["private:a"])
                + orthogonality_loss(masked["shared:b"], masked["private:b"])
            )
        )
        torch.testing.assert_close(model.training_loss(inputs, target, mask), expected)
