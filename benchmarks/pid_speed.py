"""PID solver against cvxpy with the CLARABEL solver on the same 30 x 30 x 10 distributions.

Run: pip install cvxpy clarabel && python benchmarks/pid_speed.py [--problems 3]

For each random joint distribution P[x1, x2, y] (Dirichlet draws of several concentrations),
times ``pid_from_distribution`` and the same convex problem,
min_Q sum_y sum rel_entr(Q_y, sum_y' Q_y') with Q's (x1, y) and (x2, y) marginals fixed, solved
by cvxpy + CLARABEL with default settings. A high-precision CLARABEL solution (tolerances 1e-12)
is the reference for the accuracy of R, U1, U2, S (bits).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from intermodal.analysis.pid import LN2, mutual_information, pid_from_distribution

try:
    import cvxpy as cp
except ImportError as error:  # pragma: no cover
    raise SystemExit("this benchmark compares against cvxpy: pip install cvxpy clarabel") from error


def cvxpy_minimum(P: np.ndarray, precise: bool = False) -> float:
    """min_Q I_Q(X1, X2; Y) in bits, by cvxpy + CLARABEL."""
    n1, n2, ny = P.shape
    Q = [cp.Variable((n1, n2), nonneg=True) for _ in range(ny)]
    total = sum(Q)
    constraints = []
    for y in range(ny):
        constraints += [
            cp.sum(Q[y], axis=1) == P[:, :, y].sum(1),
            cp.sum(Q[y], axis=0) == P[:, :, y].sum(0),
        ]
    objective = sum(cp.sum(cp.rel_entr(Q[y], total)) for y in range(ny))  # = -H_Q(Y | X1, X2)
    options = (
        {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_iter": 500}
        if precise
        else {}
    )
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver="CLARABEL", **options)
    py = P.sum(axis=(0, 1))
    entropy_y = -float(np.sum(py[py > 0] * np.log(py[py > 0])))
    return (entropy_y + problem.value) / LN2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=3)
    problems = parser.parse_args().problems
    rng = np.random.default_rng(0)
    print(f"{'P':<24}{'ours s':>9}{'cvxpy s':>9}{'speed-up':>10}{'max |error| bits':>18}")
    ratios, errors = [], []
    for i in range(problems):
        concentration = [0.05, 0.5, 5.0][i % 3]
        P = rng.dirichlet(np.full(30 * 30 * 10, concentration)).reshape(30, 30, 10)
        start = time.perf_counter()
        ours = pid_from_distribution(P)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        cvxpy_minimum(P)
        cvxpy_s = time.perf_counter() - start
        minimum = cvxpy_minimum(P, precise=True)
        i1, i2 = (mutual_information(P.sum(axis=k)) / LN2 for k in (1, 0))
        total = mutual_information(P.reshape(-1, 10)) / LN2
        reference = np.array([i1 - (minimum - i2), minimum - i2, minimum - i1, total - minimum])
        got = np.array([ours.redundancy, ours.unique1, ours.unique2, ours.synergy])
        error = float(np.abs(got - reference).max())
        ratios.append(cvxpy_s / ours_s)
        errors.append(error)
        label = f"30x30x10, alpha={concentration}"
        print(f"{label:<24}{ours_s:>9.3f}{cvxpy_s:>9.3f}{cvxpy_s / ours_s:>9.1f}x{error:>18.2e}")
    print(
        f"speed-up over cvxpy + CLARABEL: min {min(ratios):.1f}x; "
        f"largest error {max(errors):.1e} bits"
    )


if __name__ == "__main__":
    main()
