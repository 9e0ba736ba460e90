"""The multimodal data model: named modalities with N rows each, targets of a task (classes,
labels or values) and presence masks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from intermodal.data.text import encode_texts
from intermodal.errors import DataTypeError, UnknownNameError

KINDS = {
    "vector": (1,),
    "sequence": (2,),
    "image": (3,),
    "audio": (1, 2),
    "text": (1,),
    "tabular": (1,),
}
"""Modality kinds and the number of dimensions of one sample of each.

vector: (D,); sequence: (T, D); image: (C, H, W); audio: (T,) or (C, T) raw waveform;
text: (L,) the UTF-8 bytes of a string, zero-padded (uint8; see :mod:`intermodal.data.text`);
tabular: (D,) table columns, numeric (NaN where a cell is missing) or categorical (integer
codes: 0 a missing cell, 1 an unknown category, ``2 + k`` the k-th of the column's categories;
see :mod:`intermodal.data.tabular`).
"""

_DEFAULT_KIND = {1: "vector", 2: "sequence", 3: "image"}

_KIND_SHAPES = {
    "vector": ("D",),
    "sequence": ("T", "D"),
    "image": ("C", "H", "W"),
    "audio": ("T",),
    "text": ("L",),
    "tabular": ("D",),
}
"""Names of the per-sample dimensions of each kind (audio may also be ``(C, T)``)."""

_DIMENSION_NAMES = {
    "D": "features",
    "T": "time steps",
    "C": "channels",
    "H": "rows",
    "W": "columns",
    "L": "bytes",
}

FEATURE_AXIS = {"vector": 1, "sequence": 2, "tabular": 1}
"""Kinds whose last dimension holds named features (a vector's D, a sequence's D per step), and
the number of dimensions of one sample of each. A model matches such a modality's features by
name; other kinds are matched by their shape."""

_MAX_EXACT_LABEL = 2**53
"""Integers up to this magnitude are exactly representable as float64 labels."""


def _pattern(kind: str) -> str:
    """The per-sample shape of ``kind`` as text, e.g. ``(T, D)``."""
    if kind == "audio":
        return "(T,) or (C, T)"
    names = _KIND_SHAPES[kind]
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _dimension_names(kind: str, ndim: int) -> tuple[str, ...]:
    return ("C", "T") if kind == "audio" and ndim == 2 else _KIND_SHAPES[kind]


def _kind_mismatch(key: str, kind: str, shape: tuple[int, ...]) -> ValueError:
    """The error for modality ``key`` declared ``kind`` whose samples have ``shape``."""
    fits = _DEFAULT_KIND.get(len(shape))
    reshape = f"reshape it to (N, {', '.join(_KIND_SHAPES[kind])})"
    if kind == "sequence" and len(shape) == 1:
        reshape += " (values[:, None, :] for sequences of one step)"
    elif kind == "image" and len(shape) == 2:
        reshape += " (values[:, None] adds one channel)"
    if kind == "audio":
        reshape = "reshape it to (N, T) or (N, C, T)"
    alternative = f", or declare it kind {fits!r}, which fits that shape" if fits else ""
    return ValueError(
        f"modality {key!r} is of kind {kind!r}, whose samples have shape {_pattern(kind)}, but "
        f"its per-sample shape is {shape}; {reshape}{alternative}"
    )


def _check_not_empty(key: str, kind: str, shape: tuple[int, ...]) -> None:
    """Refuse samples of size zero (no features, zero-length sequences, zero-size images)."""
    if 0 not in shape:
        return
    names = _dimension_names(kind, len(shape))
    empty = [
        f"{n} = 0 {_DIMENSION_NAMES[n]}" for n, size in zip(names, shape, strict=True) if not size
    ]
    raise ValueError(
        f"modality {key!r} has per-sample shape {shape} (kind {kind!r}: {_pattern(kind)}), that "
        f"is {' and '.join(empty)}: its samples hold no values; drop the modality, or check how "
        "its array was built"
    )


ArrayLike = np.ndarray | Tensor | Sequence[Any]


class Sample(NamedTuple):
    """One sample: ``inputs[m]`` has modality m's per-sample shape; ``mask[m]`` is a bool scalar."""

    inputs: dict[str, Tensor]
    target: Tensor
    mask: dict[str, Tensor]


class Batch(NamedTuple):
    """A batch of B samples.

    ``inputs[m]``: ``(B, *shape_m)`` float32; ``target``: ``(B,)`` int64 class indices,
    ``(B, K)`` float32 0/1 labels or ``(B,)`` / ``(B, T)`` float32 values; ``mask[m]``: ``(B,)``.
    """

    inputs: dict[str, Tensor]
    target: Tensor
    mask: dict[str, Tensor]


def _holds_strings(values: object) -> bool:
    """True for a sequence or array of Python strings (a text column)."""
    if isinstance(values, Tensor):
        return False
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "UO" and values.size > 0 and isinstance(values.flat[0], str)
    if isinstance(values, Sequence) and not isinstance(values, str | bytes) and len(values) > 0:
        return isinstance(values[0], str)
    return hasattr(values, "dtype") and str(getattr(values, "dtype", "")) in ("object", "string")


def _as_tensor(values: ArrayLike, what: str) -> Tensor:
    if isinstance(values, Tensor):
        tensor = values.detach().cpu()
    else:
        array = np.asarray(values)
        if array.dtype == object or array.dtype.kind in "USV":
            raise DataTypeError(f"{what} must be numeric, got an array of dtype {array.dtype}")
        array = np.ascontiguousarray(array)
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    if tensor.is_complex():
        raise DataTypeError(f"{what} must be real-valued, got {tensor.dtype}")
    return tensor


def _check_float32_range(values: Tensor | np.ndarray, what: str) -> None:
    """Refuse finite float64 values beyond float32's range, which storing them would make
    infinite, naming the first with its row and position."""
    array = np.asarray(values)
    if array.dtype != np.float64:
        return
    huge = np.isfinite(array) & (np.abs(array) > np.finfo(np.float32).max)
    if huge.any():
        row, *place = (int(i[0]) for i in np.nonzero(huge))
        at = (
            ""
            if not place
            else f", column {place[0]}"
            if len(place) == 1
            else f", at {tuple(place)}"
        )
        raise ValueError(
            f"{what} holds {array[(row, *place)]:g} in row {row}{at}, beyond the range of float32 "
            "(about 3.4e+38), in which values are stored, so it would become infinite; rescale "
            "it (e.g. divide it by a power of ten or take a logarithm) or clip it"
        )


TASKS = ("classification", "multilabel", "regression")
"""Learning tasks: ``classification`` (one integer label per sample), ``multilabel`` (a (N, K)
binary matrix of labels) and ``regression`` (float targets (N,) or (N, T))."""


def _integral(array: np.ndarray) -> bool:
    return array.dtype.kind in "iu" or bool(np.all(array == np.round(array)))


def infer_task(targets: ArrayLike) -> str:
    """The task that ``targets`` suggest: integers (N,) -> classification; a (N, K) matrix of
    0/1 -> multilabel; other numbers -> regression. Integer-valued scores (ratings 1..5) read as
    classes: pass ``task="regression"`` to treat them as values. Integer-valued floats beyond
    2**53 (such as 1e30) also read as classes, which :func:`encode_targets` then refuses."""
    array = targets.detach().cpu().numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2 and array.size and np.isin(array, (0, 1)).all():
        return "multilabel"
    if array.ndim == 1 and array.dtype.kind in "iuf" and array.size:
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        return "classification" if _integral(finite) else "regression"
    return "regression"


def encode_targets(targets: ArrayLike, task: str | None = None) -> tuple[Tensor, list[int], str]:
    """Check ``targets`` for ``task`` (inferred when None, see :func:`infer_task`).

    Returns:
        ``(targets, classes, task)``: classification gives indices 0..K-1 (int64) and the
        original labels; multilabel the (N, K) 0/1 matrix (float32) and label indices 0..K-1;
        regression the values (float32, (N,) or (N, T)) and no classes.

    Raises:
        ValueError: no rows, NaN or infinite values, an unknown task, classification targets
            that are not integers (or beyond 2**53 as floats), fewer than two classes, or
            multilabel targets other than 0/1.
    """
    array = targets.detach().cpu().numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if array.size == 0 or array.ndim == 0:
        raise ValueError("the data set is empty: targets have no rows")
    if array.ndim > 2:
        raise ValueError(f"targets must have shape (N,) or (N, K), got {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"targets must be numbers, got dtype {array.dtype}; map string labels to integers "
            "first (e.g. with pandas.factorize)"
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        row = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).any(axis=1))[0])
        raise ValueError(
            f"targets contain NaN or infinite values (first in row {row}); drop those samples or "
            "impute the targets"
        )
    task = task or infer_task(array)
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if array.ndim == 2 and array.shape[1] == 1 and task != "multilabel":
        array = array[:, 0]
    if task == "classification":
        if array.ndim != 1:
            raise ValueError(
                f"classification targets must have shape (N,), got {array.shape}; a (N, K) "
                "matrix of 0/1 labels is task='multilabel'"
            )
        if array.dtype.kind == "b":
            array = array.astype(np.int64)
        if not _integral(array):
            bad = array[array != np.round(array)][:3].tolist()
            raise ValueError(
                f"classification targets must be integer class labels, got values such as {bad}; "
                "pass task='regression' for a continuous target, or discretize it"
            )
        _check_label_range(array)
        classes, indices = np.unique(array.astype(np.int64), return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"classification needs at least two classes, but all {len(array)} targets are "
                f"class {int(classes[0])}; use data with samples of several classes (or another "
                "target column), or pass task='regression' for a continuous target"
            )
        return torch.from_numpy(indices.astype(np.int64)), [int(c) for c in classes], task
    if task == "multilabel":
        if array.ndim != 2:
            raise ValueError(
                f"multilabel targets must be a (N, K) matrix of 0/1, got shape {array.shape}"
            )
        if not np.isin(array, (0, 1)).all():
            raise ValueError(
                "multilabel targets must hold only 0 and 1 (1 where a sample has the label)"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return tensor, list(range(array.shape[1])), task
    if array.dtype.kind == "b":
        raise ValueError("regression targets must be numbers, got booleans")
    _check_float32_range(array, "targets")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), [], task


def _check_text_input(key: str, raw: object) -> None:
    """Refuse numbers given for a modality declared ``text`` (strings are expected)."""
    array = np.asarray(raw)
    if array.dtype.kind in "biufc":
        shape = tuple(array.shape[1:])
        fits = _DEFAULT_KIND.get(len(shape))
        raise ValueError(
            f"modality {key!r} is of kind 'text', whose samples are strings (stored as "
            f"(L,) UTF-8 bytes), but it holds numbers ({array.dtype}) of per-sample shape "
            f"{shape}; pass one string per sample"
            + (f", or declare it kind {fits!r}, which fits that shape" if fits else "")
        )


def _check_label_range(array: np.ndarray) -> None:
    """Refuse integer-valued labels that do not convert exactly to int64: floats beyond 2**53
    (where not every integer is representable; 1e30 would wrap around) and uint64 beyond int64.
    """
    if array.dtype.kind == "f":
        huge = np.abs(array) > _MAX_EXACT_LABEL
        limit = "2**53, the largest magnitude at which a float holds every integer exactly"
    elif array.dtype.kind == "u":
        huge = array > np.iinfo(np.int64).max
        limit = "2**63 - 1"
    else:
        return
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise ValueError(
            f"classification targets must be integer class labels of magnitude at most {limit}; "
            f"row {row} holds {array[row].item()!r}. Check that row for a corrupt value, "
            "renumber the classes 0..K-1, or pass task='regression' if the targets are values"
        )


class MultimodalDataset(Dataset[Sample]):
    """Named modalities with N rows each, the targets of a task and optional presence masks.

    Args:
        modalities: modality name -> array or tensor of shape ``(N, *shape)``. Floating values are
            stored as float32; they must be finite (fill a missing modality with zeros and mark it
            in ``masks``).
        targets: ``(N,)`` integer class labels (any integers; encoded as 0..K-1, the original
            labels kept in ``classes``), a ``(N, K)`` 0/1 matrix of labels, or float values
            ``(N,)`` / ``(N, T)``, as ``task`` says.
        task: ``classification``, ``multilabel`` or ``regression``; inferred from the targets
            when not given (see :func:`infer_task`).
        masks: optional modality name -> ``(N,)`` bool, True where the modality is present.
            Modalities without a mask are present in every sample.
        kinds: optional modality name -> one of ``vector`` (D,), ``sequence`` (T, D),
            ``image`` (C, H, W), ``audio`` (T,) or (C, T). Inferred from the number of dimensions
            when not given.
        metadata: optional per-sample columns (name -> ``(N,)``), e.g. a speaker id, carried along
            by ``subset``.
        name: a name for reports.
        classes: the original labels when ``targets`` are already encoded (used internally,
            with ``task``).
        features: optional modality name -> the names of its features in order, for vector
            and sequence modalities (the last dimension). Without names a modality's features
            are named by position, ``"0"`` .. ``"D-1"``; a table's columns ``<modality>.<feature>``
            give theirs (see :func:`intermodal.data.from_dataframe`).
        target_names: the names of the target columns: one for class labels or one value,
            one per label (multilabel) or per value column (regression). Default: ``target``
            for one column, ``"0"`` .. ``"K-1"`` for several.
        signals: vector modalities whose features are an ordered 1-D signal (samples of a
            waveform or a time series in time order), not a set of unordered features.
        categories: tabular modality -> its categorical columns (feature names) -> their
            categories in code order (strings); the codes of such a column are 0 (missing),
            1 (unknown) or ``2 + k`` (``categories[k]``). A tabular modality's other columns
            are numeric, with NaN where a cell is missing (NaN is allowed only there).
            Sequences and audio are ordered by their kind; methods that read a modality as a
            signal (very early fusion) apply only to ordered ones (see :attr:`ordered`).

    Every sample needs at least one modality present. The schema (``kinds``, ``features``,
    ``classes``, ``target_names``) is carried by ``subset``, ``select`` and the ``with_*``
    methods, and recorded by a :class:`~intermodal.data.preprocessing.Preprocessor`, so that a
    saved model matches new data by name.

    Indexing gives a :class:`Sample`; :func:`collate` (or a ``DataLoader`` with this data set)
    gives a :class:`Batch`.
    """

    def __init__(
        self,
        modalities: Mapping[str, ArrayLike],
        targets: ArrayLike,
        masks: Mapping[str, ArrayLike] | None = None,
        kinds: Mapping[str, str] | None = None,
        metadata: Mapping[str, ArrayLike] | None = None,
        name: str = "custom",
        classes: Sequence[int] | None = None,
        task: str | None = None,
        features: Mapping[str, Sequence[str]] | None = None,
        target_names: Sequence[str] | None = None,
        signals: Iterable[str] | None = None,
        categories: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        if not isinstance(modalities, Mapping) or len(modalities) == 0:
            raise ValueError("modalities must be a non-empty dict from modality name to array")
        self.name = name
        if classes is None or task is None:
            self.targets, self.classes, self.task = encode_targets(targets, task)
        else:
            tensor = _as_tensor(targets, "targets")
            self.targets = tensor.long() if task == "classification" else tensor.float()
            self.classes, self.task = list(classes), task
        n = len(self.targets)

        self.modalities: dict[str, Tensor] = {}
        self.kinds: dict[str, str] = {}
        for key in sorted(modalities):
            if not isinstance(key, str) or not key:
                raise ValueError(f"modality names must be non-empty strings, got {key!r}")
            given_kind = (kinds or {}).get(key)
            if given_kind == "text" or _holds_strings(modalities[key]):
                if given_kind not in (None, "text"):
                    raise ValueError(
                        f"modality {key!r} holds strings: its kind is 'text', not {given_kind!r}"
                    )
                raw = modalities[key]
                if not isinstance(raw, Tensor) and not _holds_strings(raw):
                    _check_text_input(key, raw)
                values = raw if isinstance(raw, Tensor) else encode_texts(raw, f"modality {key!r}")
                if values.dtype != torch.uint8 or values.ndim != 2:
                    raise ValueError(
                        f"text modality {key!r} must be strings or a (N, L) uint8 tensor of "
                        "UTF-8 bytes (see intermodal.data.text.encode_texts), got a "
                        f"{values.dtype} tensor of shape {tuple(values.shape)}"
                    )
                _check_not_empty(key, "text", tuple(values.shape[1:]))
                if len(values) != n:
                    raise ValueError(
                        f"modality {key!r} has {len(values)} rows but there are {n} targets; "
                        "every modality needs one row per sample"
                    )
                self.modalities[key], self.kinds[key] = values.detach().cpu(), "text"
                continue
            values = _as_tensor(modalities[key], f"modality {key!r}")
            if values.ndim < 2:
                raise ValueError(
                    f"modality {key!r} must have shape (N, ...) with one row per sample and at "
                    f"least one feature, got shape {tuple(values.shape)}; reshape a single "
                    "feature column to (N, 1)"
                )
            if len(values) != n:
                raise ValueError(
                    f"modality {key!r} has {len(values)} rows but there are {n} targets; every "
                    "modality needs one row per sample"
                )
            _check_float32_range(values, f"modality {key!r}")
            values = values.float()
            kind = (kinds or {}).get(key) or _DEFAULT_KIND.get(values.ndim - 1)
            bad = torch.isinf(values) if kind == "tabular" else ~torch.isfinite(values)
            if bad.any():
                row = int(bad.reshape(n, -1).any(dim=1).nonzero()[0])
                raise ValueError(
                    f"modality {key!r} contains "
                    f"{'infinite' if kind == 'tabular' else 'NaN or infinite'} values (first in "
                    f"row {row}); impute them, or fill a missing modality with zeros and mark it "
                    "absent in masks"
                    + ("" if kind == "tabular" else " (a tabular modality may hold NaN cells)")
                )
            if kind is None:
                raise ValueError(
                    f"cannot infer the kind of modality {key!r} with per-sample shape "
                    f"{tuple(values.shape[1:])}; pass kinds={{{key!r}: ...}} "
                    f"with one of {sorted(KINDS)}"
                )
            if kind not in KINDS:
                raise ValueError(
                    f"unknown kind {kind!r} for modality {key!r}; use one of {sorted(KINDS)}"
                )
            if values.ndim - 1 not in KINDS[kind]:
                raise _kind_mismatch(key, kind, tuple(values.shape[1:]))
            _check_not_empty(key, kind, tuple(values.shape[1:]))
            self.modalities[key] = values
            self.kinds[key] = kind
        if kinds:
            self._check_names(kinds, "kinds")
        self.features = self._feature_names(features or {})
        self.categories = self._categories(categories or {})
        self.target_names = self._target_names(target_names)

        self.masks: dict[str, Tensor] = {}
        for key in self.modalities:
            given = (masks or {}).get(key)
            if given is None:
                self.masks[key] = torch.ones(n, dtype=torch.bool)
                continue
            mask = _as_tensor(given, f"mask of {key!r}")
            if mask.shape != (n,):
                raise ValueError(f"mask of {key!r} must have shape ({n},), got {tuple(mask.shape)}")
            self.masks[key] = mask.bool()
        if masks:
            self._check_names(masks, "masks")
            none = ~torch.stack(list(self.masks.values())).any(dim=0)
            if none.any():
                rows = none.nonzero().flatten()[:5].tolist()
                raise ValueError(
                    f"{int(none.sum())} samples have every modality absent (rows {rows}); "
                    "drop them: a model has nothing to predict them from"
                )

        self.metadata: dict[str, np.ndarray] = {}
        for key, column in (metadata or {}).items():
            array = column.numpy() if isinstance(column, Tensor) else np.asarray(column)
            if array.shape[:1] != (n,):
                raise ValueError(f"metadata {key!r} must have {n} rows, got shape {array.shape}")
            self.metadata[key] = array
        self.signals: tuple[str, ...] = self._check_signals(signals)

    def _check_signals(self, signals: Iterable[str] | None) -> tuple[str, ...]:
        if signals is None:
            return ()
        if isinstance(signals, str):
            signals = [signals]
        names = sorted(set(signals))
        self._check_names(names, "signals")
        wrong = [f"{k} ({self.kinds[k]})" for k in names if self.kinds[k] != "vector"]
        if wrong:
            raise ValueError(
                f"signals declares vector modalities as ordered signals; {', '.join(wrong)} "
                "is not a vector (sequences and audio are ordered by their kind; images and "
                "text are not 1-D signals): leave it out"
            )
        return tuple(names)

    def with_signals(self, signals: Iterable[str]) -> MultimodalDataset:
        """The same data set with ``signals`` (vector modalities) declared ordered 1-D
        signals, added to those declared before."""
        return MultimodalDataset(
            self.modalities,
            self.targets,
            masks=self.masks,
            kinds=self.kinds,
            metadata=self.metadata,
            name=self.name,
            classes=self.classes,
            task=self.task,
            features=self.features,
            target_names=self.target_names,
            signals=(*self.signals, *signals),
            categories=self.categories,
        )

    @property
    def ordered(self) -> list[str]:
        """Modalities whose values are ordered in time: sequences, audio and the vectors
        declared as ``signals``."""
        return [
            key
            for key in self.modalities
            if self.kinds[key] in ("sequence", "audio") or key in self.signals
        ]

    def _feature_names(self, given: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """The feature names of each vector and sequence modality: ``given``, else positional."""
        self._check_names(given, "features")
        names: dict[str, list[str]] = {}
        for key, values in self.modalities.items():
            if self.kinds[key] not in FEATURE_AXIS:
                if key in given:
                    raise ValueError(
                        f"features names the features of {key!r}, a {self.kinds[key]} modality; "
                        f"only {sorted(FEATURE_AXIS)} modalities have named features"
                    )
                continue
            size = int(values.shape[-1])
            if key not in given:
                names[key] = [str(i) for i in range(size)]
                continue
            chosen = [str(name) for name in given[key]]
            if len(chosen) != size:
                raise ValueError(
                    f"features of {key!r} name {len(chosen)} features, but the modality has "
                    f"{size}; give one name per feature, in order"
                )
            twice = []
            if len(set(chosen)) != len(chosen):  # (counting every name is quadratic)
                twice = sorted({name for name in chosen if chosen.count(name) > 1})
            if twice:
                raise ValueError(
                    f"features of {key!r} name {twice[:5]} more than once; feature names must be "
                    "unique within a modality"
                )
            names[key] = chosen
        return names

    def _categories(
        self, given: Mapping[str, Mapping[str, Sequence[str]]]
    ) -> dict[str, dict[str, list[str]]]:
        """The categories of each tabular modality's categorical columns, checked against the
        codes (integers 0 .. K + 1, see ``categories``)."""
        self._check_names(given, "categories")
        out: dict[str, dict[str, list[str]]] = {}
        for key in self.modalities:
            if self.kinds[key] != "tabular":
                if given.get(key):
                    raise ValueError(
                        f"categories names columns of {key!r}, a {self.kinds[key]} modality; "
                        "only tabular modalities have categorical columns"
                    )
                continue
            columns = given.get(key, {})
            unknown = [c for c in columns if c not in self.features[key]]
            if unknown:
                raise UnknownNameError(
                    f"categories of {key!r} name columns {unknown[:5]} that it lacks (its "
                    f"columns: {self.features[key][:20]})"
                )
            out[key] = {}
            for column in self.features[key]:  # in column order
                if column not in columns:
                    continue
                names = [str(c) for c in columns[column]]
                if len(set(names)) != len(names):
                    raise ValueError(f"categories of {key}.{column} name a category twice")
                codes = self.modalities[key][:, self.features[key].index(column)]
                wrong = ~((codes == codes.round()) & (codes >= 0) & (codes <= len(names) + 1))
                if wrong.any():
                    row = int(wrong.nonzero()[0])
                    raise ValueError(
                        f"categorical column {column!r} of {key!r} holds {codes[row].item()!r} "
                        f"in row {row}; its codes must be 0 (missing), 1 (unknown) or 2 .. "
                        f"{len(names) + 1} (its {len(names)} categories)"
                    )
                out[key][column] = names
        return out

    def _target_names(self, given: Sequence[str] | None) -> list[str]:
        columns = 1 if self.targets.ndim == 1 else int(self.targets.shape[1])
        if given is None:
            return ["target"] if columns == 1 else [str(i) for i in range(columns)]
        names = [str(name) for name in given]
        if len(names) != columns or len(set(names)) != len(names):
            raise ValueError(
                f"target_names must name the {columns} target column(s) once each, got {names}"
            )
        return names

    def _check_names(self, names: Iterable[str], what: str) -> None:
        unknown = sorted(set(names) - set(self.modalities))
        if unknown:
            raise UnknownNameError(
                f"{what} names unknown modalities {unknown}; "
                f"the modalities are {self.modality_names}"
            )

    # --- shape information -------------------------------------------------------------------
    @property
    def modality_names(self) -> list[str]:
        """Modality names in sorted order."""
        return list(self.modalities)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample shape of each modality (without the batch dimension)."""
        return {key: tuple(values.shape[1:]) for key, values in self.modalities.items()}

    @property
    def n_classes(self) -> int:
        """Classes (classification) or labels (multilabel)."""
        if self.task == "regression":
            raise ValueError(f"{self.name} is a regression data set: it has no classes")
        return len(self.classes)

    @property
    def output_dim(self) -> int:
        """Outputs of a model of this data set: K classes, K labels or T target values."""
        if self.task == "regression":
            return 1 if self.targets.ndim == 1 else int(self.targets.shape[1])
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.targets)

    # --- access ------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> Sample:
        return Sample(
            {key: values[index] for key, values in self.modalities.items()},
            self.targets[index],
            {key: mask[index] for key, mask in self.masks.items()},
        )

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """Fetch a whole batch at once (used by ``DataLoader``; much faster than per-sample)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return Batch(
            {key: values[index] for key, values in self.modalities.items()},
            self.targets[index],
            {key: mask[index] for key, mask in self.masks.items()},
        )

    def batch(self) -> Batch:
        """All samples as one batch."""
        return Batch(dict(self.modalities), self.targets, dict(self.masks))

    # --- derived data sets -------------------------------------------------------------------
    def _replace(
        self,
        modalities: Mapping[str, Tensor],
        index: Tensor | None = None,
        features: Mapping[str, Sequence[str]] | None = None,
        categories: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> MultimodalDataset:
        take = (lambda t: t) if index is None else (lambda t: t[index])
        kept = {**self._kept_features(modalities), **(features or {})}
        return MultimodalDataset(
            {key: take(values) for key, values in modalities.items()},
            take(self.targets),
            masks={key: take(self.masks[key]) for key in modalities},
            kinds={key: self.kinds[key] for key in modalities},
            metadata={
                key: column if index is None else column[index.numpy()]
                for key, column in self.metadata.items()
            },
            name=self.name,
            classes=self.classes,
            task=self.task,
            features=kept,
            target_names=self.target_names,
            signals=[key for key in self.signals if key in modalities],
            categories={
                key: (categories or {}).get(key, self.categories.get(key, {}))
                for key in modalities
                if self.kinds[key] == "tabular" and key in kept
            },
        )

    def _kept_features(self, modalities: Mapping[str, Tensor]) -> dict[str, list[str]]:
        """The feature names of ``modalities`` that still fit their values (new values with
        another number of features, or of another kind, get positional names)."""
        return {
            key: self.features[key]
            for key, values in modalities.items()
            if key in self.features
            and values.ndim == FEATURE_AXIS[self.kinds[key]] + 1
            and int(values.shape[-1]) == len(self.features[key])
        }

    def subset(self, indices: Sequence[int] | np.ndarray | Tensor) -> MultimodalDataset:
        """The samples at ``indices``, keeping the class encoding of this data set."""
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        if index.numel() == 0:
            raise ValueError("subset is empty: pass at least one index")
        if index.min() < -len(self) or index.max() >= len(self):
            raise IndexError(f"subset indices out of range for a data set of {len(self)} samples")
        return self._replace(self.modalities, index)

    def select(self, names: Iterable[str], empty: str = "error") -> MultimodalDataset:
        """A data set with only the modalities in ``names``.

        Args:
            empty: what to do with samples that have none of ``names`` present: ``error``,
                ``drop`` them, or ``keep`` them with their (zero-filled) values marked present,
                for a model that reads them regardless (a unimodal baseline on a test split).
        """
        names = list(names)
        if not names:
            raise ValueError(f"select at least one modality of {self.modality_names}")
        if empty not in ("error", "drop", "keep"):
            raise ValueError(f"empty must be 'error', 'drop' or 'keep', got {empty!r}")
        self._check_names(names, "select")
        none = ~torch.stack([self.masks[k] for k in names]).any(dim=0)
        if empty == "error" or not none.any():
            return self._replace({key: self.modalities[key] for key in names})
        if empty == "drop":
            return self.subset(torch.nonzero(~none).flatten()).select(names)
        masks = {key: self.masks[key] | none for key in names}
        return self.select(list(self.modalities)).with_masks(masks).select(names)

    def with_modalities(
        self,
        modalities: Mapping[str, Tensor],
        features: Mapping[str, Sequence[str]] | None = None,
        categories: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> MultimodalDataset:
        """A data set with the same samples and new values for the given modalities (with
        their new ``features`` and, for tabular ones, ``categories`` where these change)."""
        self._check_names(modalities, "with_modalities")
        return self._replace({**self.modalities, **modalities}, None, features, categories)

    def with_targets(self, targets: Tensor) -> MultimodalDataset:
        """A data set with the same samples and task and new targets of the same shape (e.g.
        standardized regression targets)."""
        if tuple(targets.shape) != tuple(self.targets.shape):
            raise ValueError(
                f"new targets must have shape {tuple(self.targets.shape)}, got "
                f"{tuple(targets.shape)}"
            )
        return MultimodalDataset(
            self.modalities,
            targets,
            masks=self.masks,
            kinds=self.kinds,
            metadata=self.metadata,
            name=self.name,
            classes=self.classes,
            task=self.task,
            features=self.features,
            target_names=self.target_names,
            signals=self.signals,
            categories=self.categories,
        )

    def with_masks(self, masks: Mapping[str, Tensor]) -> MultimodalDataset:
        """A data set with the given presence masks (``(N,)`` bool per modality); the values of
        a modality where it becomes absent are zeroed, so nothing absent leaks into a model."""
        self._check_names(masks, "with_masks")
        merged = {
            **self.masks,
            **{k: torch.as_tensor(v, dtype=torch.bool) for k, v in masks.items()},
        }
        values = {
            key: torch.where(merged[key].reshape(-1, *[1] * (x.ndim - 1)), x, x.new_zeros(()))
            for key, x in self.modalities.items()
        }
        return MultimodalDataset(
            values,
            self.targets,
            masks=merged,
            kinds=self.kinds,
            metadata=self.metadata,
            name=self.name,
            classes=self.classes,
            task=self.task,
            features=self.features,
            target_names=self.target_names,
            signals=self.signals,
            categories=self.categories,
        )

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {self.kinds[k]} {self.shapes[k]}" for k in self.modality_names)
        outputs = f"classes={self.output_dim}" if self.task == "classification" else self.task
        return f"MultimodalDataset({self.name!r}, N={len(self)}, {outputs}, {parts})"


def collate(samples: Sequence[Sample] | Batch) -> Batch:
    """Stack samples into a :class:`Batch` (a batch from ``__getitems__`` passes through)."""
    if isinstance(samples, Batch):
        return samples
    if len(samples) == 0:
        raise ValueError("cannot collate an empty list of samples")
    keys = list(samples[0].inputs)
    return Batch(
        {key: torch.stack([s.inputs[key] for s in samples]) for key in keys},
        torch.stack([s.target for s in samples]),
        {key: torch.stack([s.mask[key] for s in samples]) for key in keys},
    )
