"""MATLAB ``.mat`` files of multi-view and cross-modal data sets, read with ``scipy.io.loadmat``.

Two layouts are common in the multi-view and cross-modal retrieval literature:

- a cell array ``X`` of views, each ``(N, d_v)``, with labels ``y`` (multi-view clustering and
  classification sets: Handwritten, Caltech101-7, MSRC, ...);
- separate train and test matrices per modality, ``<name>_tr`` / ``<name>_te``, with train and
  test labels, as in the Wikipedia image-text set (Rasiwasia et al., ACM MM 2010):
  ``I_tr``, ``I_te``, ``T_tr``, ``T_te`` (image and text features) and ``L_tr``, ``L_te``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import scipy.sparse

from intermodal.data.dataset import MultimodalDataset

LABEL_NAMES = ("y", "Y", "gt", "gnd", "truth", "label", "labels")
"""Names of the label variable in the cell-array layout, in order of preference (a name that
differs only in case is also accepted)."""

SPLIT_LABEL_KEYS = ("l", "y", "lab", "labels", "label", "gt", "gnd", "truth")
"""Names (case-insensitive) of a train/test pair that holds labels, e.g. ``L_tr``/``L_te``,
``tr_lab``/``te_lab``, ``train_labels``/``test_labels``, ``Y_tr``/``Y_te``."""

VIEW_CELL_NAMES = ("X", "x")

_PARTS = {"tr": "train", "train": "train", "te": "test", "test": "test"}
_SUFFIX = re.compile(r"^(?P<key>.+?)_(?P<part>tr|te|train|test)$", re.IGNORECASE)
_PREFIX = re.compile(r"^(?P<part>tr|te|train|test)_(?P<key>.+)$", re.IGNORECASE)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_mat(
    path: str | os.PathLike[str],
    views: Sequence[str] | None = None,
    name: str | None = None,
) -> MultimodalDataset:
    """A data set from a MATLAB ``.mat`` file (versions 4 to 7.2; v7.3 files are HDF5).

    Layouts:

    - **cell array of views**: a cell ``X`` of shape (1, V) or (V, 1) (or the only cell array of
      numeric matrices in the file) whose elements are the views, each ``(N, d_v)`` or its
      transpose ``(d_v, N)``; a view is transposed when its second dimension, not its first,
      equals the number of labels N (a square view, ``d_v == N``, is kept as stored). Labels
      are ``y`` (or ``Y``, ``gt``, ``gnd``, ``truth``, ``label``, ``labels``). The views are
      named ``view0``, ``view1``, ... in cell order.
    - **train/test matrices per modality**: pairs ``<name>_tr``/``<name>_te`` (or
      ``_train``/``_test``, or ``tr_<name>``/``te_<name>``, ``train_<name>``/``test_<name>``),
      e.g. ``I_tr``, ``I_te``, ``T_tr``, ``T_te``, with a pair of labels named ``L``, ``Y``,
      ``lab``, ``label``, ``labels``, ``gt``, ``gnd`` or ``truth`` (``L_tr``/``L_te``,
      ``tr_lab``/``te_lab``, ``train_labels``/``test_labels``, ...). Every other numeric pair is
      a modality named by its prefix (``I``, ``T``). Train rows come first, and
      ``metadata["split"]`` holds ``"train"``/``"test"`` per row, the file's own split. Each
      matrix may be stored transposed, as above.

    Sparse matrices become dense. Labels are a vector ((N,), (N, 1) or (1, N)) of integers,
    also stored as floats with integer values (MATLAB's 1-based labels are fine: the data set
    re-encodes them as 0..K-1), or a one-hot matrix (N, K) with exactly one 1 per row.

    Args:
        path: the ``.mat`` file.
        views: names for the modalities: in cell order for a cell array, in sorted prefix order
            for train/test pairs; as many names as modalities.
        name: the data set's name for reports, by default the file name without extension.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be read (corrupt, not a ``.mat`` file, or MATLAB v7.3), its
            layout is not one of the above, matrices do not line up with the labels, or
            ``views`` has the wrong length.
        KeyError: no label variable was found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    variables = _load(path)
    cell = _views_cell(variables, path)
    if cell is not None:
        modalities, targets, metadata = _read_cell_layout(variables, cell, path)
    elif _split_pairs(variables):
        modalities, targets, metadata = _read_split_layout(variables, path)
    else:
        raise ValueError(
            f"cannot tell the layout of {path}: expected a cell array X of views with labels y, "
            "or train/test pairs such as I_tr/I_te, T_tr/T_te with labels L_tr/L_te; it holds "
            f"{_describe(variables)}. Load it with scipy.io.loadmat and build the data set "
            "with intermodal.data.readers.from_arrays"
        )
    if views is not None:
        modalities = _rename(modalities, views, path)
    return MultimodalDataset(
        modalities, targets, metadata=metadata, name=path.stem if name is None else name
    )


def _load(path: Path) -> dict[str, Any]:
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes); save the data again with MATLAB's save")
    try:
        data = scipy.io.loadmat(path)
    except Exception as error:
        with path.open("rb") as stream:
            head = stream.read(520)
        if isinstance(error, NotImplementedError) or _HDF5_SIGNATURE in (head[:8], head[512:]):
            raise ValueError(
                f"{path} is a MATLAB v7.3 file, which is an HDF5 file that scipy cannot read; "
                "re-save it in MATLAB with save(filename, variables..., '-v7'), or read it with "
                "h5py and build the data set with intermodal.data.readers.from_arrays"
            ) from error
        if _is_text(head):
            raise ValueError(
                f"{path} is a text file, not MATLAB data; a CSV table needs the .csv extension, "
                "and a .mat file is written by MATLAB's save or scipy.io.savemat"
            ) from error
        raise ValueError(
            f"{path} is not a MATLAB .mat file that scipy can read ({type(error).__name__}: "
            f"{error}); check that the file is complete and was saved by MATLAB's save or "
            "scipy.io.savemat"
        ) from error
    return {key: value for key, value in data.items() if not key.startswith("__")}


def _is_text(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) is UTF-8 text without NUL bytes."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not merely a character cut at the end
            return False
    return b"\x00" not in head


def _describe(variables: dict[str, Any]) -> str:
    if not variables:
        return "no variables"
    parts = []
    for key, value in variables.items():
        shape = "x".join(str(s) for s in getattr(value, "shape", ()))
        kind = "cell" if _is_cell(value) else "sparse" if scipy.sparse.issparse(value) else ""
        parts.append(f"{key} ({kind + ' ' if kind else ''}{shape})")
    return "the variables " + ", ".join(parts)


def _is_cell(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == object


def _is_numeric(value: Any) -> bool:
    if scipy.sparse.issparse(value):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _dense(value: Any) -> np.ndarray:
    if scipy.sparse.issparse(value):
        sparse: Any = value  # a scipy.sparse matrix or array
        return np.asarray(sparse.toarray())
    return np.asarray(value)


def _views_cell(variables: dict[str, Any], path: Path) -> np.ndarray | None:
    """The cell array of views: ``X``, or the only cell array whose elements are matrices."""
    for key in VIEW_CELL_NAMES:
        if key in variables and _is_cell(variables[key]):
            return _check_cell(variables[key], key, path)
    cells = [
        key
        for key, value in variables.items()
        if _is_cell(value) and value.size > 0 and all(_is_numeric(v) for v in value.ravel())
    ]
    if len(cells) > 1:
        raise ValueError(
            f"{path} holds several cell arrays of matrices ({', '.join(cells)}); cannot tell "
            "which one holds the views: name it X, or load the file with scipy.io.loadmat"
        )
    return _check_cell(variables[cells[0]], cells[0], path) if cells else None


def _check_cell(cell: np.ndarray, key: str, path: Path) -> np.ndarray:
    if cell.ndim != 2 or min(cell.shape) != 1 or cell.size == 0:
        raise ValueError(
            f"the cell array {key} in {path} has shape {cell.shape}; a cell of views must be "
            "1 x V or V x 1"
        )
    views = cell.ravel()
    for index, view in enumerate(views):
        if not _is_numeric(view):
            raise ValueError(
                f"element {index} of the cell array {key} in {path} is not a numeric matrix "
                f"(got {type(view).__name__} of dtype {getattr(view, 'dtype', '?')})"
            )
    return views


def _find_labels(variables: dict[str, Any]) -> str | None:
    for key in LABEL_NAMES:
        if key in variables:
            return key
    lowered = {key.lower(): key for key in variables}
    for key in LABEL_NAMES:
        if key.lower() in lowered:
            return lowered[key.lower()]
    return None


def _labels(value: Any, what: str, path: Path) -> np.ndarray:
    """Integer class labels (N,) from a vector or a one-hot matrix."""
    if not _is_numeric(value):
        raise ValueError(
            f"the labels {what} in {path} are not numeric (got {type(value).__name__} of dtype "
            f"{getattr(value, 'dtype', '?')}); store integer class labels"
        )
    array = _dense(value)
    if array.ndim == 2 and min(array.shape) == 1:
        array = array.ravel()
    elif array.ndim == 2 and array.size > 0:
        one_hot = np.isin(array, (0, 1)).all() and (array.sum(axis=1) == 1).all()
        if not one_hot:
            raise ValueError(
                f"the labels {what} in {path} have shape {array.shape} but are not one-hot (one "
                "1 per row); store a label vector of shape (N,), (N, 1) or (1, N), or a "
                "one-hot matrix (N, K)"
            )
        array = array.argmax(axis=1)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"the labels {what} in {path} have shape {array.shape}; store a non-empty label "
            "vector of shape (N,), (N, 1) or (1, N), or a one-hot matrix (N, K)"
        )
    if array.dtype.kind == "f":
        integral = np.isfinite(array) & (array == np.round(array))
        if not integral.all():
            bad = array[~integral][:3].tolist()
            raise ValueError(
                f"the labels {what} in {path} are not integers (e.g. {bad}); store integer "
                "class labels (discretize a continuous target first)"
            )
        huge = np.abs(array) > 2**53
        if huge.any():
            raise ValueError(
                f"the labels {what} in {path} hold {array[huge][0].item()!r}, beyond 2**53, the "
                "largest magnitude at which a float holds every integer exactly; check the file "
                "for a corrupt value, or renumber the classes 1..K"
            )
    return array.astype(np.int64)


def _rows_first(value: Any, n: int) -> np.ndarray:
    """``value`` as (N, ...): transposed when only its second dimension equals ``n``."""
    array = _dense(value)
    if array.ndim == 2 and array.shape[0] != n and array.shape[1] == n:
        return np.ascontiguousarray(array.T)
    return array


def _check_rows(arrays: dict[str, np.ndarray], n: int, labels: str, path: Path) -> None:
    counts = {key: array.shape[0] if array.ndim else 0 for key, array in arrays.items()}
    if any(count != n for count in counts.values()):
        listed = ", ".join(
            f"{key} {count} (shape {arrays[key].shape})" for key, count in counts.items()
        )
        raise ValueError(
            f"the views in {path} have different numbers of rows: {listed}; the labels "
            f"{labels} have {n} entries, and every view needs one row (or, stored transposed, "
            "one column) per sample"
        )


def _read_cell_layout(
    variables: dict[str, Any], cell: np.ndarray, path: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, None]:
    label_key = _find_labels(variables)
    if label_key is None:
        raise KeyError(
            f"no label variable found in {path}: expected one of {', '.join(LABEL_NAMES)} next "
            f"to the cell array of views; it holds {_describe(variables)}"
        )
    targets = _labels(variables[label_key], label_key, path)
    n = len(targets)
    modalities = {f"view{index}": _rows_first(view, n) for index, view in enumerate(cell)}
    _check_rows(modalities, n, label_key, path)
    return modalities, targets, None


def _split_pairs(variables: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Key -> {"train": variable, "test": variable} for every complete train/test pair."""
    pairs: dict[str, dict[str, str]] = {}
    for variable in variables:
        match = _SUFFIX.match(variable) or _PREFIX.match(variable)
        if match:
            part = _PARTS[match["part"].lower()]
            pairs.setdefault(match["key"], {}).setdefault(part, variable)
    return {key: parts for key, parts in pairs.items() if len(parts) == 2}


def _read_split_layout(
    variables: dict[str, Any], path: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    pairs = _split_pairs(variables)
    label_keys = sorted(
        (key for key in pairs if key.lower() in SPLIT_LABEL_KEYS),
        key=lambda key: SPLIT_LABEL_KEYS.index(key.lower()),
    )
    if not label_keys:
        raise KeyError(
            f"no label variables found in {path}: expected a train/test pair such as "
            f"L_tr/L_te, tr_lab/te_lab or train_labels/test_labels; it holds "
            f"{_describe(variables)}"
        )
    label_pair = pairs[label_keys[0]]
    targets = {part: _labels(variables[v], v, path) for part, v in label_pair.items()}
    keys = [
        key
        for key in sorted(pairs)
        if key not in label_keys and all(_is_numeric(variables[v]) for v in pairs[key].values())
    ]
    if not keys:
        raise ValueError(
            f"{path} has train/test labels but no train/test pairs of numeric features; it "
            f"holds {_describe(variables)}"
        )
    parts: dict[str, dict[str, np.ndarray]] = {}
    for part in ("train", "test"):
        n = len(targets[part])
        arrays = {pairs[key][part]: _rows_first(variables[pairs[key][part]], n) for key in keys}
        _check_rows(arrays, n, label_pair[part], path)
        parts[part] = {key: arrays[pairs[key][part]] for key in keys}
    modalities: dict[str, np.ndarray] = {}
    for key in keys:
        train, test = parts["train"][key], parts["test"][key]
        if train.shape[1:] != test.shape[1:]:
            raise ValueError(
                f"modality {key!r} in {path} has per-sample shape {train.shape[1:]} in "
                f"{pairs[key]['train']} but {test.shape[1:]} in {pairs[key]['test']}; train "
                "and test must have the same features"
            )
        modalities[key] = np.concatenate([train, test])
    split = np.concatenate([np.full(len(targets[part]), part) for part in ("train", "test")])
    return modalities, np.concatenate([targets["train"], targets["test"]]), {"split": split}


def _rename(
    modalities: dict[str, np.ndarray], views: Sequence[str], path: Path
) -> dict[str, np.ndarray]:
    if isinstance(views, str):
        raise TypeError(f"views must be a list of names, got the string {views!r}")
    names = list(views)
    if len(names) != len(modalities):
        raise ValueError(
            f"views has {len(names)} names {names} but {path} holds {len(modalities)} "
            f"modalities ({', '.join(modalities)}); pass one name per modality, in that order"
        )
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"views must be distinct non-empty names, got {names}")
    return dict(zip(names, modalities.values(), strict=True))
