"""Named data sets that the command line and the benchmark can load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.mfeat import load_mfeat


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    loader: Callable[[], MultimodalDataset]
    description: str
    source: str


DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> None:
    """Make a data set available by name to ``load_dataset`` and ``intermodal --dataset``."""
    if info.name in DATASETS:
        raise ValueError(f"a data set named {info.name!r} is already registered")
    DATASETS[info.name] = info


register_dataset(
    DatasetInfo(
        "mfeat",
        load_mfeat,
        "UCI Multiple Features: 2,000 handwritten digits, six feature views (bundled)",
        "UCI Machine Learning Repository (Duin), CC BY 4.0",
    )
)


def load_dataset(name: str) -> MultimodalDataset:
    """Load a registered data set by name."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; available: {sorted(DATASETS)}")
    return DATASETS[name].loader()


def list_datasets() -> pd.DataFrame:
    """One row per registered data set: modalities with kinds and shapes, sizes and source."""
    rows = []
    for info in DATASETS.values():
        data = info.loader()
        rows.append(
            {
                "name": info.name,
                "samples": len(data),
                "classes": data.n_classes,
                "modalities": ", ".join(
                    f"{k} ({data.kinds[k]} {'x'.join(map(str, data.shapes[k]))})"
                    for k in data.modality_names
                ),
                "description": info.description,
                "source": info.source,
            }
        )
    return pd.DataFrame(rows)
