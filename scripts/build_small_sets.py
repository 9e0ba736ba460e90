"""Write two small, high-dimensional data sets from UCI Multiple Features, in the formats users
bring, for benchmarks of the small-data regime:

- ``mfeat-200.mat``: 200 digits (20 per class, drawn with seed 0), the six views (649 features)
  as a MATLAB cell array ``X`` of ``(200, d_v)`` matrices and labels ``y``, the layout of the
  multi-view learning literature's files;
- ``mfeat-words.csv``: 300 digits (30 per class), a text column ``words`` that writes the 15 x 16
  pixel view as a bag of visual words (pixel ``r3c5`` of intensity v appears v times, 0 to 6)
  and the 76 Fourier coefficients as ``fou.0`` ... ``fou.75``, with a ``target`` column.

Run: python scripts/build_small_sets.py OUTPUT_FOLDER
Then: intermodal bench --dataset OUTPUT_FOLDER/mfeat-200.mat (or mfeat-words.csv)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import savemat

from intermodal.data import load_mfeat


def per_class(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` sample indices of each class, drawn with ``seed``, in sorted order."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), count, replace=False) for c in range(10)]
    return np.sort(np.concatenate(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder to write the files into")
    folder = parser.parse_args().output
    folder.mkdir(parents=True, exist_ok=True)
    data = load_mfeat()
    labels = data.targets.numpy()

    rows = per_class(labels, 20, seed=0)
    views = np.empty((1, len(data.modality_names)), dtype=object)
    for i, name in enumerate(data.modality_names):
        views[0, i] = data.modalities[name].numpy()[rows].astype(np.float64)
    savemat(folder / "mfeat-200.mat", {"X": views, "y": labels[rows, None] + 1.0})

    rows = per_class(labels, 30, seed=1)
    pixels = data.modalities["pix"].numpy()[rows].astype(int)  # (300, 240), row-major 16 x 15
    words = [
        " ".join(f"r{j // 15}c{j % 15}" for j in range(240) for _ in range(int(image[j])))
        for image in pixels
    ]
    table = pd.DataFrame(
        data.modalities["fou"].numpy()[rows], columns=[f"fou.{j}" for j in range(76)]
    )
    table.insert(0, "words", words)
    table["target"] = labels[rows]
    table.to_csv(folder / "mfeat-words.csv", index=False)
    print(f"wrote {folder / 'mfeat-200.mat'} and {folder / 'mfeat-words.csv'}")


if __name__ == "__main__":
    main()
