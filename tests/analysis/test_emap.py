from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from intermodal.analysis import additive_projection, emap, emap_projection
from intermodal.encoders import MLP
from intermodal.fusion import AdditiveFusion, NonlinearFusion
from intermodal.models import FusionClassifier
from tests.helpers import blobs


def test_worked_example_of_the_paper() -> None:
    grid = np.array([[-1.3, 0.3, -0.2], [0.8, 3.0, 1.1], [1.1, -0.1, 0.7]])
    np.testing.assert_allclose(np.diag(grid), [-1.3, 3.0, 0.7])
    np.testing.assert_allclose(emap_projection(grid), [-0.8, 2.1, 0.5])
    torch.testing.assert_close(
        emap_projection(torch.tensor(grid)), torch.tensor([-0.8, 2.1, 0.5], dtype=torch.float64)
    )


def table_function(values: torch.Tensor):
    """f(x) looks its output up in ``values[i, j, k]`` from the sample indices carried in x."""

    def f(x: dict[str, torch.Tensor]) -> torch.Tensor:
        index = [x[k][:, 0].long() for k in sorted(x)]
        return values[tuple(index)]

    return f


def test_three_modalities_exact_equals_explicit_sums() -> None:
    n = 4
    values = torch.randn(n, n, n, 2, dtype=torch.float64)
    inputs = {k: torch.arange(n, dtype=torch.float64).unsqueeze(1) for k in "abc"}
    projection, partial = additive_projection(table_function(values), inputs, batch_size=7)
    mean = values.mean(dim=(0, 1, 2))
    expected = []
    for i in range(n):
        e_a = sum(values[i, j, k] for j, k in itertools.product(range(n), repeat=2)) / n**2
        e_b = sum(values[j, i, k] for j, k in itertools.product(range(n), repeat=2)) / n**2
        e_c = sum(values[j, k, i] for j, k in itertools.product(range(n), repeat=2)) / n**2
        expected.append(e_a + e_b + e_c - 2 * mean)
    torch.testing.assert_close(projection, torch.stack(expected))
    torch.testing.assert_close(partial["b"][2], values[:, 2].mean(dim=(0, 1)))


def test_monte_carlo_estimate_is_close_to_the_exact_projection() -> None:
    n = 6
    values = torch.randn(n, n, n, 1, dtype=torch.float64)
    inputs = {k: torch.arange(n, dtype=torch.float64).unsqueeze(1) for k in "abc"}
    exact, _ = additive_projection(table_function(values), inputs)
    estimate, _ = additive_projection(table_function(values), inputs, exact_limit=1, n_draws=4000)
    assert (estimate - exact).abs().max() < 0.1


def trained_like(fusion_cls, seed: int = 0) -> FusionClassifier:
    torch.manual_seed(seed)
    encoders = {
        "a": MLP(5, 6, (8,), final_activation=True),
        "b": MLP(3, 6, (8,), final_activation=True),
    }
    return FusionClassifier(encoders, fusion_cls({"a": 6, "b": 6}, 3), None).eval()


class RawOnly(torch.nn.Module):
    """The same model seen only through forward: emap falls back to raw combinations."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.modalities = model.modalities

    def forward(self, inputs, mask=None):
        return self.model(inputs, mask)


def test_cached_encodings_give_the_same_result_as_full_forward_passes() -> None:
    data = blobs(n_per_class=12)
    model = trained_like(NonlinearFusion)
    fast, slow = emap(model, data, batch_size=50), emap(RawOnly(model), data, batch_size=50)
    assert fast == slow
    x = {k: v.double() for k, v in data.modalities.items()}
    grid = torch.stack(
        [
            torch.stack(
                [
                    model.double()({"a": x["a"][i : i + 1], "b": x["b"][j : j + 1]})[0]
                    for j in range(len(data))
                ]
            )
            for i in range(len(data))
        ]
    )
    expected = (emap_projection(grid).argmax(1) == data.targets).double().mean()
    assert fast.emap_score == pytest.approx(float(expected))


def test_an_additive_model_equals_its_projection() -> None:
    data = blobs(n_per_class=10)
    result = emap(trained_like(AdditiveFusion), data)
    assert result.emap_score == result.model_score
    assert result.gap == 0.0 and set(result.unimodal_scores) == {"a", "b"}


def test_a_tail_maps_the_averaged_features_as_if_it_ran_on_every_combination() -> None:
    n = 5
    values = torch.randn(n, n, n, 4, dtype=torch.float64)
    inputs = {k: torch.arange(n, dtype=torch.float64).unsqueeze(1) for k in "abc"}
    tail = torch.nn.Linear(4, 2).double()
    with torch.no_grad():
        mapped = tail(values)
        for limit in (10**6, 1):  # exact, then Monte Carlo (the same draws: the same seed)
            whole, whole_partial = additive_projection(
                table_function(mapped), inputs, exact_limit=limit, n_draws=9
            )
            split, split_partial = additive_projection(
                table_function(values), inputs, exact_limit=limit, n_draws=9, tail=tail
            )
            torch.testing.assert_close(split, whole)
            torch.testing.assert_close(split_partial["c"], whole_partial["c"])


@pytest.mark.parametrize("name", ["tfn", "attention", "multiplicative"])
def test_fusions_with_an_affine_output_split_into_inner_and_tail(name: str) -> None:
    from intermodal.fusion.registry import FUSIONS

    torch.manual_seed(0)
    dims = {"a": 3, "b": 4, "c": 2}
    encoders = {m: MLP(d, d) for m, d in dims.items()}
    model = FusionClassifier(encoders, FUSIONS[name].build(dims, 6), MLP(6, 3)).eval()
    features = {m: torch.randn(7, d) for m, d in dims.items()}
    mask = {"b": torch.tensor([True, False, True, True, False, True, True])}
    inner, tail = model.affine_split()
    assert not isinstance(tail, torch.nn.Identity)
    with torch.no_grad():
        torch.testing.assert_close(tail(inner(features, mask)), model.classify(features, mask))
    hidden = FusionClassifier(encoders, FUSIONS[name].build(dims, 6), MLP(6, 3, (5,))).eval()
    assert isinstance(hidden.affine_split()[1], torch.nn.Identity)  # a nonlinear head: no split


def test_emap_through_the_affine_split_equals_emap_of_the_whole_classify() -> None:
    from intermodal.fusion import TensorFusion

    data = blobs(n_per_class=10)
    model = trained_like(lambda dims, out: TensorFusion(dims, out))
    fast = emap(model, data, exact_limit=1, n_draws=16)
    slow = emap(RawOnly(model), data, exact_limit=1, n_draws=16)
    assert fast.emap_score == slow.emap_score and fast.model_score == slow.model_score
