"""Build the compressed copy of UCI Multiple Features shipped in the package.

Usage: python scripts/build_mfeat.py ../shared/data/uci-mfeat

Reads the six ``mfeat-*.csv`` files (one header row, label in the last column) and writes
``src/intermodal/data/files/mfeat.npz`` with one array per view and ``labels``. Integer views are
stored as integers, the others as float32 (the CSVs carry at most five significant digits).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
INTEGER_VIEWS = {"fac": np.int16, "pix": np.uint8}


def main(source: Path, target: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    labels = None
    for view in VIEWS:
        table = np.loadtxt(source / f"mfeat-{view}.csv", delimiter=",", skiprows=1)
        values, view_labels = table[:, :-1], table[:, -1].astype(np.uint8)
        if labels is None:
            labels = view_labels
        elif not np.array_equal(labels, view_labels):
            raise SystemExit(f"labels of mfeat-{view}.csv differ from the other views")
        dtype = INTEGER_VIEWS.get(view, np.float32)
        converted = values.astype(dtype)
        if dtype is not np.float32 and not np.array_equal(converted, values):
            raise SystemExit(f"mfeat-{view}.csv holds non-integer values")
        arrays[view] = converted
    arrays["labels"] = labels  # type: ignore[assignment]
    np.savez_compressed(target, **arrays)  # type: ignore[arg-type]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(__file__).parents[1] / "src/intermodal/data/files/mfeat.npz")
