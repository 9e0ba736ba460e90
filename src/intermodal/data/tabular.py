"""Tables of numeric and categorical columns with missing cells: the ``tabular`` modality kind.

A tabular modality of N rows and D columns is a ``(N, D)`` float32 tensor with named columns
(its features) and, for each categorical column, its categories (strings, sorted):

- a numeric column holds its values, NaN where a cell is missing;
- a categorical column holds integer codes: ``0`` a missing cell, ``1`` an unknown category
  (one the categories do not list: a category that the training data never showed), ``2 + k``
  the k-th category.

A missing cell is not a missing modality: a row is absent (mask False) only where every cell of
the modality is missing (the readers decide so, see :func:`table_values`), and an absent row
holds zeros (every categorical cell missing).

Preprocessing (:class:`TabularEncoding`, fitted on the training split only, saved with a model):

- numeric columns are standardized with the mean and population standard deviation of the
  training rows' observed cells, a missing cell becomes 0 (the training mean), and a numeric
  column with missing cells in the training rows gets a missing-indicator column
  ``<column>:missing`` (1 where the cell is missing), appended after the table's columns;
- categorical columns keep the categories seen in the training rows; a category of new data that
  training never saw (or saw only in its validation and test parts) gets the unknown code 1.

How the encoders and the classical baselines read the encoded columns (one-hot up to
:data:`ONEHOT_MAX` training categories, a learned embedding above) is described in
:mod:`intermodal.encoders.tabular` and :mod:`intermodal.baselines.features`.

Column types are read from the data types (numbers: numeric; ``object``, ``category``,
``string`` and ``bool``: categorical) and may be given per column, as AutoGluon's
``column_types`` (``{"tab.zip": "categorical", "review": "text"}``; see :data:`COLUMN_TYPES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.errors import UnknownNameError
from intermodal.saving import register_module

MISSING = 0
"""The code of a missing categorical cell."""
UNKNOWN = 1
"""The code of a category that a column's categories do not list (unseen in training)."""
FIRST = 2
"""The code of a column's first category (category k has code ``FIRST + k``)."""

COLUMN_TYPES = ("numeric", "categorical", "text", "ignore")
"""The types a column may be given: ``numeric`` and ``categorical`` columns of a tabular
modality, a ``text`` column (a text modality of its own), or ``ignore`` (not read)."""

ONEHOT_MAX = 16
"""A categorical column with at most this many training categories is one-hot encoded by the
tabular encoder; one with more gets a learned embedding."""

TEXT_MIN_WORDS = 3.0
"""A column of strings is text (not categorical) when its non-empty cells hold this many words
(runs of non-space characters) on average ..."""
TEXT_MIN_UNIQUE = 0.2
"""... and at least this fraction of them are distinct."""

INDICATOR_SUFFIX = ":missing"
"""The missing-indicator column of numeric column ``c`` is named ``c:missing``."""


# --- column types ----------------------------------------------------------------------------


def dtype_type(column: pd.Series) -> str:
    """The type of a column by its data type: ``numeric`` for numbers (booleans aside),
    ``categorical`` for everything else (``object``, ``category``, ``string``, ``bool``)."""
    if pd.api.types.is_bool_dtype(column):
        return "categorical"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "categorical"


def looks_like_text(column: pd.Series) -> bool:
    """True for a column of strings that reads as text rather than as categories: its non-empty
    cells hold at least :data:`TEXT_MIN_WORDS` words on average and at least
    :data:`TEXT_MIN_UNIQUE` of them are distinct (AutoGluon's heuristic in spirit: long strings
    with many unique values)."""
    cells = [value for value in column.tolist() if isinstance(value, str) and value.strip()]
    if not cells:
        return False
    words = float(np.mean([len(value.split()) for value in cells]))
    return words >= TEXT_MIN_WORDS and len(set(cells)) >= TEXT_MIN_UNIQUE * len(cells)


def check_column_types(column_types: Mapping[str, str], columns: Sequence[Any]) -> dict[str, str]:
    """``column_types`` checked against a table's ``columns``: every column it names exists and
    every type is one of :data:`COLUMN_TYPES`.

    Raises:
        UnknownNameError: a column the table lacks.
        ValueError: an unknown type.
    """
    names = [str(c) for c in columns]
    types = {str(k): str(v) for k, v in column_types.items()}
    unknown = [c for c in types if c not in names]
    if unknown:
        raise UnknownNameError(
            f"column_types names columns {unknown} that the table lacks (its columns: {names[:20]})"
        )
    wrong = {c: t for c, t in types.items() if t not in COLUMN_TYPES}
    if wrong:
        raise ValueError(
            f"column_types gives unknown types {wrong}; a column is one of {list(COLUMN_TYPES)}"
        )
    return types


def parse_column_types(text: str) -> dict[str, str]:
    """``"col=categorical,col2=text"`` as ``{"col": "categorical", "col2": "text"}`` (the
    ``--column-types`` option); the types are checked, the columns later against the table.

    Raises:
        ValueError: an item that is not ``COLUMN=TYPE``, a column given twice or an unknown type.
    """
    types: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        column, equals, kind = (s.strip() for s in item.partition("="))
        if not equals or not column or not kind:
            raise ValueError(f"expected COLUMN=TYPE items separated by commas, got {item!r}")
        if kind not in COLUMN_TYPES:
            raise ValueError(
                f"unknown column type {kind!r} for {column!r}; use one of {list(COLUMN_TYPES)}"
            )
        if column in types:
            raise ValueError(f"column {column!r} is given a type twice")
        types[column] = kind
    if not types:
        raise ValueError("give at least one COLUMN=TYPE")
    return types


# --- reading ---------------------------------------------------------------------------------


def _category_name(value: Any) -> str:
    """A cell as a category name: integral floats without their ``.0`` (``3.0`` and ``3`` are
    one category, as CSV and Parquet may store one column either way), other values by ``str``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _missing_cells(column: pd.Series) -> np.ndarray:
    return np.asarray(column.isna().to_numpy(), dtype=bool)


def categorical_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A column's cells as codes (0 missing, ``2 + k`` category k) and its categories, the
    distinct cell values as strings in sorted order (the same for a CSV file, a Parquet file
    and a data frame)."""
    missing = _missing_cells(column)
    names = np.array([_category_name(v) for v in column.to_numpy()[~missing]], dtype=object)
    categories = sorted(set(names.tolist()))
    codes = np.zeros(len(column), dtype=np.float32)
    if categories:
        index = {name: i for i, name in enumerate(categories)}
        codes[~missing] = np.fromiter((FIRST + index[n] for n in names), np.float32, len(names))
    return codes, categories


def _numeric_cells(column: pd.Series, key: str) -> np.ndarray:
    try:
        values = pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        bad = next(
            (i for i, v in enumerate(column.tolist()) if pd.notna(v) and not _is_number(v)), 0
        )
        raise ValueError(
            f"column {column.name!r} (modality {key!r}) is numeric by its column type but row "
            f"{bad} holds {column.iloc[bad]!r}; give it the type categorical, or fix the cell"
        ) from None
    huge = np.isfinite(values) & (np.abs(values) > np.finfo(np.float32).max)
    if huge.any() or np.isinf(values).any():
        row = int(np.flatnonzero(huge | np.isinf(values))[0])
        raise ValueError(
            f"row {row}, column {column.name!r} (modality {key!r}): {values[row]:g} is infinite "
            "or beyond the range of float32 (about 3.4e+38); rescale or clip the column"
        )
    return values.astype(np.float32)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def table_values(
    frame: pd.DataFrame, key: str, columns: Sequence[str], types: Mapping[str, str]
) -> tuple[np.ndarray, dict[str, list[str]], np.ndarray]:
    """A tabular modality from ``columns`` of ``frame``: its values ``(N, D)`` (see the module's
    description), the categories of its categorical columns (by column) and where it is present
    ``(N,)``: everywhere but in rows where every one of its cells is missing.

    Args:
        types: column -> ``numeric`` or ``categorical``; a column not listed is typed by its
            data type (:func:`dtype_type`).
    """
    blocks, categories, missing = [], {}, []
    for column in columns:
        kind = types.get(column) or dtype_type(frame[column])
        if kind == "categorical":
            codes, names = categorical_codes(frame[column])
            blocks.append(codes)
            categories[str(column)] = names
        elif kind == "numeric":
            blocks.append(_numeric_cells(frame[column], key))
        else:
            raise ValueError(f"column {column!r} of tabular modality {key!r} cannot be {kind}")
        missing.append(_missing_cells(frame[column]))
    values = np.stack(blocks, axis=1).astype(np.float32)
    present = np.logical_not(np.stack(missing, axis=1).all(axis=1))
    values[~present] = 0.0  # an absent row: zeros, every categorical cell missing
    return values, categories, np.asarray(present, dtype=bool)


# --- preprocessing ---------------------------------------------------------------------------


def indicator_name(column: str) -> str:
    return f"{column}{INDICATOR_SUFFIX}"


@register_module
class TabularEncoding(nn.Module):
    """Standardized numeric columns, missing indicators and categorical codes in the training
    data's categories (see the module's description): a tabular modality's preprocessing step.

    Args:
        features: the columns, in order.
        categories: categorical column -> its training categories (the others are numeric).
        indicators: the numeric columns that get a missing-indicator column, in column order.

    The numeric columns' ``mean`` and ``std`` ``(1, numeric)`` are buffers set by :meth:`fit`.

    Shape:
        ``values (B, D), present (B,) or None -> (B, D + len(indicators))``
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        features: list[str],
        categories: dict[str, list[str]],
        indicators: list[str] | None = None,
    ) -> None:
        super().__init__()
        indicators = list(indicators or [])
        unknown = [c for c in [*categories, *indicators] if c not in features]
        if unknown:
            raise ValueError(f"categories and indicators name columns {unknown} not in features")
        if any(c in categories for c in indicators):
            raise ValueError("missing indicators are for numeric columns only")
        clash = [indicator_name(c) for c in indicators if indicator_name(c) in features]
        if clash:
            raise ValueError(
                f"columns {clash} would name the missing indicators of their numeric columns; "
                "rename them"
            )
        self.features = list(features)
        self.categories = {c: list(categories[c]) for c in features if c in categories}
        self.indicators = [c for c in features if c in set(indicators)]
        position = {c: i for i, c in enumerate(features)}
        numeric = [position[c] for c in features if c not in self.categories]
        self.numeric: Tensor
        self.indicated: Tensor
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.long), persistent=False)
        self.register_buffer(
            "indicated",
            torch.tensor([position[c] for c in self.indicators], dtype=torch.long),
            persistent=False,
        )
        self.register_buffer("mean", torch.zeros(1, len(numeric)))
        self.register_buffer("std", torch.ones(1, len(numeric)))

    @classmethod
    def fit(cls, train: MultimodalDataset, key: str) -> TabularEncoding:
        """The encoding of tabular modality ``key`` fitted on ``train``, the training split:
        numeric statistics over the observed cells of present rows, indicators for numeric
        columns with a missing cell there, and the categories seen there."""
        present = train.masks[key]
        if not bool(present.any()):
            raise ValueError(f"modality {key!r} is absent in every training sample")
        values = train.modalities[key][present].double()
        features, given = train.features[key], train.categories.get(key, {})
        categories, indicators, means, stds = {}, [], [], []
        for i, column in enumerate(features):
            cells = values[:, i]
            if column in given:
                seen = torch.unique(cells[cells >= FIRST].long() - FIRST).tolist()
                categories[column] = [given[column][k] for k in sorted(seen)]
                continue
            observed = cells[~torch.isnan(cells)]
            if len(observed) < len(cells):
                indicators.append(column)
            mean = float(observed.mean()) if len(observed) else 0.0
            std = float(observed.std(correction=0)) if len(observed) else 1.0
            means.append(mean)
            stds.append(std if std > 1e-8 * (1 + abs(mean)) else 1.0)
        step = cls(list(features), categories, indicators)
        step.mean.copy_(torch.tensor([means], dtype=torch.float64))
        step.std.copy_(torch.tensor([stds], dtype=torch.float64))
        return step

    @property
    def output_features(self) -> list[str]:
        """The encoded columns: the table's, then the missing indicators."""
        return [*self.features, *(indicator_name(c) for c in self.indicators)]

    def align(self, dataset: MultimodalDataset, key: str) -> Tensor:
        """Tabular modality ``key`` of ``dataset`` (its columns already in training order) with
        its categorical codes in the training categories: a category training did not see
        becomes :data:`UNKNOWN`.

        Raises:
            SchemaError: a column that is categorical in training but numeric in ``dataset``, or
                the other way round (each named).
        """
        from intermodal.data.preprocessing import SchemaError

        values = dataset.modalities[key].clone()
        given = dataset.categories.get(key, {})
        for i, column in enumerate(self.features):
            if (column in self.categories) != (column in given):
                was, now = ("categorical", "numeric")[:: 1 if column in self.categories else -1]
                raise SchemaError(
                    f"column {key}.{column} of {dataset.name} is {now}, but the model was trained "
                    f"on it as {was}; read it as {was} (column_types={{'{key}.{column}': "
                    f"'{was}'}}, --column-types {key}.{column}={was})"
                )
            if column not in self.categories:
                continue
            index = {name: FIRST + k for k, name in enumerate(self.categories[column])}
            table = [MISSING, UNKNOWN, *(index.get(name, UNKNOWN) for name in given[column])]
            values[:, i] = torch.tensor(table, dtype=values.dtype)[values[:, i].long()]
        return values

    def forward(self, values: Tensor, present: Tensor | None = None) -> Tensor:
        if values.ndim != 2 or values.shape[1] != len(self.features):
            raise ValueError(
                f"the tabular encoding of {len(self.features)} columns got a batch of shape "
                f"{tuple(values.shape)}"
            )
        numeric = values.index_select(1, self.numeric)
        z = (numeric - self.mean.to(values)) / self.std.to(values)
        out = values.clone()
        out[:, self.numeric] = torch.nan_to_num(z, nan=0.0)
        indicators = torch.isnan(values.index_select(1, self.indicated)).to(values.dtype)
        out = torch.cat([out, indicators], dim=1)
        if present is None:
            return out
        return torch.where(present.to(values.device)[:, None], out, torch.zeros_like(out))


def categorical_layout(dataset: MultimodalDataset, key: str) -> dict[int, int]:
    """The categorical columns of tabular modality ``key``: column position -> its number of
    categories (the codes run over ``0 .. K + 1``)."""
    features = dataset.features[key]
    return {
        features.index(column): len(names)
        for column, names in dataset.categories.get(key, {}).items()
    }


__all__ = [
    "COLUMN_TYPES",
    "FIRST",
    "MISSING",
    "ONEHOT_MAX",
    "UNKNOWN",
    "TabularEncoding",
    "categorical_codes",
    "categorical_layout",
    "check_column_types",
    "dtype_type",
    "looks_like_text",
    "parse_column_types",
    "table_values",
]
