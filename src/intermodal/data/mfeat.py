"""UCI Multiple Features (mfeat): 2,000 handwritten digits described by six views.

Source: UCI Machine Learning Repository, "Multiple Features" (R. Duin), CC BY 4.0. The package
ships a compressed copy, so the data set works offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError

MFEAT_VIEWS = {
    "fou": "76 Fourier coefficients of the character shapes",
    "fac": "216 profile correlations",
    "kar": "64 Karhunen-Loeve coefficients",
    "pix": "240 pixel averages in 2 x 3 windows (a 16 x 15 image)",
    "zer": "47 Zernike moments",
    "mor": "6 morphological features",
}


def load_mfeat(views: Sequence[str] | None = None) -> MultimodalDataset:
    """Load UCI Multiple Features: 2,000 digits (10 classes, 200 each), one modality per view.

    Args:
        views: names of the views to keep (default: all six, see ``MFEAT_VIEWS``). Each view is a
            ``vector`` modality of shape (N, D): fou 76, fac 216, kar 64, pix 240, zer 47, mor 6.
    """
    chosen = list(MFEAT_VIEWS) if views is None else list(views)
    unknown = sorted(set(chosen) - set(MFEAT_VIEWS))
    if unknown or not chosen:
        raise UnknownNameError(
            f"unknown mfeat views {unknown or chosen}; choose from {list(MFEAT_VIEWS)}"
        )
    source = resources.files("intermodal.data").joinpath("files/mfeat.npz")
    with source.open("rb") as handle, np.load(handle) as archive:
        modalities = {view: archive[view].astype(np.float32) for view in chosen}
        labels = archive["labels"].astype(np.int64)
    return MultimodalDataset(
        modalities, labels, kinds=dict.fromkeys(chosen, "vector"), name="mfeat"
    )
