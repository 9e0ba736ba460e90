"""Partial information decomposition (PID) of I(X1, X2; Y) into redundancy, uniqueness and synergy.

The definition is BROJA's (Bertschinger, Rauh, Olbrich, Jost & Ay, "Quantifying unique
information", Entropy 2014), as used for multimodal data by Liang et al. ("Quantifying & Modeling
Multimodal Interactions", NeurIPS 2023). With Delta_P the distributions Q over (x1, x2, y) that
keep the pairwise marginals ``Q(x1, y) = P(x1, y)`` and ``Q(x2, y) = P(x2, y)``:

    U1 = min_Q I_Q(X1; Y | X2),  U2 = min_Q I_Q(X2; Y | X1),
    R = I(X1; Y) - U1,  S = I_P(X1, X2; Y) - min_Q I_Q(X1, X2; Y).

All three minima are attained by the same Q*, the minimizer of I_Q(X1, X2; Y) (a convex problem),
because I_Q(X1, X2; Y) = I(X2; Y) + I_Q(X1; Y | X2) and I(X2; Y) is fixed on Delta_P. Every
quantity is reported in bits.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.cluster.vq import kmeans2
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from intermodal.errors import DataTypeError

LN2 = float(np.log(2.0))
CENTERED = 1.0
"""A barrier stage ends when the squared Newton decrement falls below this."""


@dataclass(frozen=True)
class PIDResult:
    """A partial information decomposition, in bits. ``total`` = I(X1, X2; Y) = R + U1 + U2 + S."""

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _entropy_terms(p: np.ndarray) -> float:
    """sum p log p over positive entries (nats)."""
    positive = p[p > 0]
    return float(np.sum(positive * np.log(positive)))


def mutual_information(joint: np.ndarray) -> float:
    """I(A; B) in nats for a 2-D joint distribution ``joint[a, b]``."""
    return (
        _entropy_terms(joint)
        - _entropy_terms(joint.sum(axis=1))
        - _entropy_terms(joint.sum(axis=0))
    )


def _check_distribution(P: np.ndarray) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3:
        raise ValueError(f"P must be a 3-D array P[x1, x2, y], got shape {P.shape}")
    if P.size == 0 or not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError("P must be non-empty, finite and non-negative")
    total = P.sum()
    if total <= 0:
        raise ValueError("P sums to zero: it is not a distribution")
    return P / total


class _MarginalSystem:
    """Newton systems ``[H A^T; A 0]`` for the marginal constraints of Delta_P, where ``H`` is
    block diagonal over (x1, x2) with blocks ``diag(d) - 11^T / s`` (diagonal minus rank one).

    Each block is inverted in closed form (Sherman-Morrison), so only the reduced system
    ``A H^-1 A^T`` over the ``(|X1| + |X2|) |Y|`` constraints is factorized (Cholesky). Rows
    without variables, and one redundant row per y (the x1-marginals and the x2-marginals of
    Q(., ., y) both sum to P(y)), are held trivial.
    """

    def __init__(self, p1y: np.ndarray, p2y: np.ndarray, support: np.ndarray) -> None:
        self.n1, self.n2, self.ny = support.shape
        self.support = support
        n1, n2, ny = support.shape
        trivial_2 = p2y <= 0
        for y in np.flatnonzero(p1y.sum(axis=0) > 0):
            trivial_2[int(np.flatnonzero(p2y[:, y] > 0)[0]), y] = True
        self.trivial = np.concatenate([(p1y <= 0).ravel(), trivial_2.ravel()])
        size = (n1 + n2) * ny
        self.matrix = np.zeros((size, size))
        # positions of the diagonal blocks: (x1, y) x (x1, y') and (x2, y) x (x2, y')
        blocks = np.arange(size).reshape(n1 + n2, ny)
        self.block_1 = (blocks[:n1, :, None], blocks[:n1, None, :])
        self.block_2 = (blocks[n1:, :, None], blocks[n1:, None, :])

    def solve(self, d: np.ndarray, s: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``dQ`` with ``H dQ + A^T nu = -g`` and ``A dQ = 0`` for some multipliers nu."""
        n1, n2, ny = self.n1, self.n2, self.ny
        d_inv = np.where(self.support, 1.0 / np.where(self.support, d, 1.0), 0.0)
        c = s - d_inv.sum(axis=2)
        inv_c = np.where(c > 0, 1.0 / np.where(c > 0, c, 1.0), 0.0)

        def h_inv(v: np.ndarray) -> np.ndarray:
            return d_inv * (v + ((d_inv * v).sum(axis=2) * inv_c)[..., None])

        w = d_inv * np.sqrt(inv_c)[..., None]
        diagonal = np.arange(ny)
        rows = n1 * ny
        S = self.matrix
        S[:] = 0.0
        rr = np.einsum("aby,abz->ayz", w, w)
        rr[:, diagonal, diagonal] += d_inv.sum(axis=1)
        cc = np.einsum("aby,abz->byz", w, w)
        cc[:, diagonal, diagonal] += d_inv.sum(axis=0)
        rc = np.einsum("aby,abz->aybz", w, w)
        rc[:, diagonal, :, diagonal] += d_inv.transpose(2, 0, 1)
        S[self.block_1] = rr
        S[self.block_2] = cc
        S[:rows, rows:] = rc.reshape(rows, -1)
        S[rows:, :rows] = S[:rows, rows:].T
        trivial = self.trivial
        S[trivial, :] = 0.0
        S[:, trivial] = 0.0
        S[trivial, trivial] = 1.0
        scale = 1.0 / np.sqrt(np.diag(S))
        S *= scale[:, None]
        S *= scale
        try:
            factor = cho_factor(S, overwrite_a=True, check_finite=False)
        except LinAlgError:
            factor = None

        def solve_rows(v: np.ndarray) -> np.ndarray:
            v = np.where(trivial, 0.0, v) * scale
            if factor is None:
                return np.linalg.lstsq(S, v, rcond=None)[0] * scale
            return cho_solve(factor, v, check_finite=False) * scale

        def step(nu: np.ndarray) -> np.ndarray:
            nu_1, nu_2 = nu[:rows].reshape(n1, ny), nu[rows:].reshape(n2, ny)
            return -h_inv(g + nu_1[:, None, :] + nu_2[None, :, :])

        def marginals(v: np.ndarray) -> np.ndarray:
            return np.concatenate([v.sum(axis=1).ravel(), v.sum(axis=0).ravel()])

        nu = solve_rows(-marginals(h_inv(g)))
        # one round of iterative refinement: remove what round-off left of A dQ
        nu += solve_rows(marginals(step(nu)))
        return step(nu)


def _step_to_boundary(x: np.ndarray, dx: np.ndarray) -> float:
    """The largest step in (0, 1] that keeps x + step * dx positive, times 0.99."""
    shrinking = dx < 0
    if not shrinking.any():
        return 1.0
    return min(1.0, 0.99 * float(np.min(-x[shrinking] / dx[shrinking])))


def _solve_broja(P: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Minimize ``F(Q) = sum Q log(Q(x1, x2, y) / Q(x1, x2))`` over Delta_P.

    A barrier method: Newton's method with the marginal constraints kept exactly, on
    ``t F - sum log Q``, with t growing 30-fold per stage until the duality-gap bound m / t is
    below ``tol`` (nats).
    F's Hessian is ``diag(1/q) - 11^T / sum(q)`` on each (x1, x2) block, which
    :class:`_MarginalSystem` exploits. Starts from the independent coupling
    ``P(x1|y) P(x2|y) P(y)``, which is feasible. Returns Q and the number of Newton steps.
    """
    p1y, p2y, py = P.sum(axis=1), P.sum(axis=0), P.sum(axis=(0, 1))
    support = (p1y[:, None, :] > 0) & (p2y[None, :, :] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Q = np.where(support, p1y[:, None, :] * p2y[None, :, :] / py, 0.0)
    system = _MarginalSystem(p1y, p2y, support)
    m = int(support.sum())
    t = 1000.0 * m  # the first centering starts with a gap bound of 1e-3 nats

    def merit(q: np.ndarray) -> float:
        s = q.sum(axis=2, keepdims=True)
        inside = q[support]
        return (
            float(np.sum(inside * np.log(inside / np.broadcast_to(s, q.shape)[support])))
            - float(np.sum(np.log(inside))) / t
        )

    steps = 0
    while steps < max_iter:
        steps += 1
        q = np.where(support, Q, 1.0)
        s = Q.sum(axis=2)
        log_s = np.log(np.where(s > 0, s, 1.0))[..., None]
        g = np.where(support, np.log(q) - log_s - 1.0 / (t * q), 0.0)
        dQ = system.solve(np.where(support, 1.0 / q + 1.0 / (t * q * q), 1.0), s, g)
        decrement = -float(np.sum(g * dQ))
        if t * decrement < CENTERED:
            if m / t < tol:
                break
            t *= 30.0
            continue
        alpha = _step_to_boundary(Q[support], dQ[support])
        current = merit(Q)
        while (
            alpha > 1e-14
            and merit(np.where(support, Q + alpha * dQ, 0.0)) > current - 0.25 * alpha * decrement
        ):
            alpha *= 0.5
        Q = np.where(support, Q + alpha * dQ, 0.0)
    # remove the round-off drift of the marginals by matrix scaling, alternately onto each
    # marginal, until both hold to 1e-13 (a few rounds; the drift is small to begin with)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(100):
            Q *= np.nan_to_num(p1y / Q.sum(axis=1))[:, None, :]
            Q *= np.nan_to_num(p2y / Q.sum(axis=0))[None, :, :]
            if np.abs(Q.sum(axis=1) - p1y).max() < 1e-13:
                break
    return Q, steps


def pid_from_distribution(P: np.ndarray, tol: float = 1e-4, max_iter: int = 200) -> PIDResult:
    """The BROJA partial information decomposition of a joint distribution ``P[x1, x2, y]``.

    Args:
        P: non-negative array of shape ``(|X1|, |X2|, |Y|)``; counts are normalized to sum to 1.
        tol: bound on the duality gap of the minimization, in nats; the default 1e-4 nats
            (1.4e-4 bits) bounds the error of each part well below 1e-3 bits.
        max_iter: cap on interior-point iterations.

    Returns:
        A :class:`PIDResult` in bits, with R + U1 + U2 + S = I(X1, X2; Y); each part is
        non-negative up to ``tol`` (tiny negative round-off is reported as 0).
    """
    P = _check_distribution(P)
    Q, _ = _solve_broja(P, tol, max_iter)

    total = mutual_information(P.reshape(-1, P.shape[2]))
    minimum = mutual_information(Q.reshape(-1, Q.shape[2]))
    i1 = mutual_information(P.sum(axis=1))
    i2 = mutual_information(P.sum(axis=0))
    unique1, unique2 = minimum - i2, minimum - i1
    redundancy, synergy = i1 - unique1, total - minimum
    r, u1, u2, s = (
        0.0 if abs(v / LN2) < 1e-9 else v / LN2 for v in (redundancy, unique1, unique2, synergy)
    )
    return PIDResult(redundancy=r, unique1=u1, unique2=u2, synergy=s, total=total / LN2)


MAX_LEVELS = 50
"""A column with at most this many distinct values is discrete: its values are the cells."""

SAMPLES_PER_CELL = 10
"""Samples per cell of the (x1, x2, y) table that :func:`clusters_for` leaves: the plug-in
estimate of I(X1, X2; Y) is then biased upwards by about ``1 / (2 * 10 * ln 2)`` = 0.07 bits."""


def clusters_for(
    n_samples: int,
    n_classes: int,
    samples_per_cell: int = SAMPLES_PER_CELL,
    max_clusters: int | None = None,
) -> int:
    """The most k-means cells per modality that keep ``samples_per_cell`` samples per cell of
    the joint table on average: the largest k with ``k**2 * n_classes * samples_per_cell <=
    n_samples`` (at most ``max_clusters``). Below 2 the data are too few for a PID estimate."""
    if n_classes < 1 or samples_per_cell < 1:
        raise ValueError(
            f"n_classes and samples_per_cell must be at least 1, got {n_classes}, "
            f"{samples_per_cell}"
        )
    k = math.isqrt(max(n_samples, 0) // (n_classes * samples_per_cell))
    return k if max_clusters is None else min(k, max_clusters)


def discretize(
    x: np.ndarray, n_clusters: int = 10, seed: int = 0, max_levels: int = MAX_LEVELS
) -> np.ndarray:
    """Integer codes for the rows of ``x`` (N,) or (N, D).

    A single column of at most ``max_levels`` distinct integer values is used as it is; anything
    else is standardized and clustered by k-means (k-means++ start, ``seed``) into
    ``n_clusters`` cells.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError("features are empty: discretizing needs at least one sample")
    x = x.reshape(len(x), -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite (no NaN or infinite values)")
    if x.shape[1] == 1 and np.all(x == np.round(x)):
        levels, codes = np.unique(x[:, 0], return_inverse=True)
        if len(levels) <= max_levels:
            return codes
    std = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    if len(np.unique(z, axis=0)) <= n_clusters:
        return np.unique(z, axis=0, return_inverse=True)[1].ravel()
    _, codes = kmeans2(z, n_clusters, minit="++", seed=np.random.default_rng(seed))
    return np.unique(codes, return_inverse=True)[1]


def _numbers(name: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a numeric array of samples; one column of text labels becomes category
    codes ``(N,)``."""
    array = np.asarray(values)
    if array.ndim == 0:
        raise ValueError(f"{name} must hold one row per sample, got a single value")
    if array.dtype.kind in "biuf":
        return array
    flat = array.reshape(len(array), -1)
    if array.dtype.kind in "OUS" and flat.shape[1] == 1:
        if all(isinstance(v, (str, bytes)) for v in flat[:, 0]):
            return np.unique(flat[:, 0], return_inverse=True)[1].ravel()
    if array.dtype.kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            pass
    raise DataTypeError(
        f"{name} holds {array.dtype} values that are neither numbers nor one column of text "
        "labels; pass numeric features (N,) or (N, D), or category labels (N,)"
    )


def _check_finite(name: str, values: np.ndarray) -> None:
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{name} holds NaN or infinite values in {int(bad.sum())} of {len(values)} rows "
                f"(first in row {int(np.flatnonzero(bad)[0])}); drop or impute those samples"
            )


def _target_codes(y: np.ndarray) -> np.ndarray:
    """Codes ``(N,)`` of a discrete target; a continuous one is refused."""
    if y.ndim > 1 and y.reshape(len(y), -1).shape[1] != 1:
        raise ValueError(
            f"y must hold one label per sample, shape (N,), got {y.shape}; the PID needs one "
            "discrete target (a multi-label target is a set: decompose one label at a time)"
        )
    y = y.reshape(len(y))
    levels, codes = np.unique(y, return_inverse=True)
    if len(levels) > min(MAX_LEVELS, len(y) // SAMPLES_PER_CELL):
        raise ValueError(
            f"y has {len(levels)} distinct values in {len(y)} samples, too many to be read as "
            f"classes (at most {MAX_LEVELS}, with {SAMPLES_PER_CELL} samples each on average): "
            "the plug-in PID would report noise as information. For a continuous target, "
            "discretize it first, e.g. into quantile bins with "
            "np.searchsorted(np.quantile(y, [0.2, 0.4, 0.6, 0.8]), y) or, for a data set, "
            "intermodal.analysis.discrete_target(data, bins); for labels, merge rare classes "
            "or gather more samples"
        )
    return codes.ravel()


def pid(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike,
    n_clusters: int = 10,
    seed: int = 0,
) -> PIDResult:
    """PID of I(X1, X2; Y) in bits estimated from N samples.

    Args:
        x1, x2: ``(N,)`` or ``(N, D)`` features of the two modalities; discrete columns are used
            as they are, continuous features are discretized by k-means into ``n_clusters`` cells
            (see :func:`discretize`); a column of text labels is read as categories.
        y: ``(N,)`` labels (integers, booleans or text), or a model's predictions to decompose
            what the model uses. A target of more than ``MAX_LEVELS`` distinct values, or
            fewer than ``SAMPLES_PER_CELL`` samples per value, is refused: cut a continuous
            target into bins first.
        n_clusters: cells per modality. The plug-in estimate from counts is biased upwards by
            about ``(cells - 1) / (2 N ln 2)`` bits per mutual information term, so keep
            ``n_clusters**2 * |Y|`` well below N (:func:`clusters_for` picks the most cells
            that leave ``SAMPLES_PER_CELL`` samples per cell); more cells resolve finer
            structure but add bias.

    Returns:
        The decomposition of the empirical joint distribution of the discretized variables.
    """
    x1, x2, y = _numbers("x1", x1), _numbers("x2", x2), _numbers("y", y)
    if not (len(x1) == len(x2) == len(y)):
        raise ValueError(
            f"x1, x2 and y have {len(x1)}, {len(x2)} and {len(y)} rows; they must match"
        )
    if len(y) == 0:
        raise ValueError("x1, x2 and y are empty: the PID needs samples (one row per sample)")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    for name, values in (("x1", x1), ("x2", x2), ("y", y)):
        _check_finite(name, values)
    cy = _target_codes(y)
    c1 = discretize(x1, n_clusters, seed)
    c2 = discretize(x2, n_clusters, seed + 1)
    counts = np.zeros((c1.max() + 1, c2.max() + 1, cy.max() + 1))
    np.add.at(counts, (c1, c2, cy), 1.0)
    if counts.size * SAMPLES_PER_CELL > len(y):
        warnings.warn(
            f"the PID's table has {counts.size} cells for {len(y)} samples (fewer than "
            f"{SAMPLES_PER_CELL} per cell), so the plug-in estimate is biased upwards; "
            f"n_clusters=clusters_for({len(y)}, {counts.shape[2]}) keeps {SAMPLES_PER_CELL} per "
            "cell",
            stacklevel=2,
        )
    return pid_from_distribution(counts)
