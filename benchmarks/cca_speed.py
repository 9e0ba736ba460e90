"""CCA against scikit-learn's on UCI Multiple Features, views fou (76) and pix (240), 2,000 samples.

Run: pip install scikit-learn && python benchmarks/cca_speed.py

Times ``intermodal.coordination.CCA(n_components=20)`` and
``sklearn.cross_decomposition.CCA(n_components=20)`` (its default iterative solver) in the same
run and compares the top-5 canonical correlations of the fitted variates.
"""

from __future__ import annotations

import time

import numpy as np

from intermodal.coordination import CCA
from intermodal.coordination.cca import paired_correlations
from intermodal.data import load_mfeat

try:
    from sklearn.cross_decomposition import CCA as SklearnCCA
except ImportError as error:  # pragma: no cover
    raise SystemExit(
        "this benchmark compares against scikit-learn: pip install scikit-learn"
    ) from error


def main() -> None:
    data = load_mfeat(["fou", "pix"])
    x1, x2 = (data.modalities[k].numpy().astype(np.float64) for k in ("fou", "pix"))
    start = time.perf_counter()
    ours = CCA(20).fit(x1, x2)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = SklearnCCA(n_components=20).fit(x1, x2)
    theirs_s = time.perf_counter() - start
    ours_rho = ours.score(x1, x2)[:5]
    theirs_rho = paired_correlations(*theirs.transform(x1, x2))[:5]
    print(f"intermodal CCA: {ours_s:.3f} s; scikit-learn CCA: {theirs_s:.3f} s")
    print(f"speed-up: {theirs_s / ours_s:.1f}x")
    print("top-5 correlations, intermodal:   " + " ".join(f"{r:.5f}" for r in ours_rho))
    print("top-5 correlations, scikit-learn: " + " ".join(f"{r:.5f}" for r in theirs_rho))
    print(f"smallest margin (ours - theirs): {float(np.min(ours_rho - theirs_rho)):+.2e}")


if __name__ == "__main__":
    main()
