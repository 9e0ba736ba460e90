"""Data connectors: arrays, data frames, CSV and Parquet files, image folders, and the data files
that researchers have from MultiBench (Liang et al., NeurIPS 2021 Datasets and Benchmarks)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intermodal.data.dataset import ArrayLike, MultimodalDataset
from intermodal.errors import UnknownNameError


def from_arrays(
    modalities: Mapping[str, ArrayLike],
    targets: ArrayLike,
    masks: Mapping[str, ArrayLike] | None = None,
    kinds: Mapping[str, str] | None = None,
    split: Sequence[str] | None = None,
    name: str = "arrays",
) -> MultimodalDataset:
    """A data set from arrays of shape ``(N, ...)``; ``split`` (N,) of ``train``/``val``/``test``
    fixes the split that the benchmark uses."""
    metadata = {"split": np.asarray(split)} if split is not None else None
    return MultimodalDataset(
        modalities, targets, masks=masks, kinds=kinds, metadata=metadata, name=name
    )


def from_dataframe(
    frame: pd.DataFrame,
    modalities: Mapping[str, Sequence[str]],
    target: str,
    split: str | None = None,
    name: str = "dataframe",
) -> MultimodalDataset:
    """A data set of vector modalities from columns of ``frame``.

    Args:
        modalities: modality name -> its columns, e.g. ``{"text": ["t0", "t1"], "tab": ["age"]}``.
        target: the column of integer class labels.
        split: optional column of ``train``/``val``/``test`` that fixes the split.
    """
    wanted = (
        [c for columns in modalities.values() for c in columns]
        + [target]
        + ([split] if split else [])
    )
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UnknownNameError(
            f"columns {missing} are not in the data frame (it has {list(frame.columns)[:20]})"
        )
    arrays = {}
    for key, columns in modalities.items():
        if not columns:
            raise ValueError(f"modality {key!r} names no columns")
        part = frame[list(columns)]
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(part[c])]
        if bad:
            raise TypeError(f"modality {key!r}: columns {bad} are not numeric; encode them first")
        arrays[key] = part.to_numpy(dtype=np.float32)
    metadata = {"split": frame[split].astype(str).to_numpy()} if split else None
    return MultimodalDataset(arrays, frame[target].to_numpy(), metadata=metadata, name=name)


def _modalities_by_prefix(
    frame: pd.DataFrame, target: str, split: str | None
) -> dict[str, list[str]]:
    """Columns named ``<modality>.<feature>`` grouped by modality."""
    groups: dict[str, list[str]] = {}
    for column in frame.columns:
        if column in (target, split):
            continue
        key, dot, _ = str(column).partition(".")
        if not dot:
            raise ValueError(
                f"column {column!r} has no modality prefix; name feature columns "
                "'<modality>.<feature>' or pass modalities={...}"
            )
        groups.setdefault(key, []).append(str(column))
    return groups


def _from_file(
    frame: pd.DataFrame,
    modalities: Mapping[str, Sequence[str]] | None,
    target: str,
    split: str | None,
    path: Path,
) -> MultimodalDataset:
    split = split or ("split" if "split" in frame.columns else None)
    groups = modalities or _modalities_by_prefix(frame, target, split)
    return from_dataframe(frame, groups, target, split, name=path.stem)


def from_csv(
    path: str | os.PathLike[str],
    modalities: Mapping[str, Sequence[str]] | None = None,
    target: str = "target",
    split: str | None = None,
    **read_options: Any,
) -> MultimodalDataset:
    """A data set from a CSV file (see :func:`from_dataframe`). Without ``modalities``, feature
    columns must be named ``<modality>.<feature>``; a ``split`` column is used if present."""
    return _from_file(pd.read_csv(path, **read_options), modalities, target, split, Path(path))


def from_parquet(
    path: str | os.PathLike[str],
    modalities: Mapping[str, Sequence[str]] | None = None,
    target: str = "target",
    split: str | None = None,
) -> MultimodalDataset:
    """A data set from a Parquet file (needs ``pyarrow``), as :func:`from_csv`."""
    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from error
    return _from_file(frame, modalities, target, split, Path(path))


def read_image_folder(
    csv_path: str | os.PathLike[str],
    image_column: str = "image",
    target: str = "target",
    image_root: str | os.PathLike[str] | None = None,
    size: tuple[int, int] | None = None,
) -> MultimodalDataset:
    """Images listed in a CSV file (paths relative to ``image_root``, default the CSV's folder)
    as an ``image`` modality ``(N, C, H, W)`` in [0, 1], and every other numeric column except
    ``target`` and ``split`` as a ``tabular`` vector modality. Images are read with Pillow;
    ``size`` (H, W) resizes them, otherwise all must share one size."""
    from PIL import Image

    frame = pd.read_csv(csv_path)
    for column in (image_column, target):
        if column not in frame.columns:
            raise UnknownNameError(f"{csv_path} has no column {column!r}")
    root = Path(image_root) if image_root else Path(csv_path).parent
    images = []
    for relative in frame[image_column]:
        path = root / str(relative)
        if not path.is_file():
            raise FileNotFoundError(f"image {path} (listed in {csv_path}) does not exist")
        try:
            with Image.open(path) as opened:
                image = opened.convert("L" if opened.mode in ("1", "L", "I", "F") else "RGB")
            if size:
                image = image.resize((size[1], size[0]))
            pixels = np.asarray(image, dtype=np.float32) / 255.0
        except OSError as error:
            raise ValueError(f"{path} is not a readable image ({error})") from None
        images.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"images have different shapes {sorted(shapes)[:3]}; pass size=(H, W)")
    modalities: dict[str, Any] = {"image": np.stack(images)}
    others = [c for c in frame.columns if c not in (image_column, target, "split")]
    numeric = [c for c in others if pd.api.types.is_numeric_dtype(frame[c])]
    if numeric:
        modalities["tabular"] = frame[numeric].to_numpy(dtype=np.float32)
    metadata = (
        {"split": frame["split"].astype(str).to_numpy()} if "split" in frame.columns else None
    )
    return MultimodalDataset(
        modalities, frame[target].to_numpy(), metadata=metadata, name=Path(csv_path).stem
    )


def _load_pickle(path: Path, trust_pickle: bool) -> Any:
    if not trust_pickle:
        raise PermissionError(
            f"{path} is a pickle file, and loading a pickle can run arbitrary code; load it only "
            "if you trust its source, with trust_pickle=True (--trust-pickle)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with path.open("rb") as stream:
        return pickle.load(stream)


def _finite(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    return np.where(np.isfinite(array), array, 0.0)


AFFECT_SPLITS = {"train": "train", "valid": "val", "test": "test"}


def read_affect_pickle(
    path: str | os.PathLike[str], trust_pickle: bool = False, task: str = "binary"
) -> MultimodalDataset:
    """A MultiBench affect pickle (CMU-MOSI, CMU-MOSEI, MUStARD, UR-FUNNY).

    Format: a dict with ``train``, ``valid`` and ``test``, each a dict of ``vision`` (N, T, Dv),
    ``audio`` (N, T, Da), ``text`` (N, T, Dt) and ``labels`` (N, ...) sentiment scores or
    classes. The three modalities become sequence modalities (non-finite feature values, which
    these files contain, are set to 0); the split is kept.

    Args:
        task: ``binary`` (label > 0 is class 1: positive sentiment, sarcasm or humour) or
            ``7class`` (sentiment rounded and clipped to -3..3, classes 0..6).
    """
    return _affect(_load_pickle(Path(path), trust_pickle), Path(path), task)


def _affect(data: Any, path: Path, task: str) -> MultimodalDataset:
    if not isinstance(data, dict) or not set(AFFECT_SPLITS) <= set(data):
        raise ValueError(
            f"{path} is not a MultiBench affect pickle: expected keys {sorted(AFFECT_SPLITS)}"
        )
    if task not in ("binary", "7class"):
        raise ValueError(f"task must be 'binary' or '7class', got {task!r}")
    parts: dict[str, list[np.ndarray]] = {
        "vision": [],
        "audio": [],
        "text": [],
        "labels": [],
        "split": [],
    }
    for key, split in AFFECT_SPLITS.items():
        part = data[key]
        missing = [k for k in ("vision", "audio", "text", "labels") if k not in part]
        if missing:
            raise ValueError(f"{path}: the {key!r} split lacks {missing}")
        for modality in ("vision", "audio", "text"):
            parts[modality].append(_finite(part[modality]))
        labels = np.asarray(part["labels"], dtype=np.float64).reshape(len(part["labels"]), -1)[:, 0]
        parts["labels"].append(labels)
        parts["split"].append(np.full(len(labels), split))
    scores = np.concatenate(parts["labels"])
    targets = (
        (scores > 0).astype(np.int64)
        if task == "binary"
        else np.clip(np.round(scores), -3, 3).astype(np.int64) + 3
    )
    return MultimodalDataset(
        {m: np.concatenate(parts[m]) for m in ("vision", "audio", "text")},
        targets,
        kinds=dict.fromkeys(("vision", "audio", "text"), "sequence"),
        metadata={"split": np.concatenate(parts["split"])},
        name=path.stem,
    )


def read_avmnist(folder: str | os.PathLike[str]) -> MultimodalDataset:
    """MultiBench's AV-MNIST arrays: ``image/{train,test}_data.npy`` (N, 784) of 28 x 28 digits,
    ``audio/{train,test}_data.npy`` (N, 112, 112) spectrograms and ``{train,test}_labels.npy``;
    images and spectrograms become image modalities (N, 1, H, W)."""
    folder = Path(folder)
    modalities: dict[str, list[np.ndarray]] = {"image": [], "audio": []}
    labels, split = [], []
    for part in ("train", "test"):
        for modality in ("image", "audio"):
            path = folder / modality / f"{part}_data.npy"
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: {folder} is not an AV-MNIST folder")
            array = np.load(path, allow_pickle=False).astype(np.float32)
            side = round(float(np.sqrt(array[0].size)))
            modalities[modality].append(array.reshape(len(array), 1, side, side))
        labels.append(np.load(folder / f"{part}_labels.npy", allow_pickle=False))
        split.append(np.full(len(labels[-1]), part))
    return MultimodalDataset(
        {m: np.concatenate(v) for m, v in modalities.items()},
        np.concatenate(labels),
        kinds={"image": "image", "audio": "image"},
        metadata={"split": np.concatenate(split)},
        name="avmnist",
    )


def read_mimic(
    path: str | os.PathLike[str], trust_pickle: bool = False, task: int = -1
) -> MultimodalDataset:
    """MultiBench's MIMIC-III pickle (``im.pk``): ``adm_features_all`` (N, 5) static patient
    information and ``ep_tdata`` (N, 24, 12) hourly measurements (or flattened, N x 288); the
    label is ``adm_labels_all[:, 1]`` for ``task=-1`` (6-way mortality) or ``y_icd9[:, task]`` for
    ICD-9 groups 0-19. MultiBench splits it at random, so the benchmark's stratified split is
    used."""
    return _mimic(_load_pickle(Path(path), trust_pickle), Path(path), task)


def _mimic(data: Any, path: Path, task: int) -> MultimodalDataset:
    keys = {"adm_features_all", "ep_tdata", "adm_labels_all", "y_icd9"}
    if not isinstance(data, dict) or not keys <= set(data):
        raise ValueError(f"{path} is not a MultiBench MIMIC pickle: expected keys {sorted(keys)}")
    series = _finite(data["ep_tdata"])
    series = series.reshape(len(series), 24, -1)
    labels = (
        np.asarray(data["adm_labels_all"])[:, 1]
        if task == -1
        else np.asarray(data["y_icd9"])[:, task]
    )
    return MultimodalDataset(
        {"static": _finite(data["adm_features_all"]), "timeseries": series},
        labels.astype(np.int64),
        kinds={"static": "vector", "timeseries": "sequence"},
        name="mimic",
    )


def read_path(path: str | os.PathLike[str], trust_pickle: bool = False) -> MultimodalDataset:
    """Load a data set from a file or folder, by its kind: ``.csv``, ``.parquet``, a MultiBench
    affect or MIMIC pickle (``.pkl``/``.pk``, with ``trust_pickle``), or an AV-MNIST folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        return read_avmnist(path)
    if suffix == ".csv":
        return from_csv(path)
    if suffix == ".parquet":
        return from_parquet(path)
    if suffix in (".pkl", ".pk", ".pickle"):
        data = _load_pickle(path, trust_pickle)
        if isinstance(data, dict) and "ep_tdata" in data:
            return _mimic(data, path, -1)
        return _affect(data, path, "binary")
    raise ValueError(
        f"cannot tell what kind of data {path} holds; use .csv, .parquet, .pkl or a folder"
    )
