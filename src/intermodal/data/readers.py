"""Data connectors: arrays, data frames, CSV and Parquet files, image folders, MATLAB files, and the
data files that researchers have from MultiBench (Liang et al., NeurIPS 2021 Datasets and
Benchmarks) and from public CMU-MOSI utterance-level sentiment repositories."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from intermodal.data.dataset import ArrayLike, MultimodalDataset
from intermodal.data.mat import read_mat
from intermodal.data.tabular import check_column_types, dtype_type, looks_like_text, table_values
from intermodal.data.text import encode_texts
from intermodal.errors import DataTypeError, UnknownNameError


def from_arrays(
    modalities: Mapping[str, ArrayLike],
    targets: ArrayLike,
    masks: Mapping[str, ArrayLike] | None = None,
    kinds: Mapping[str, str] | None = None,
    split: Sequence[str] | None = None,
    name: str = "arrays",
    task: str | None = None,
) -> MultimodalDataset:
    """A data set from arrays of shape ``(N, ...)``; ``split`` (N,) of ``train``/``val``/``test``
    fixes the split that the benchmark uses; ``task`` as in :class:`MultimodalDataset`."""
    metadata = {"split": np.asarray(split)} if split is not None else None
    return MultimodalDataset(
        modalities, targets, masks=masks, kinds=kinds, metadata=metadata, name=name, task=task
    )


# --- data frames -----------------------------------------------------------------------------


def _target_columns(target: str | Sequence[str]) -> list[str]:
    columns = [target] if isinstance(target, str) else list(target)
    if not columns:
        raise ValueError("target names no columns; pass a column name or a list of columns")
    return columns


def _frame_targets(
    frame: pd.DataFrame, columns: list[str], task: str | None
) -> tuple[np.ndarray, str | None]:
    """The targets in ``columns`` and the task they imply when ``task`` is None: one float
    column is a regression target; several columns are multi-label when all 0/1, else several
    regression targets."""
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataTypeError(
            f"target columns {bad} are not numeric; map labels to integers first (e.g. with "
            "pandas.factorize)"
        )
    values: np.ndarray
    if len(columns) == 1:
        values = frame[columns[0]].to_numpy()
        if values.dtype.kind == "b":
            values = values.astype(np.int64)
        elif values.dtype.kind == "f" and task is None:
            task = "regression"
        return values, task
    values = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    if task is None:
        task = "multilabel" if np.isin(values, (0, 1)).all() else "regression"
    return values, task


def _is_missing(value: Any) -> bool:
    """True for a missing cell: None, NaN, ``pd.NA``, ``NaT``."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _is_text_column(column: pd.Series) -> bool:
    """True for a column of strings (missing cells allowed)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    return any(isinstance(value, str) for value in column.tolist())


def _row(frame: pd.DataFrame, position: int) -> str:
    label = frame.index[position]
    return f"row {position}" if label == position else f"row {position} (index {label!r})"


def _mask_column(frame: pd.DataFrame, key: str, column: str) -> np.ndarray:
    values = frame[column].to_numpy()
    if values.dtype.kind == "b":
        return values.astype(bool)
    numeric = values.dtype.kind in "iuf"
    valid = np.isin(values, (0, 1)) if numeric else np.zeros(len(values), dtype=bool)
    if not valid.all():
        position = int(np.flatnonzero(~valid)[0])
        raise ValueError(
            f"mask column {column!r} of modality {key!r} must hold True/False or 1/0 (1 where "
            f"the modality is present); {_row(frame, position)} holds {values[position]!r}"
        )
    return values.astype(bool)


def _vector_modality(
    frame: pd.DataFrame, key: str, columns: Sequence[str], mask_column: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """A vector modality and where it is present: from ``mask_column`` when given, otherwise
    absent where all of its columns are NaN."""
    if not columns:
        raise ValueError(f"modality {key!r} names no columns")
    columns = list(columns)
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataTypeError(f"modality {key!r}: columns {bad} are not numeric; encode them first")
    wide = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    huge = np.isfinite(wide) & (np.abs(wide) > np.finfo(np.float32).max)
    if huge.any():
        position, column = (int(i[0]) for i in np.nonzero(huge))
        raise ValueError(
            f"{_row(frame, position)}, column {columns[column]!r} (modality {key!r}): "
            f"{wide[position, column]:g} is beyond the range of float32 (about 3.4e+38), in "
            "which features are stored, and would become infinite; rescale the column (e.g. "
            "divide it by a power of ten or take a logarithm) or clip it"
        )
    values: np.ndarray = wide.astype(np.float32)
    nan = np.isnan(values)
    if mask_column is None:
        present = ~nan.all(axis=1)
    else:
        present = _mask_column(frame, key, mask_column)
    wrong = nan.any(axis=1) & present
    if wrong.any():
        position = int(np.flatnonzero(wrong)[0])
        empty = [c for c, missing in zip(columns, nan[position], strict=True) if missing]
        if mask_column is None:
            why = f"has NaN in columns {empty} but values in its other columns"
            fix = (
                "leave every column of the modality empty to mark it absent in that row, or "
                "read it as a table with missing cells (column_types={column: 'numeric'}, "
                "--column-types)"
            )
        else:
            why = f"is present by mask column {mask_column!r} but columns {empty} are NaN"
            fix = "mark the modality absent in that row"
        raise ValueError(f"{_row(frame, position)}: modality {key!r} {why}; impute them, or {fix}")
    return np.where(present[:, None], values, np.float32(0.0)), present


def _text_modality(
    frame: pd.DataFrame, key: str, column: str, mask_column: str | None
) -> tuple[Tensor, np.ndarray]:
    """A text modality from a column of strings and where it is present: from ``mask_column``
    when given, otherwise absent where the cell is missing or empty."""
    cells = frame[column].tolist()
    missing = np.array([_is_missing(cell) for cell in cells], dtype=bool)
    if mask_column is None:
        present = ~missing & np.array([cell != "" for cell in cells], dtype=bool)
    else:
        present = _mask_column(frame, key, mask_column)
        wrong = missing & present
        if wrong.any():
            raise ValueError(
                f"{_row(frame, int(np.flatnonzero(wrong)[0]))}: text modality {key!r} is present "
                f"by mask column {mask_column!r} but its text column {column!r} is empty; fill in "
                "the text, or mark the modality absent in that row"
            )
    if not present.any():
        raise ValueError(
            f"text column {column!r} (modality {key!r}) is empty in every row; fill in its "
            "texts or drop the modality"
        )
    texts = [cell if keep else "" for cell, keep in zip(cells, present, strict=True)]
    return encode_texts(texts, f"text column {column!r}"), present


def _tabular_groups(
    frame: pd.DataFrame, modalities: Mapping[str, Sequence[str]], types: Mapping[str, str]
) -> set[str]:
    """The modalities of ``modalities`` that are tables: those with a categorical column (by its
    data type or ``types``) or a column given a type in ``types``."""
    return {
        key
        for key, columns in modalities.items()
        if any(c in types or dtype_type(frame[c]) == "categorical" for c in columns)
    }


def _frame_modalities(
    frame: pd.DataFrame,
    modalities: Mapping[str, Sequence[str]],
    text: Mapping[str, str],
    masks: Mapping[str, str],
    types: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, str], dict[str, Any]]:
    """Values, presence masks, kinds and categories (of tabular modalities) of the vector,
    tabular and text modalities of ``frame``; ``types``: column -> its type (see
    :data:`~intermodal.data.tabular.COLUMN_TYPES`)."""
    types = dict(types or {})
    modalities = {
        key: [c for c in columns if types.get(c) != "ignore"] for key, columns in modalities.items()
    }
    texts_in = {
        c: key for key, columns in modalities.items() for c in columns if types.get(c) == "text"
    }
    if texts_in:
        column, key = next(iter(texts_in.items()))
        raise ValueError(
            f"column {column!r} is given the type text but belongs to modality {key!r}; a text "
            "column is a modality of its own: name it without a prefix (or pass text={...})"
        )
    tables = _tabular_groups(frame, modalities, types)
    both = sorted(set(modalities) & set(text))
    if both:
        raise ValueError(f"modalities {both} are named both in modalities and in text; rename one")
    unknown = sorted(set(masks) - set(modalities) - set(text))
    if unknown:
        raise UnknownNameError(
            f"masks names modalities {unknown} that are not defined; the modalities are "
            f"{sorted({*modalities, *text})}"
        )
    arrays: dict[str, Any] = {}
    present: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    categories: dict[str, Any] = {}
    for key, columns in modalities.items():
        if not columns:
            raise ValueError(f"modality {key!r} names no columns (all are ignored)")
        if key in tables:
            arrays[key], categories[key], cells = table_values(frame, key, columns, types)
            present[key] = cells if key not in masks else _mask_column(frame, key, masks[key])
            arrays[key][~present[key]] = 0.0
            kinds[key] = "tabular"
            continue
        arrays[key], present[key] = _vector_modality(frame, key, columns, masks.get(key))
        kinds[key] = "vector"
    for key, column in text.items():
        if not isinstance(column, str):
            raise DataTypeError(
                f"text modality {key!r} must name one column of strings, got {column!r}"
            )
        arrays[key], present[key] = _text_modality(frame, key, column, masks.get(key))
        kinds[key] = "text"
    return arrays, present, kinds, categories


def from_dataframe(
    frame: pd.DataFrame,
    modalities: Mapping[str, Sequence[str]] | None,
    target: str | Sequence[str],
    split: str | None = None,
    name: str = "dataframe",
    task: str | None = None,
    masks: Mapping[str, str] | None = None,
    text: Mapping[str, str] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> MultimodalDataset:
    """A data set of vector, tabular and text modalities from columns of ``frame``.

    Args:
        modalities: modality name -> its columns, e.g. ``{"audio": ["a0", "a1"],
            "tab": ["age", "city"]}``: a vector modality of numeric columns, or a ``tabular``
            one (see :mod:`intermodal.data.tabular`) when a column is categorical (its data
            type is ``object``, ``category``, ``string`` or ``bool``, or ``column_types`` says
            so) or any of its columns is named in ``column_types``.
        target: the target column, or a list of columns. One column of integers (or booleans)
            holds class labels, one float column a regression target (pass
            ``task="classification"`` for labels stored as floats); several columns are
            multi-label targets when they hold only 0/1, otherwise several regression targets.
        split: optional column of ``train``/``val``/``test`` that fixes the split.
        task: ``classification``, ``multilabel`` or ``regression``, overriding the above.
        masks: optional modality name -> a column of True/False (or 1/0) that says where the
            modality is present; its values where absent may be anything, NaN included, and are
            set to 0. Mask columns are not features.
        text: optional modality name -> one column of strings, e.g. ``{"caption": "caption"}``;
            that modality is a ``text`` modality.
        column_types: optional column -> ``numeric``, ``categorical``, ``text`` or ``ignore``
            (as AutoGluon's ``column_types``), overriding the type its data type gives; a
            column of a tabular modality may not be ``text``; ``ignore`` drops it.

    Missing values: without a mask column, a row where every column of a modality is NaN (or,
    for text, the cell is NaN or empty) has that modality absent (mask False, values 0 or
    ``''``); a row with NaN in only some of a vector modality's columns is an error (impute them, or
    read the modality as a table). In a tabular modality a missing cell is a missing cell, not
    a missing modality: the modality is absent only in rows where all its cells are missing. A
    row with every modality absent is an error.
    """
    types = check_column_types(column_types or {}, list(frame.columns))
    modalities = dict(modalities or {})
    text = dict(text or {})
    masks = dict(masks or {})
    if not modalities and not text:
        raise ValueError("name at least one modality: pass modalities={...} or text={...}")
    targets = _target_columns(target)
    wanted = [
        *(c for columns in modalities.values() for c in columns),
        *(c for c in text.values() if isinstance(c, str)),
        *masks.values(),
        *targets,
        *([split] if split else []),
    ]
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise UnknownNameError(
            f"columns {missing} are not in the data frame (it has {list(frame.columns)[:20]})"
        )
    leaked = {
        key: column
        for key, columns in [*modalities.items(), *((k, [c]) for k, c in text.items())]
        for column in columns
        if column in targets
    }
    if leaked:
        raise ValueError(
            f"modalities {sorted(leaked)} hold target columns {sorted(set(leaked.values()))}; a "
            "target can never also be an input (a model would read the answer): take it out of "
            "the modalities"
        )
    values, task = _frame_targets(frame, targets, task)
    arrays, present, kinds, categories = _frame_modalities(frame, modalities, text, masks, types)
    metadata = {"split": frame[split].astype(str).to_numpy()} if split else None
    kept = {k: [c for c in v if types.get(c) != "ignore"] for k, v in modalities.items()}
    return MultimodalDataset(
        arrays,
        values,
        masks=present,
        kinds=kinds,
        metadata=metadata,
        name=name,
        task=task,
        features=feature_names(kept),
        target_names=targets,
        categories=_feature_categories(categories),
    )


def _feature_categories(categories: Mapping[str, Mapping[str, list[str]]]) -> dict[str, Any]:
    """Categories by column as categories by feature name (see :func:`feature_name`)."""
    return {
        key: {feature_name(key, c): names for c, names in columns.items()}
        for key, columns in categories.items()
    }


def feature_name(modality: str, column: str) -> str:
    """The name of the feature in ``column`` of ``modality``: the column's name without the
    ``<modality>.`` prefix (``fou.3`` -> ``3``), or the whole name without one."""
    prefix = f"{modality}."
    return column[len(prefix) :] if column.startswith(prefix) else column


def feature_names(modalities: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The feature names of vector modalities given by their columns (see :func:`feature_name`)."""
    return {
        key: [feature_name(key, str(c)) for c in columns] for key, columns in modalities.items()
    }


TABLE = "tabular"
"""The modality of a table's columns that have no modality prefix and are given a numeric or
categorical type in ``column_types``."""


def _modalities_by_prefix(
    frame: pd.DataFrame, excluded: set[str], types: Mapping[str, str] | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Columns named ``<modality>.<feature>`` grouped by modality, and text modalities, each
    named after its column: a column of strings without a prefix, a prefixed one that
    :func:`~intermodal.data.tabular.looks_like_text` (long strings, many distinct), or one typed
    ``text``. A column without a prefix typed ``numeric`` or ``categorical`` joins the modality
    ``tabular``. Columns in ``excluded`` or typed ``ignore`` are skipped."""
    types = types or {}
    groups: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    for column in frame.columns:
        name = str(column)
        given = types.get(name)
        if column in excluded or given == "ignore":
            continue
        key, dot, _ = name.partition(".")
        strings = _is_text_column(frame[column])
        if given == "text" or (
            given is None and strings and (not dot or looks_like_text(frame[column]))
        ):
            text[name] = name
        elif dot:
            groups.setdefault(key, []).append(name)
        elif given is not None:
            groups.setdefault(TABLE, []).append(name)
        else:
            raise ValueError(
                f"column {column!r} has no modality prefix; name feature columns "
                "'<modality>.<feature>' (a column of strings named '<modality>' is a text "
                f"modality), give it a type (column_types={{{name!r}: 'numeric'}}, "
                f"--column-types {name}=numeric: a column of the modality 'tabular') or pass "
                "modalities={...}"
            )
    clash = sorted(set(groups) & set(text))
    if clash:
        raise ValueError(
            f"{clash} name both a text column and feature columns '<modality>.<feature>'; "
            "rename one"
        )
    return groups, text


def table_modalities(
    frame: pd.DataFrame, excluded: set[str], column_types: Mapping[str, str] | None = None
) -> tuple[
    dict[str, Any], dict[str, np.ndarray], dict[str, str], dict[str, list[str]], dict[str, Any]
]:
    """Values, presence masks, kinds, feature names and categories (of tabular modalities) of
    the modalities of a table named as :func:`from_csv` reads them (``<modality>.<feature>``
    columns, columns of text as text modalities), the columns in ``excluded`` (targets, ids)
    aside; ``column_types`` as in :func:`from_dataframe` (columns the table lacks are left
    out: a model's schema says which columns it needs)."""
    types = {str(c): t for c, t in (column_types or {}).items() if c in frame.columns}
    types = check_column_types(types, list(frame.columns))
    groups, text = _modalities_by_prefix(frame, excluded, types)
    if not groups and not text:
        raise ValueError(
            f"the table has no modality columns (its columns: {list(frame.columns)[:20]}); name "
            "feature columns '<modality>.<feature>'"
        )
    arrays, present, kinds, categories = _frame_modalities(frame, groups, text, {}, types)
    return arrays, present, kinds, feature_names(groups), _feature_categories(categories)


def _from_file(
    frame: pd.DataFrame,
    path: Path,
    modalities: Mapping[str, Sequence[str]] | None,
    target: str | Sequence[str],
    split: str | None,
    task: str | None,
    masks: Mapping[str, str] | None,
    text: Mapping[str, str] | None,
    column_types: Mapping[str, str] | None = None,
) -> MultimodalDataset:
    split = split or ("split" if "split" in frame.columns else None)
    types = check_column_types(column_types or {}, list(frame.columns))
    if modalities is None:
        excluded = {
            *_target_columns(target),
            *([split] if split else []),
            *(masks or {}).values(),
            *(c for c in (text or {}).values() if isinstance(c, str)),
            ID_COLUMN,
        }
        modalities, found = _modalities_by_prefix(frame, excluded, types)
        text = {**found, **(text or {})}
        named = sorted(set(modalities) & set(_target_columns(target)))
        if named:
            columns = [c for key in named for c in modalities[key]]
            raise ValueError(
                f"{path}: columns {columns[:5]} form a modality named {named[0]!r}, the name of "
                "the target column; a target (or a copy of it) can never also be an input: "
                "drop those columns or give them another modality prefix"
            )
    dataset = from_dataframe(
        frame,
        modalities,
        target,
        split,
        name=path.stem,
        task=task,
        masks=masks,
        text=text,
        column_types={c: t for c, t in types.items() if t != "text"},
    )
    if ID_COLUMN in frame.columns and ID_COLUMN not in dataset.metadata:
        dataset.metadata[ID_COLUMN] = frame[ID_COLUMN].to_numpy()
    return dataset


ID_COLUMN = "id"
"""A table's column of sample ids: kept as metadata (and beside predictions), never a modality."""


_SIGNATURES = (
    (b"PAR1", "a Parquet file", "give it the .parquet extension"),
    (b"PK\x03\x04", "a zip archive (or an Excel workbook)", "export the table as CSV"),
    (b"\x1f\x8b", "gzip-compressed", "give it the .csv.gz extension"),
    (b"\x93NUMPY", "a NumPy .npy array", "load it with numpy.load and use from_arrays"),
    (b"\x89HDF", "an HDF5 file", "read it with h5py and use from_arrays"),
    (b"MATLAB", "a MATLAB file", "give it the .mat extension"),
)
"""Leading bytes of binary formats: what the file is, and what to do with it."""


def _looks_like(path: Path) -> str:
    """What the first bytes of ``path`` suggest it holds, and what to do, or ''."""
    try:
        with path.open("rb") as stream:
            head = stream.read(8)
    except OSError:
        return ""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            "; it looks like a pickle: save the table with DataFrame.to_csv or to_parquet, "
            "or, for MultiBench's pickles, give it the .pkl extension (read only with "
            "trust_pickle=True, --trust-pickle)"
        )
    for signature, kind, fix in _SIGNATURES:
        if head.startswith(signature):
            return f"; it looks like {kind}: {fix}"
    return ""


def _local_file(path: str | os.PathLike[str]) -> Path | None:
    """``path`` as a local file, or None for a URL or anything pandas opens by itself."""
    local = Path(path)
    if not local.exists() and "://" not in str(path):
        raise FileNotFoundError(f"{path} does not exist")
    return local if local.is_file() else None


def _read_csv(
    path: str | os.PathLike[str], need_rows: bool = True, **read_options: Any
) -> pd.DataFrame:
    """``pandas.read_csv`` with errors that name the file: empty, no rows, not a text CSV."""
    local = _local_file(path)
    try:
        frame = pd.read_csv(path, **read_options)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty: it has no header line and no rows; a CSV data set needs a header "
            "of column names and one row per sample"
        ) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as error:
        hint = _looks_like(local) if local else ""
        raise ValueError(
            f"{path} cannot be read as a CSV text file ({type(error).__name__}: {error})"
            + (hint or "; save it as a UTF-8 CSV file with a header line")
        ) from None
    if need_rows and len(frame) == 0:
        raise ValueError(
            f"{path} has a header ({len(frame.columns)} columns) but no rows; add one row per "
            "sample"
        )
    if "names" not in read_options and read_options.get("header", "infer") in ("infer", 0):
        options = {k: v for k, v in read_options.items() if k in _HEADER_OPTIONS}
        header = pd.read_csv(
            path, header=None, nrows=1, dtype=str, keep_default_na=False, **options
        )
        _refuse_duplicates(path, [str(name) for name in header.iloc[0]] if len(header) else [])
    return frame


_HEADER_OPTIONS = (
    "sep",
    "delimiter",
    "skiprows",
    "comment",
    "encoding",
    "encoding_errors",
    "compression",
    "quotechar",
    "quoting",
    "doublequote",
    "escapechar",
    "skipinitialspace",
    "lineterminator",
    "dialect",
    "engine",
)
"""The options of ``pandas.read_csv`` that decide how its header line is read."""


def _refuse_duplicates(path: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Refuse a header that names a column more than once (pandas would keep the copies as
    ``name.1``, ..., a copy of the target as a modality named after it), naming each with its
    positions (1-based)."""
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        if name:
            seen.setdefault(name, []).append(position)
    twice = {name: places for name, places in seen.items() if len(places) > 1}
    if twice:
        listed = "; ".join(
            f"{name!r} (columns {', '.join(map(str, places))})" for name, places in twice.items()
        )
        first = next(iter(twice))
        raise ValueError(
            f"{path} names columns more than once: {listed}; pandas would keep each copy under "
            f"another name ({first + '.1'!r}) as a column of its own (a copy of the target as an "
            "input): give each column its own name, or drop the copies"
        )


def from_csv(
    path: str | os.PathLike[str],
    modalities: Mapping[str, Sequence[str]] | None = None,
    target: str | Sequence[str] = "target",
    split: str | None = None,
    task: str | None = None,
    masks: Mapping[str, str] | None = None,
    text: Mapping[str, str] | None = None,
    column_types: Mapping[str, str] | None = None,
    **read_options: Any,
) -> MultimodalDataset:
    """A data set from a CSV file (see :func:`from_dataframe`; empty cells are NaN).

    Without ``modalities``, feature columns must be named ``<modality>.<feature>``: a modality
    of numeric columns is a vector, one with a categorical column (strings, booleans) a table
    (``tabular``, see :mod:`intermodal.data.tabular`). A column of strings named
    ``<modality>`` (no dot) is a text modality of that name, and so is a prefixed column of
    text (strings of several words, many of them distinct), named after its column.
    ``column_types`` (column -> ``numeric``, ``categorical``, ``text`` or
    ``ignore``) overrides the types that the data types give (pandas reads a column whose
    values all look like numbers as numbers: ``{"tab.zip": "categorical"}`` keeps it
    categorical); a modality with a typed column is a table. A ``split`` column is used if
    present; a column ``id`` holds sample ids (metadata ``id``, never a modality).
    ``read_options`` go to ``pandas.read_csv``.
    """
    frame = _read_csv(path, **read_options)
    return _from_file(frame, Path(path), modalities, target, split, task, masks, text, column_types)


def _parquet_names(path: Path) -> list[str]:
    """The column names in a Parquet file's schema, as written (none when it cannot be read:
    reading the file says what is wrong)."""
    try:
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from error
    try:
        return [str(name) for name in pyarrow.parquet.read_schema(path).names]
    except (ValueError, OSError):
        return []


def from_parquet(
    path: str | os.PathLike[str],
    modalities: Mapping[str, Sequence[str]] | None = None,
    target: str | Sequence[str] = "target",
    split: str | None = None,
    task: str | None = None,
    masks: Mapping[str, str] | None = None,
    text: Mapping[str, str] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> MultimodalDataset:
    """A data set from a Parquet file (needs ``pyarrow``), as :func:`from_csv`."""
    frame = read_parquet_frame(path)
    return _from_file(frame, Path(path), modalities, target, split, task, masks, text, column_types)


def read_parquet_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``pandas.read_parquet`` with errors that name the file: empty, no rows, not Parquet."""
    local = _local_file(path)
    if local is not None and local.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes); write the data set with DataFrame.to_parquet")
    if local is not None:  # duplicated names (pandas cannot read them) are named first
        _refuse_duplicates(path, _parquet_names(local))
    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from error
    except (ValueError, OSError) as error:
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        hint = _looks_like(local) if local else ""
        if "a Parquet file" in hint:  # it is one, with the right extension
            hint = ""
        raise ValueError(
            f"{path} is not a readable Parquet file ({type(error).__name__}: {error})"
            + (hint or "; check that the file is complete and was written as Parquet")
        ) from None
    if len(frame) == 0:
        raise ValueError(
            f"{path} has columns ({len(frame.columns)}) but no rows; add one row per sample"
        )
    return frame


# --- image folders ---------------------------------------------------------------------------


def _read_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert("L" if opened.mode in ("1", "L", "I", "F") else "RGB")
        if size:
            image = image.resize((size[1], size[0]))
        pixels = np.asarray(image, dtype=np.float32) / 255.0
    except OSError as error:
        raise ValueError(f"{path} is not a readable image ({error})") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def read_image_folder(
    csv_path: str | os.PathLike[str],
    image_column: str = "image",
    target: str | Sequence[str] = "target",
    image_root: str | os.PathLike[str] | None = None,
    size: tuple[int, int] | None = None,
    text_columns: Sequence[str] | None = None,
    task: str | None = None,
    column_types: Mapping[str, str] | None = None,
) -> MultimodalDataset:
    """Images listed in a CSV file, with the file's other columns as further modalities.

    - ``image``: the files in ``image_column`` (paths relative to ``image_root``, default the
      CSV's folder) as ``(N, C, H, W)`` in [0, 1], read with Pillow; ``size`` (H, W) resizes
      them, otherwise all must share one size. An empty cell marks the image absent in that row
      (mask False, zeros); a path that is given but whose file does not exist is an error, so a
      misspelt name is never dropped silently.
    - text modalities: columns of strings other than the image, target and ``split`` columns,
      each named after its column (``text_columns`` restricts which; by default every column of
      strings). An empty cell marks the text absent in that row.
    - ``tabular``: every numeric column other than the target and ``split`` as one vector
      modality (a row where all are empty has it absent); with a categorical column (one
      typed so in ``column_types``, or one of booleans) a table (kind ``tabular``).

    ``target`` and ``task`` as in :func:`from_dataframe`; ``column_types`` as there (a column
    typed ``text`` is a text column, ``categorical`` or ``numeric`` one of ``tabular``); a
    ``split`` column is kept.
    """
    frame = _read_csv(csv_path)
    types = check_column_types(column_types or {}, list(frame.columns))
    targets = _target_columns(target)
    for column in (image_column, *targets, *(text_columns or ())):
        if column not in frame.columns:
            raise UnknownNameError(
                f"{csv_path} has no column {column!r}; its columns are {list(frame.columns)}"
            )
    reserved = {image_column, *targets, "split"}
    if text_columns is not None and reserved & set(text_columns):
        raise ValueError(
            f"text_columns {sorted(reserved & set(text_columns))} are the image, target or split "
            "columns"
        )
    root = Path(image_root) if image_root else Path(csv_path).parent
    images: list[np.ndarray | None] = []
    for cell in frame[image_column].tolist():
        if _is_missing(cell) or not str(cell).strip():
            images.append(None)
            continue
        path = root / str(cell)
        if not path.is_file():
            raise FileNotFoundError(
                f"image {path} (listed in {csv_path}) does not exist; leave the cell empty to "
                "mark an image absent"
            )
        images.append(_read_image(path, size))
    loaded = [image for image in images if image is not None]
    if not loaded:
        raise ValueError(f"{csv_path}: the {image_column!r} column is empty in every row")
    shapes = sorted({image.shape for image in loaded})
    if len(shapes) > 1:
        raise ValueError(f"images have different shapes {shapes[:3]}; pass size=(H, W)")
    blank = np.zeros(shapes[0], dtype=np.float32)
    others = [c for c in frame.columns if c not in reserved and types.get(c) != "ignore"]
    if text_columns is None:
        text_columns = [
            c
            for c in others
            if types.get(c) == "text" or (c not in types and _is_text_column(frame[c]))
        ]
    numeric = [
        c
        for c in others
        if c not in text_columns
        and (
            types.get(c) in ("numeric", "categorical")
            or (c not in types and dtype_type(frame[c]) == "numeric")
            or (c not in types and pd.api.types.is_bool_dtype(frame[c]))
        )
    ]
    clash = sorted({"image", "tabular"} & set(text_columns))
    if clash:
        raise ValueError(f"text columns {clash} clash with the image and tabular modalities")
    values, task = _frame_targets(frame, targets, task)
    kept = {c: t for c, t in types.items() if c in numeric}
    modalities, present, kinds, categories = _frame_modalities(
        frame, {"tabular": numeric} if numeric else {}, {c: c for c in text_columns}, {}, kept
    )
    modalities["image"] = np.stack([blank if image is None else image for image in images])
    present["image"] = np.array([image is not None for image in images])
    kinds["image"] = "image"
    metadata = (
        {"split": frame["split"].astype(str).to_numpy()} if "split" in frame.columns else None
    )
    return MultimodalDataset(
        modalities,
        values,
        masks=present,
        kinds=kinds,
        metadata=metadata,
        name=Path(csv_path).stem,
        task=task,
        features=feature_names({"tabular": numeric} if numeric else {}),
        target_names=targets,
        categories=_feature_categories(categories),
    )


# --- pickles ---------------------------------------------------------------------------------


def _load_pickle(path: Path, trust_pickle: bool) -> Any:
    """The object pickled in ``path``, only with ``trust_pickle``.

    Pickles written by Python 2, as many public research files were, load too. Python 2's
    ``str`` is bytes: its text and the raw data of its NumPy arrays are read as latin-1, which
    maps each byte to one character, so NumPy rebuilds every array bit for bit and text keys
    come back as ``str`` (Python 2 ``unicode`` comes back as it was). Dictionary keys that are
    ``bytes`` (a file pickled again after loading it with ``encoding="bytes"``) are decoded as
    latin-1 too, where no ``str`` key is spelled the same, so every reader finds its keys.
    """
    if not trust_pickle:
        raise PermissionError(
            f"{path} is a pickle file, and loading a pickle can run arbitrary code; load it only "
            "if you trust its source, with trust_pickle=True (--trust-pickle)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with path.open("rb") as stream:
        return _text_keys(pickle.load(stream, encoding="latin1"))


def _text_keys(data: Any) -> Any:
    """``data`` with the ``bytes`` keys of its (nested) dicts decoded as latin-1, unless that
    would merge two keys."""
    if not isinstance(data, dict):
        return data
    decoded = {
        key.decode("latin-1") if isinstance(key, bytes) else key: _text_keys(value)
        for key, value in data.items()
    }
    return decoded if len(decoded) == len(data) else data


def _finite(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    return np.where(np.isfinite(array), array, 0.0)


AFFECT_SPLITS = {"train": "train", "valid": "val", "test": "test"}
AFFECT_TASKS = ("binary", "7class", "regression")


def read_affect_pickle(
    path: str | os.PathLike[str], trust_pickle: bool = False, task: str = "binary"
) -> MultimodalDataset:
    """A MultiBench affect pickle (CMU-MOSI, CMU-MOSEI, MUStARD, UR-FUNNY).

    Format: a dict with ``train``, ``valid`` and ``test``, each a dict of ``vision`` (N, T, Dv),
    ``audio`` (N, T, Da), ``text`` (N, T, Dt) and ``labels`` (N, ...) sentiment scores or
    classes (the first label column is used). The three modalities become sequence modalities;
    the split is kept.

    Scattered non-finite feature values, which these files contain, are set to 0. A modality
    whose (T, D) block of a sample holds no finite nonzero value is absent in that sample
    (mask False): in these files an all-zero block is padding only, with no features.

    Args:
        task: ``binary`` (label > 0 is class 1: positive sentiment, sarcasm or humour),
            ``7class`` (sentiment rounded and clipped to -3..3, classes 0..6) or ``regression``
            (the sentiment scores as floats).
    """
    return _affect(_load_pickle(Path(path), trust_pickle), Path(path), task)


def _affect(data: Any, path: Path, task: str) -> MultimodalDataset:
    if not isinstance(data, dict) or not set(AFFECT_SPLITS) <= set(data):
        raise ValueError(
            f"{path} is not a MultiBench affect pickle: expected keys {sorted(AFFECT_SPLITS)}"
        )
    if task not in AFFECT_TASKS:
        raise ValueError(f"task must be one of {list(AFFECT_TASKS)}, got {task!r}")
    names = ("vision", "audio", "text")
    values: dict[str, list[np.ndarray]] = {m: [] for m in names}
    present: dict[str, list[np.ndarray]] = {m: [] for m in names}
    labels: list[np.ndarray] = []
    splits: list[np.ndarray] = []
    for key, split in AFFECT_SPLITS.items():
        part = data[key]
        missing = [k for k in (*names, "labels") if k not in part]
        if missing:
            raise ValueError(f"{path}: the {key!r} split lacks {missing}")
        for modality in names:
            array = _finite(part[modality])
            values[modality].append(array)
            present[modality].append(np.asarray(array.reshape(len(array), -1).any(axis=1)))
        scores = np.asarray(part["labels"], dtype=np.float64)
        labels.append(scores.reshape(len(scores), -1)[:, 0])
        splits.append(np.full(len(scores), split))
    scores = np.concatenate(labels)
    targets: np.ndarray
    if task == "regression":
        targets = scores
    elif task == "binary":
        targets = (scores > 0).astype(np.int64)
    else:
        targets = np.clip(np.round(scores), -3, 3).astype(np.int64) + 3
    return MultimodalDataset(
        {m: np.concatenate(values[m]) for m in names},
        targets,
        masks={m: np.concatenate(present[m]) for m in names},
        kinds=dict.fromkeys(names, "sequence"),
        metadata={"split": np.concatenate(splits)},
        name=path.stem,
        task="regression" if task == "regression" else "classification",
    )


UTTERANCE_MODALITIES = ("text", "audio", "video")
UTTERANCE_SPLITS = ("train", "test")


def read_sentiment_utterances(
    path: str | os.PathLike[str],
    trust_pickle: bool = False,
    task: str = "binary",
    name: str | None = None,
) -> MultimodalDataset:
    """Utterance-level CMU-MOSI features as public sentiment repositories share them.

    Format: a pickled dict with ``text_train``, ``audio_train``, ``video_train``, ``text_test``,
    ``audio_test`` and ``video_test``, arrays of shape ``(videos, utterances, features)``;
    ``train_mask`` and ``test_mask`` ``(videos, utterances)``, 1 for a real utterance and 0 for
    padding; ``train_label`` and ``test_label`` ``(videos, utterances, 2)``, one-hot of
    (negative, positive).

    Every real utterance is a sample with three vector modalities ``text``, ``audio`` and
    ``video`` (non-finite feature values set to 0) and its class, 0 negative or 1 positive;
    padding slots are dropped. Metadata: ``split`` (``train``/``test``, the file's own split),
    ``video`` (``"train-3"``, ``"test-0"``: unique across splits), ``group`` (the same values,
    so that :func:`intermodal.data.splits.split_dataset` draws the validation part by video and
    keeps all utterances of a video on one side) and ``utterance`` (the slot in its video).

    Args:
        task: ``binary``, the only task: these files hold only each utterance's polarity, not a
            sentiment score (for scores read MultiBench's affect pickle with
            :func:`read_affect_pickle` and ``task="regression"``).
        name: the data set's name, by default the file name without extension.
    """
    path = Path(path)
    return _utterances(_load_pickle(path, trust_pickle), path, task, name)


def _is_utterance_pickle(data: Any) -> bool:
    return isinstance(data, dict) and "train_mask" in data and "text_train" in data


def _utterances(data: Any, path: Path, task: str, name: str | None) -> MultimodalDataset:
    if task != "binary":
        raise ValueError(
            f"task must be 'binary', got {task!r}: utterance feature pickles hold only the "
            "polarity of each utterance (one-hot negative/positive), not a sentiment score; for "
            "scores use read_affect_pickle(path, task='regression') on MultiBench's file"
        )
    keys = [f"{m}_{s}" for s in UTTERANCE_SPLITS for m in UTTERANCE_MODALITIES] + [
        f"{s}_{k}" for s in UTTERANCE_SPLITS for k in ("mask", "label")
    ]
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an utterance feature pickle: expected a dict of {keys}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(
            f"{path} is not an utterance feature pickle: it lacks {missing} (expected {keys})"
        )
    values: dict[str, list[np.ndarray]] = {m: [] for m in UTTERANCE_MODALITIES}
    targets: list[np.ndarray] = []
    metadata: dict[str, list[np.ndarray]] = {"split": [], "video": [], "utterance": []}
    for split in UTTERANCE_SPLITS:
        mask = np.asarray(data[f"{split}_mask"])
        if mask.ndim != 2:
            raise ValueError(
                f"{path}: {split}_mask must have shape (videos, utterances), got {mask.shape}"
            )
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(
                f"{path}: {split}_mask must hold 1 (a real utterance) or 0 (padding) only"
            )
        keep = mask.astype(bool)
        for modality in UTTERANCE_MODALITIES:
            array = np.asarray(data[f"{modality}_{split}"])
            if array.ndim != 3 or array.shape[:2] != mask.shape:
                raise ValueError(
                    f"{path}: {modality}_{split} has shape {array.shape} but {split}_mask has "
                    f"shape {mask.shape}; expected {(*mask.shape, 'features')}: videos and "
                    "utterances must agree across modalities, labels and masks"
                )
            if values[modality] and values[modality][0].shape[1] != array.shape[2]:
                raise ValueError(
                    f"{path}: {modality}_{split} has {array.shape[2]} features but "
                    f"{modality}_train has {values[modality][0].shape[1]}; the splits must have "
                    "the same features"
                )
            values[modality].append(_finite(array[keep]))
        label = np.asarray(data[f"{split}_label"])
        if label.shape != (*mask.shape, 2):
            raise ValueError(
                f"{path}: {split}_label has shape {label.shape} but {split}_mask has shape "
                f"{mask.shape}; expected {(*mask.shape, 2)} (one-hot of negative, positive)"
            )
        onehot = label[keep]
        valid = np.isin(onehot, (0, 1)).all(axis=1) & (onehot.sum(axis=1) == 1)
        if not valid.all():
            video, slot = (int(i[~valid][0]) for i in np.nonzero(keep))
            raise ValueError(
                f"{path}: {split}_label of video {video}, utterance {slot} is "
                f"{onehot[~valid][0].tolist()}, not one-hot; a real utterance needs [1, 0] "
                "(negative) or [0, 1] (positive)"
            )
        targets.append(onehot.argmax(axis=1))
        videos, slots = np.nonzero(keep)
        metadata["split"].append(np.full(len(videos), split))
        metadata["video"].append(np.array([f"{split}-{v}" for v in videos], dtype=str))
        metadata["utterance"].append(slots)
    if not sum(len(t) for t in targets):
        raise ValueError(f"{path}: the masks mark no real utterance")
    columns = {key: np.concatenate(parts) for key, parts in metadata.items()}
    columns["group"] = columns["video"]
    return MultimodalDataset(
        {m: np.concatenate(values[m]) for m in UTTERANCE_MODALITIES},
        np.concatenate(targets).astype(np.int64),
        kinds=dict.fromkeys(UTTERANCE_MODALITIES, "vector"),
        metadata=columns,
        name=path.stem if name is None else name,
        task="classification",
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
    path: str | os.PathLike[str], trust_pickle: bool = False, task: int | str = -1
) -> MultimodalDataset:
    """MultiBench's MIMIC-III pickle (``im.pk``): ``adm_features_all`` (N, 5) static patient
    information and ``ep_tdata`` (N, 24, 12) hourly measurements (or flattened, N x 288).

    Args:
        task: ``-1``: 6-way mortality, ``adm_labels_all[:, 1]`` (classification); ``0`` to
            ``19``: one ICD-9 group, ``y_icd9[:, task]`` (binary classification);
            ``"phenotypes"``: all 20 ICD-9 groups, ``y_icd9`` (N, 20) (multi-label).

    MultiBench splits it at random, so the benchmark's own split is used.
    """
    return _mimic(_load_pickle(Path(path), trust_pickle), Path(path), task)


def _mimic(data: Any, path: Path, task: int | str) -> MultimodalDataset:
    keys = {"adm_features_all", "ep_tdata", "adm_labels_all", "y_icd9"}
    if not isinstance(data, dict) or not keys <= set(data):
        raise ValueError(f"{path} is not a MultiBench MIMIC pickle: expected keys {sorted(keys)}")
    icd9 = np.asarray(data["y_icd9"])
    if icd9.ndim != 2:
        raise ValueError(f"{path}: y_icd9 must have shape (N, groups), got {icd9.shape}")
    if isinstance(task, str) and task.lstrip("-").isdigit():
        task = int(task)
    if task == "phenotypes":
        labels, kind = icd9, "multilabel"
    elif isinstance(task, int) and not isinstance(task, bool) and -1 <= task < icd9.shape[1]:
        labels = np.asarray(data["adm_labels_all"])[:, 1] if task == -1 else icd9[:, task]
        kind = "classification"
    else:
        raise ValueError(
            f"task must be -1 (6-way mortality), 0..{icd9.shape[1] - 1} (one ICD-9 group) or "
            f"'phenotypes' (all ICD-9 groups, multi-label), got {task!r}"
        )
    series = _finite(data["ep_tdata"])
    series = series.reshape(len(series), 24, -1)
    return MultimodalDataset(
        {"static": _finite(data["adm_features_all"]), "timeseries": series},
        labels,
        kinds={"static": "vector", "timeseries": "sequence"},
        name="mimic",
        task=kind,
    )


def read_path(
    path: str | os.PathLike[str],
    trust_pickle: bool = False,
    task: str | None = None,
    column_types: Mapping[str, str] | None = None,
) -> MultimodalDataset:
    """Load a data set from a file or folder, by its kind: ``.csv``, ``.parquet``, ``.mat``
    (:func:`intermodal.data.mat.read_mat`), a CSV listing image files in an ``image`` column
    (:func:`read_image_folder`), a pickle (``.pkl``/``.pk``/``.pickle``, with
    ``trust_pickle``) of MultiBench's MIMIC or affect data or of utterance-level sentiment
    features (:func:`read_sentiment_utterances`), or an AV-MNIST folder.

    ``task`` chooses the target where a file holds several: a MultiBench affect pickle gives
    sentiment polarity (``classification``, the default) or the scores (``regression``); a
    MIMIC pickle the 6-way mortality (``classification``) or the 20 phenotypes
    (``multilabel``); for CSV and Parquet files it is passed on (otherwise inferred).

    ``column_types`` (column -> ``numeric``, ``categorical``, ``text``, ``ignore``) reaches the
    readers of tables (:func:`from_csv`, :func:`from_parquet`, :func:`read_image_folder`); other
    files have no columns to type, and giving it for one is an error."""
    path = Path(path)
    suffix = path.suffix.lower()
    if column_types and (path.is_dir() or suffix not in (".csv", ".parquet")):
        raise ValueError(
            f"column types apply to CSV and Parquet tables; {path} is not one (leave out "
            "column_types, --column-types)"
        )
    if path.is_dir():
        return read_avmnist(path)
    if suffix == ".csv":
        if "image" in _read_csv(path, need_rows=False, nrows=0).columns:
            return read_image_folder(path, task=task, column_types=column_types)
        return from_csv(path, task=task, column_types=column_types)
    if suffix == ".parquet":
        return from_parquet(path, task=task, column_types=column_types)
    if suffix == ".mat":
        return read_mat(path)
    if suffix in (".pkl", ".pk", ".pickle"):
        data = _load_pickle(path, trust_pickle)
        if isinstance(data, dict) and "ep_tdata" in data:
            return _mimic(data, path, "phenotypes" if task == "multilabel" else -1)
        if _is_utterance_pickle(data):
            return _utterances(data, path, "binary", None)
        return _affect(data, path, "regression" if task == "regression" else "binary")
    raise ValueError(
        f"cannot tell what kind of data {path} holds; use .csv, .parquet, .mat, .pkl or a folder"
    )
