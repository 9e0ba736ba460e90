"""The multimodal data model: named modalities with N rows each, class targets, presence masks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

KINDS = {"vector": (1,), "sequence": (2,), "image": (3,), "audio": (1, 2)}
"""Modality kinds and the number of dimensions of one sample of each.

vector: (D,); sequence: (T, D); image: (C, H, W); audio: (T,) or (C, T) raw waveform.
"""

_DEFAULT_KIND = {1: "vector", 2: "sequence", 3: "image"}

ArrayLike = np.ndarray | Tensor | Sequence[Any]


class Sample(NamedTuple):
    """One sample: ``inputs[m]`` has modality m's per-sample shape; ``mask[m]`` is a bool scalar."""

    inputs: dict[str, Tensor]
    target: Tensor
    mask: dict[str, Tensor]


class Batch(NamedTuple):
    """A batch of B samples.

    ``inputs[m]``: ``(B, *shape_m)`` float32; ``target``: ``(B,)`` int64; ``mask[m]``: ``(B,)``.
    """

    inputs: dict[str, Tensor]
    target: Tensor
    mask: dict[str, Tensor]


def _as_tensor(values: ArrayLike, what: str) -> Tensor:
    if isinstance(values, Tensor):
        tensor = values.detach().cpu()
    else:
        array = np.asarray(values)
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"{what} must be numeric, got an array of dtype {array.dtype}")
        array = np.ascontiguousarray(array)
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    if tensor.is_complex():
        raise TypeError(f"{what} must be real-valued, got {tensor.dtype}")
    return tensor


def encode_labels(targets: ArrayLike) -> tuple[Tensor, list[int]]:
    """Check that ``targets`` (N,) are integer labels; return indices 0..K-1 and the labels."""
    array = targets.detach().cpu().numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if array.ndim != 1:
        raise ValueError(f"targets must have shape (N,), got {array.shape}")
    if array.size == 0:
        raise ValueError("the data set is empty: targets have no rows")
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise ValueError(
            f"targets must be integer class labels, got dtype {array.dtype}; "
            "map string or boolean labels to integers first"
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ValueError("targets contain NaN or infinite values")
        if not np.all(array == np.round(array)):
            bad = array[array != np.round(array)][:3].tolist()
            raise ValueError(
                f"targets must be integer class labels, got non-integer values such as {bad}; "
                "this library trains classifiers (discretize a continuous target first)"
            )
    classes, indices = np.unique(array.astype(np.int64), return_inverse=True)
    return torch.from_numpy(indices.astype(np.int64)), [int(c) for c in classes]


class MultimodalDataset(Dataset[Sample]):
    """Named modalities with N rows each, integer class targets and optional presence masks.

    Args:
        modalities: modality name -> array or tensor of shape ``(N, *shape)``. Floating values are
            stored as float32; they must be finite (fill a missing modality with zeros and mark it
            in ``masks``).
        targets: ``(N,)`` integer class labels, any integers; they are encoded as 0..K-1 and the
            original labels are kept in ``classes``.
        masks: optional modality name -> ``(N,)`` bool, True where the modality is present.
            Modalities without a mask are present in every sample.
        kinds: optional modality name -> one of ``vector`` (D,), ``sequence`` (T, D),
            ``image`` (C, H, W), ``audio`` (T,) or (C, T). Inferred from the number of dimensions
            when not given.
        metadata: optional per-sample columns (name -> ``(N,)``), e.g. a speaker id, carried along
            by ``subset``.
        name: a name for reports.
        classes: the original labels when ``targets`` are already encoded (used internally).

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
    ) -> None:
        if not isinstance(modalities, Mapping) or len(modalities) == 0:
            raise ValueError("modalities must be a non-empty dict from modality name to array")
        self.name = name
        if classes is None:
            self.targets, self.classes = encode_labels(targets)
        else:
            self.targets = _as_tensor(targets, "targets").long()
            self.classes = list(classes)
        n = len(self.targets)

        self.modalities: dict[str, Tensor] = {}
        self.kinds: dict[str, str] = {}
        for key in sorted(modalities):
            if not isinstance(key, str) or not key:
                raise ValueError(f"modality names must be non-empty strings, got {key!r}")
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
            values = values.float()
            bad = ~torch.isfinite(values)
            if bad.any():
                row = int(bad.reshape(n, -1).any(dim=1).nonzero()[0])
                raise ValueError(
                    f"modality {key!r} contains NaN or infinite values (first in row {row}); "
                    "impute them, or fill a missing modality with zeros and mark it absent in masks"
                )
            kind = (kinds or {}).get(key) or _DEFAULT_KIND.get(values.ndim - 1)
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
                raise ValueError(
                    f"modality {key!r} of kind {kind!r} needs samples with {KINDS[kind]} "
                    f"dimensions, got per-sample shape {tuple(values.shape[1:])}"
                )
            self.modalities[key] = values
            self.kinds[key] = kind
        if kinds:
            self._check_names(kinds, "kinds")

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

        self.metadata: dict[str, np.ndarray] = {}
        for key, column in (metadata or {}).items():
            array = column.numpy() if isinstance(column, Tensor) else np.asarray(column)
            if array.shape[:1] != (n,):
                raise ValueError(f"metadata {key!r} must have {n} rows, got shape {array.shape}")
            self.metadata[key] = array

    def _check_names(self, names: Iterable[str], what: str) -> None:
        unknown = sorted(set(names) - set(self.modalities))
        if unknown:
            raise KeyError(
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
        self, modalities: Mapping[str, Tensor], index: Tensor | None = None
    ) -> MultimodalDataset:
        take = (lambda t: t) if index is None else (lambda t: t[index])
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
        )

    def subset(self, indices: Sequence[int] | np.ndarray | Tensor) -> MultimodalDataset:
        """The samples at ``indices``, keeping the class encoding of this data set."""
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        if index.numel() == 0:
            raise ValueError("subset is empty: pass at least one index")
        if index.min() < -len(self) or index.max() >= len(self):
            raise IndexError(f"subset indices out of range for a data set of {len(self)} samples")
        return self._replace(self.modalities, index)

    def select(self, names: Iterable[str]) -> MultimodalDataset:
        """A data set with only the modalities in ``names``."""
        names = list(names)
        if not names:
            raise ValueError(f"select at least one modality of {self.modality_names}")
        self._check_names(names, "select")
        return self._replace({key: self.modalities[key] for key in names})

    def with_modalities(self, modalities: Mapping[str, Tensor]) -> MultimodalDataset:
        """A data set with the same samples and new values for the given modalities."""
        self._check_names(modalities, "with_modalities")
        return self._replace({**self.modalities, **modalities})

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {self.kinds[k]} {self.shapes[k]}" for k in self.modality_names)
        return f"MultimodalDataset({self.name!r}, N={len(self)}, classes={self.n_classes}, {parts})"


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
