from __future__ import annotations

import numpy as np
import pytest

from intermodal.coordination import canonical_correlations


def test_planted_correlations_match_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    z = rng.normal(size=(n, 2))
    x1 = np.column_stack([z[:, 0], z[:, 1], rng.normal(size=n)]) @ rng.normal(size=(3, 3))
    x2 = np.column_stack(
        [
            0.9 * z[:, 0] + np.sqrt(1 - 0.81) * rng.normal(size=n),
            0.5 * z[:, 1] + np.sqrt(0.75) * rng.normal(size=n),
            rng.normal(size=(n, 2)),
        ]
    )
    got = canonical_correlations(x1, x2, reg=0.0)
    np.testing.assert_allclose(got[:2], [0.9, 0.5], atol=0.02)
    a, b = x1 - x1.mean(0), x2 - x2.mean(0)
    s11, s22, s12 = a.T @ a, b.T @ b, a.T @ b
    eig = np.linalg.eigvals(np.linalg.solve(s11, s12) @ np.linalg.solve(s22, s12.T))
    np.testing.assert_allclose(got, np.sqrt(np.sort(eig.real)[::-1][:3]), atol=1e-8)


def test_rank_deficient_views_give_no_nan() -> None:
    x = np.random.default_rng(1).normal(size=(50, 2))
    got = canonical_correlations(np.column_stack([x, x]), x)
    assert np.isfinite(got).all() and got[0] == pytest.approx(1.0, abs=1e-3)
