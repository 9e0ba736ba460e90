from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

from intermodal.analysis import pid, pid_from_distribution
from intermodal.analysis.pid import _solve_broja
from intermodal.data import make_interaction_dataset

TOL = 1e-8
"""The solver's stopping tolerance in the tests: a bound on its duality gap, in nats."""
ACCURACY = 2 * TOL / np.log(2) + 1e-9
"""How far each reported part (bits) may be from its exact value: the gap bound (doubled for
the last barrier stage's approximate centering), plus parts below 1e-9 bits reported as 0."""


def table(rule) -> np.ndarray:
    P = np.zeros((2, 2, 2))
    for a, b in itertools.product(range(2), repeat=2):
        P[a, b, rule(a, b)] = 0.25
    return P


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (lambda a, b: a ^ b, (0, 0, 0, 1)),  # XOR: pure synergy
        (lambda a, b: a, (0, 1, 0, 0)),  # y = x1: unique to x1
        (lambda a, b: b, (0, 0, 1, 0)),
    ],
)
def test_known_decompositions(rule, expected) -> None:
    result = pid_from_distribution(table(rule), tol=TOL)
    got = (result.redundancy, result.unique1, result.unique2, result.synergy)
    np.testing.assert_allclose(got, expected, rtol=0, atol=ACCURACY)
    assert result.total == pytest.approx(1.0, abs=1e-12)


def test_copy_is_pure_redundancy() -> None:
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 1, 1] = 0.5  # x1 = x2 = y
    result = pid_from_distribution(P, tol=TOL)
    np.testing.assert_allclose(
        (result.redundancy, result.unique1, result.unique2, result.synergy),
        (1, 0, 0, 0),
        rtol=0,
        atol=ACCURACY,
    )


def entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def mi_bits(joint_xy: np.ndarray) -> float:
    return entropy_bits(joint_xy.sum(1)) + entropy_bits(joint_xy.sum(0)) - entropy_bits(joint_xy)


def brute_force(P: np.ndarray) -> tuple[float, float, float, float]:
    """The BROJA minimum for binary X1, X2 (any Y): per y the coupling of two binary marginals has
    one free entry; minimize I_Q(X1, X2; Y) over them from many starts with bounded L-BFGS."""
    py = P.sum(axis=(0, 1))
    p1 = P.sum(axis=1) / py  # P(x1 | y)
    p2 = P.sum(axis=0) / py
    low = np.maximum(0, p1[0] + p2[0] - 1)
    high = np.minimum(p1[0], p2[0])

    def coupling(a: np.ndarray) -> np.ndarray:
        Q = np.empty((2, 2, len(py)))
        Q[0, 0], Q[0, 1], Q[1, 0] = a, p1[0] - a, p2[0] - a
        Q[1, 1] = 1 - p1[0] - p2[0] + a
        return Q * py

    def objective(a: np.ndarray) -> float:
        return mi_bits(coupling(a).reshape(4, -1))

    rng = np.random.default_rng(0)
    best = min(
        (
            minimize(
                objective,
                low + rng.random(len(py)) * (high - low),
                bounds=list(zip(low, high, strict=True)),
                method="L-BFGS-B",
                options={"ftol": 1e-15, "gtol": 1e-12},
            )
            for _ in range(20)
        ),
        key=lambda r: r.fun,
    ).fun
    total = mi_bits(P.reshape(4, -1))
    i1, i2 = mi_bits(P.sum(axis=1)), mi_bits(P.sum(axis=0))
    return i1 - (best - i2), best - i2, best - i1, total - best


@pytest.mark.parametrize("seed", range(4))
def test_random_binary_sources_match_a_brute_force_minimum(seed: int) -> None:
    P = np.random.default_rng(seed).dirichlet(np.ones(2 * 2 * 3)).reshape(2, 2, 3)
    result = pid_from_distribution(P, tol=TOL)
    expected = brute_force(P)
    # the multi-start L-BFGS minimum is itself accurate to about 1e-9 bits
    np.testing.assert_allclose(
        (result.redundancy, result.unique1, result.unique2, result.synergy),
        expected,
        rtol=0,
        atol=ACCURACY + 1e-8,
    )


@pytest.mark.parametrize("shape", [(6, 5, 4), (12, 9, 3)])
def test_larger_problems_are_consistent_feasible_and_optimal(shape) -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.full(np.prod(shape), 0.3)).reshape(shape)
    P[0, :, 1] = 0.0  # zero entries and an empty (x1, y) marginal are handled
    P /= P.sum()
    result = pid_from_distribution(P, tol=TOL)
    parts = np.array([result.redundancy, result.unique1, result.unique2, result.synergy])
    assert (parts >= -ACCURACY).all()
    # the parts add up to the total but for those below 1e-9 bits, reported as 0
    assert parts.sum() == pytest.approx(result.total, rel=0, abs=4e-9)
    assert result.total == pytest.approx(mi_bits(P.reshape(-1, shape[2])), rel=0, abs=1e-12)
    tol = 1e-9  # nats: the solver stops when its duality gap is below this
    Q, _ = _solve_broja(P, tol, 300)
    np.testing.assert_allclose(Q.sum(axis=1), P.sum(axis=1), atol=1e-7)
    np.testing.assert_allclose(Q.sum(axis=0), P.sum(axis=0), atol=1e-7)
    minimum = mi_bits(Q.reshape(-1, shape[2]))
    for _ in range(50):  # no cycle move (+e, -e, -e, +e on a 2 x 2 minor of one Q(., ., y),
        # which keeps both marginals) lowers the minimum
        y = int(rng.integers(1, shape[2]))
        a, a2 = rng.choice(shape[0], 2, replace=False)
        b, b2 = rng.choice(shape[1], 2, replace=False)
        step = 1e-4 * min(Q[a, b2, y], Q[a2, b, y], Q[a, b, y], Q[a2, b2, y])
        for sign in (1, -1):
            candidate = Q.copy()
            candidate[[a, a2], [b, b2], y] += sign * step
            candidate[[a, a2], [b2, b], y] -= sign * step
            # optimal up to the solver's accuracy: no move gains more than the duality gap
            # (doubled for the approximate centering of the last barrier stage)
            assert mi_bits(candidate.reshape(-1, shape[2])) >= minimum - 2 * tol / np.log(2)


def test_invalid_distributions_are_refused() -> None:
    with pytest.raises(ValueError, match="3-D"):
        pid_from_distribution(np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        pid_from_distribution(-np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="must match"):
        pid(np.zeros(3), np.zeros(4), np.zeros(3))


@pytest.mark.parametrize(
    ("kind", "part"),
    [("redundant", "redundancy"), ("unique", "unique1"), ("synergistic", "synergy")],
)
def test_sample_estimate_recovers_the_planted_interaction(kind: str, part: str) -> None:
    data = make_interaction_dataset(kind, n=4000, noise=0.2)
    result = pid(
        data.modalities["x1"].numpy(),
        data.modalities["x2"].numpy(),
        data.targets.numpy(),
        n_clusters=2,
    )
    parts = result.as_dict()
    assert parts[part] > 0.9
    assert sum(v for k, v in parts.items() if k not in (part, "total")) < 0.05
