from __future__ import annotations

import numpy as np
import pytest

from intermodal.data import (
    INTERACTIONS,
    MultimodalDataset,
    list_datasets,
    load_dataset,
    make_interaction_dataset,
)

TASKS = ("classification", "regression", "multilabel")


def arrays(data: MultimodalDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        data.modalities["x1"].numpy().astype(np.float64),
        data.modalities["x2"].numpy().astype(np.float64),
        data.targets.numpy().astype(np.float64),
    )


def r_squared(features: np.ndarray, y: np.ndarray) -> float:
    """The fraction of the variance of y explained by least squares on features and a bias."""
    design = np.column_stack([np.ones(len(y)), features])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    return 1.0 - float(np.var(y - design @ coefficients) / np.var(y))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", list(INTERACTIONS))
def test_shapes_and_task(kind: str, task: str) -> None:
    data = make_interaction_dataset(kind, task, n=300, dim=6)
    assert data.task == task and len(data) == 300
    assert data.shapes == {"x1": (6,), "x2": (6,)}
    expected = {"classification": (300,), "regression": (300,), "multilabel": (300, 3)}
    assert tuple(data.targets.shape) == expected[task]
    suffix = "" if task == "classification" else f"-{task}"
    assert data.name == f"synthetic-{kind}{suffix}"


def test_the_same_seed_gives_the_same_data() -> None:
    for task in TASKS:
        first = make_interaction_dataset("mixed", task, n=200, seed=3)
        again = make_interaction_dataset("mixed", task, n=200, seed=3)
        other = make_interaction_dataset("mixed", task, n=200, seed=4)
        for key in ("x1", "x2"):
            assert (first.modalities[key] == again.modalities[key]).all()
            assert not (first.modalities[key] == other.modalities[key]).all()
        assert (first.targets == again.targets).all()


def test_synergistic_regression_needs_the_product_of_the_modalities() -> None:
    x1, x2, y = arrays(make_interaction_dataset("synergistic", "regression"))
    additive = r_squared(np.hstack([x1, x2]), y)
    outer = np.einsum("ni,nj->nij", x1, x2).reshape(len(y), -1)
    product = r_squared(outer, y)
    assert additive < 0.05, additive
    assert product > 0.7, product


def test_regression_kinds_have_their_planted_structure() -> None:
    for kind in ("redundant", "unique"):
        x1, x2, y = arrays(make_interaction_dataset(kind, "regression"))
        assert r_squared(x1, y) > 0.8
        assert (r_squared(x2, y) > 0.8) == (kind == "redundant")
    x1, x2, y = arrays(make_interaction_dataset("mixed", "regression"))
    additive = r_squared(np.hstack([x1, x2]), y)
    outer = np.einsum("ni,nj->nij", x1, x2).reshape(len(y), -1)
    assert 0.3 < additive < 0.6  # the redundant half of the variance
    assert r_squared(np.hstack([x1, x2, outer]), y) > 0.8


@pytest.mark.parametrize(
    ("kind", "frequencies"),
    [
        ("redundant", (0.5, 0.5, 0.25)),
        ("unique", (0.5, 0.5, 0.25)),
        ("synergistic", (0.5, 0.25, 0.5)),
        ("mixed", (0.5, 0.5, 0.5)),
    ],
)
def test_multilabel_frequencies(kind: str, frequencies: tuple[float, ...]) -> None:
    data = make_interaction_dataset(kind, "multilabel", n=4000)
    assert set(np.unique(data.targets.numpy())) == {0.0, 1.0}
    np.testing.assert_allclose(data.targets.numpy().mean(axis=0), frequencies, atol=0.03)


def test_synergistic_multilabel_structure() -> None:
    x1, x2, labels = arrays(make_interaction_dataset("synergistic", "multilabel", noise=0.2))
    xor, both, alone = labels.T
    assert not (xor * both).any()  # XOR and AND of two bits are never both 1
    assert r_squared(x1, alone) > 0.8 and r_squared(x2, alone) < 0.02
    assert r_squared(np.hstack([x1, x2]), xor) < 0.02


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        make_interaction_dataset("mixed", "ranking")
    with pytest.raises(ValueError, match="unknown kind"):
        make_interaction_dataset("nope", "regression")
    with pytest.raises(ValueError, match="noise levels must be >= 0"):
        make_interaction_dataset("mixed", "regression", noise=-1.0)


def test_every_task_is_registered_and_listed() -> None:
    table = list_datasets().set_index("name")
    assert table.loc["mfeat", "task"] == "classification"
    for kind in INTERACTIONS:
        for task in TASKS:
            name = f"synthetic-{kind}" + ("" if task == "classification" else f"-{task}")
            row = table.loc[name]
            data = load_dataset(name)
            assert row["task"] == data.task == task
            assert row["classes"] == data.output_dim and row["samples"] == len(data)
            assert task in row["description"]
