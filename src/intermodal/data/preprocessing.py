"""What a model needs to read raw data: the schema of its training data and the preprocessing
fitted on the training split, kept with the model (see :class:`intermodal.models.Pipeline`).

- :class:`Schema`: the task, the original class labels (or label names, or target columns), and
  per modality its kind, per-sample shape and feature names in order.
- Preprocessing steps, one per modality, chosen by the modality's kind from
  :data:`PREPROCESSING` (``register_preprocessing``): vectors, sequences, images and audio are
  standardized with the training split's statistics (:class:`Standardize`, the math of
  :class:`~intermodal.data.splits.Standardizer`); tables are encoded by
  :class:`~intermodal.data.tabular.TabularEncoding` (numeric columns standardized, missing
  indicators, the training categories with an unknown code for new ones); text needs none (a
  text encoder carries its tokenizer). A step is a module registered with
  :func:`~intermodal.saving.register_module`, so it is saved as JSON (its constructor
  arguments) and safetensors (its buffers).
- :class:`Preprocessor`: the schema and the steps. ``align(data)`` matches data to the schema by
  name (modalities, features, class labels), ``forward(inputs, mask)`` applies the steps to
  tensors, ``transform(data)`` does both to a data set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from intermodal.data.dataset import KINDS, TASKS, MultimodalDataset
from intermodal.data.splits import DataSplits, standardization_statistics, standardize_values
from intermodal.data.tabular import TabularEncoding
from intermodal.saving import register_module


class SchemaError(ValueError):
    """Data that do not match a model's schema: a missing or extra modality or feature, another
    task, a class the model does not know. The message names what differs and what to do."""


def _shown(names: Iterable[str], limit: int = 8) -> str:
    items = list(names)
    text = ", ".join(repr(n) for n in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True)
class ModalitySchema:
    """One modality of a model's training data: its kind, its per-sample shape and, for kinds
    with named features (vector, sequence), the feature names in order."""

    kind: str
    shape: tuple[int, ...]
    features: tuple[str, ...] | None = None
    categories: Mapping[str, tuple[str, ...]] | None = None
    """A tabular modality's categorical columns and their categories (in code order)."""


@dataclass(frozen=True)
class Schema:
    """The training data of a model as it must come again: the task; ``classes``, the original
    class labels (classification) or label indices (multilabel); ``targets``, the names of the
    target columns (the labels' names for multilabel); and the modalities."""

    task: str
    classes: tuple[int, ...]
    targets: tuple[str, ...]
    modalities: Mapping[str, ModalitySchema]

    @classmethod
    def of(cls, dataset: MultimodalDataset) -> Schema:
        return cls(
            dataset.task,
            tuple(int(c) for c in dataset.classes),
            tuple(dataset.target_names),
            {
                key: ModalitySchema(
                    dataset.kinds[key],
                    dataset.shapes[key],
                    tuple(dataset.features[key]) if key in dataset.features else None,
                    {c: tuple(v) for c, v in dataset.categories[key].items()}
                    if key in dataset.categories
                    else None,
                )
                for key in dataset.modality_names
            },
        )

    @property
    def output_dim(self) -> int:
        return len(self.targets) if self.task == "regression" else len(self.classes)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": list(self.classes),
            "targets": list(self.targets),
            "modalities": {
                key: {
                    "kind": m.kind,
                    "shape": list(m.shape),
                    **({"features": list(m.features)} if m.features is not None else {}),
                    **(
                        {"categories": {c: list(v) for c, v in m.categories.items()}}
                        if m.categories is not None
                        else {}
                    ),
                }
                for key, m in self.modalities.items()
            },
        }

    @classmethod
    def from_json(cls, document: Any) -> Schema:
        """The schema of a ``to_json`` document; a malformed one is a ``ValueError`` naming the
        field."""
        if not isinstance(document, Mapping):
            raise ValueError("the schema must be an object")
        task = document.get("task")
        if task not in TASKS:
            raise ValueError(f"schema.task must be one of {list(TASKS)}, got {task!r}")
        classes = _list_of(document.get("classes"), int, "schema.classes")
        targets = _list_of(document.get("targets"), str, "schema.targets")
        if not targets or (task != "regression" and len(classes) < 2):
            raise ValueError("schema.targets is empty, or schema.classes has fewer than two")
        modalities = document.get("modalities")
        if not isinstance(modalities, Mapping) or not modalities:
            raise ValueError("schema.modalities must be a non-empty object")
        parsed = {}
        for key, entry in modalities.items():
            where = f"schema.modalities.{key}"
            if not isinstance(entry, Mapping) or entry.get("kind") not in KINDS:
                raise ValueError(f"{where}.kind must be one of {sorted(KINDS)}")
            shape = _list_of(entry.get("shape"), int, f"{where}.shape")
            features = entry.get("features")
            if features is not None:
                features = _list_of(features, str, f"{where}.features")
                if not shape or len(features) != shape[-1]:
                    raise ValueError(f"{where}.features must name the {shape[-1:]} features")
            categories = entry.get("categories")
            if categories is not None:
                if not isinstance(categories, Mapping) or not set(categories) <= set(
                    features or ()
                ):
                    raise ValueError(f"{where}.categories must map feature names to categories")
                categories = {
                    str(c): tuple(_list_of(v, str, f"{where}.categories.{c}"))
                    for c, v in categories.items()
                }
            parsed[str(key)] = ModalitySchema(
                entry["kind"],
                tuple(shape),
                None if features is None else tuple(features),
                categories,
            )
        return cls(str(task), tuple(classes), tuple(targets), parsed)

    def describe(self) -> str:
        """One line: the task and the modalities with their kinds and sizes."""
        parts = ", ".join(f"{k} ({m.kind} {m.shape})" for k, m in self.modalities.items())
        return f"{self.task} from {parts}"


def _list_of(value: Any, kind: type, where: str) -> list[Any]:
    if not isinstance(value, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{where} must be a list of {kind.__name__}")
    return value


# --- preprocessing steps -------------------------------------------------------------------


@register_module
class Standardize(nn.Module):
    """``(x - mean) / std`` of one modality with its training split's statistics, zero where
    the modality is absent: :class:`~intermodal.data.splits.Standardizer`'s math as a saved
    step. ``mean`` and ``std`` are buffers of shape ``shape`` (``(1, D)`` for vectors,
    ``(1, 1, D)`` for sequences, ``(1, C, 1, 1)`` for images, ``(1, 1)`` or ``(1, 1, 1)`` for
    audio), so that they broadcast against a batch.

    Shape:
        ``values (B, *shape), present (B,) or None -> (B, *shape)``
    """

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        if not shape or shape[0] != 1 or any(size < 1 for size in shape):
            raise ValueError(f"the statistics' shape must be (1, ...) of positive sizes: {shape}")
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    @classmethod
    def fit(cls, values: Tensor, present: Tensor, kind: str) -> Standardize:
        mean, std = standardization_statistics(values, present, kind)
        step = cls(list(mean.shape))
        step.mean.copy_(mean)
        step.std.copy_(std)
        return step

    def forward(self, values: Tensor, present: Tensor | None = None) -> Tensor:
        expected = tuple(self.mean.shape[1:])
        if values.ndim != self.mean.ndim or any(
            e != 1 and e != s for e, s in zip(expected, values.shape[1:], strict=True)
        ):
            raise ValueError(
                f"standardization fitted on samples of shape {expected} (1: any size) got a "
                f"batch of shape {tuple(values.shape)}"
            )
        return standardize_values(values, present, self.mean, self.std)


PreprocessingFit = Callable[[MultimodalDataset, str], "nn.Module | None"]
"""Fits one modality's step on the training split: ``fit(train, modality) -> step`` (or None
when the modality needs none). A step is a module of a registered class (see
:func:`~intermodal.saving.register_module`) called as ``step(values (B, *shape), present (B,) or
None) -> (B, *shape')``; a step may also define ``align(dataset, modality) -> Tensor``, the raw
values of new data matched to the training data's encoding (e.g. category codes by category
name), which :meth:`Preprocessor.align` calls after matching features by name."""

PREPROCESSING: dict[str, PreprocessingFit] = {}
"""The preprocessing of each modality kind (kinds not listed, such as text, have none)."""


def register_preprocessing(*kinds: str) -> Callable[[PreprocessingFit], PreprocessingFit]:
    """Decorator: ``fit(train, modality)`` gives the preprocessing step of modalities of
    ``kinds`` (replacing the one registered before)."""

    def decorate(fit: PreprocessingFit) -> PreprocessingFit:
        for kind in kinds:
            PREPROCESSING[kind] = fit
        return fit

    return decorate


@register_preprocessing("tabular")
def fit_tabular(train: MultimodalDataset, key: str) -> TabularEncoding:
    """A tabular modality's encoding (see :class:`~intermodal.data.tabular.TabularEncoding`):
    numeric columns standardized on the training rows, missing indicators, the training
    categories."""
    return TabularEncoding.fit(train, key)


@register_preprocessing("vector", "sequence", "image", "audio")
def fit_standardize(train: MultimodalDataset, key: str) -> Standardize:
    """Standardization with the statistics of the samples where ``key`` is present."""
    if not bool(train.masks[key].any()):
        raise ValueError(f"modality {key!r} is absent in every training sample")
    return Standardize.fit(train.modalities[key], train.masks[key], train.kinds[key])


# --- the preprocessor ----------------------------------------------------------------------


@register_module
class Preprocessor(nn.Module):
    """The schema of a model's training data and the preprocessing fitted on it, per modality.

    Build it with :meth:`fit` on the training split. ``transform`` gives the data a model trains
    on; a :class:`~intermodal.models.Pipeline` applies it to raw data before its model.

    Args:
        schema: :meth:`Schema.to_json` of the training data.
        steps: modality name -> its step (see :data:`PreprocessingFit`); modalities without one
            pass unchanged.

    Shape:
        ``forward({m: (B, *shape_m)}, mask {m: (B,)}) -> {m: (B, *shape_m')}``
    """

    def __init__(self, schema: dict[str, Any], steps: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.schema = Schema.from_json(schema)
        unknown = sorted(set(steps) - set(self.schema.modalities))
        if unknown:
            raise ValueError(f"steps name modalities {unknown} that the schema does not have")
        self.steps = nn.ModuleDict({key: steps[key] for key in sorted(steps)})

    @classmethod
    def fit(cls, train: MultimodalDataset) -> Preprocessor:
        """The schema of ``train`` and each modality's step fitted on it (by kind, see
        :data:`PREPROCESSING`)."""
        steps = {}
        for key in train.modality_names:
            fit = PREPROCESSING.get(train.kinds[key])
            step = fit(train, key) if fit is not None else None
            if step is not None:
                steps[key] = step
        return cls(Schema.of(train).to_json(), steps)

    @property
    def modalities(self) -> list[str]:
        return list(self.schema.modalities)

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        out = dict(inputs)
        for key, step in self.steps.items():
            if key in out:
                out[key] = step(out[key], None if mask is None else mask.get(key))
        return out

    def transform(
        self, dataset: MultimodalDataset, modalities: Sequence[str] | None = None
    ) -> MultimodalDataset:
        """``dataset`` matched to the schema (:meth:`align`) and preprocessed: what a model of
        this schema reads."""
        aligned = self.align(dataset, modalities)
        values = {
            key: step(aligned.modalities[key], aligned.masks[key])
            for key, step in self.steps.items()
            if key in aligned.modalities
        }
        features = {  # steps that change a modality's columns name the new ones
            key: list(names)
            for key in values
            if (names := getattr(self.steps[key], "output_features", None)) is not None
        }
        return aligned.with_modalities(values, features) if values else aligned

    def transform_splits(self, splits: DataSplits) -> DataSplits:
        return DataSplits(*(self.transform(part) for part in splits))

    # --- matching by name ----------------------------------------------------------------------
    def align(
        self, dataset: MultimodalDataset, modalities: Sequence[str] | None = None
    ) -> MultimodalDataset:
        """``dataset`` in the encoding of the training data: modalities and features matched by
        name (features put in the training order), class labels encoded with the model's
        classes (a data set of some of the classes is scored correctly), target columns by name.

        Args:
            modalities: the modalities needed (a model's); default all of the schema. Others of
                the schema may be missing and are dropped.

        Raises:
            SchemaError: another task; a modality or feature the model was not trained on, or
                one it needs that the data lack; a class label the model does not know.
        """
        schema = self.schema
        needed = list(schema.modalities) if modalities is None else list(modalities)
        if dataset.task != schema.task:
            raise SchemaError(
                f"the model was trained for {schema.task} but {dataset.name} is a "
                f"{dataset.task} data set; use data of the model's task (--task {schema.task} "
                "reads a file's targets as such)"
            )
        extra = [k for k in dataset.modality_names if k not in schema.modalities]
        if extra:
            raise SchemaError(
                f"{dataset.name} has modalities {_shown(extra)} that the model was not trained "
                f"on (it knows {_shown(schema.modalities)}); drop them (dataset.select, or "
                f"--modalities {','.join(k for k in dataset.modality_names if k not in extra)})"
            )
        lacking = [k for k in needed if k not in dataset.modalities]
        if lacking:
            raise SchemaError(
                f"{dataset.name} lacks modalities {_shown(lacking)} that the model reads; add "
                "them (leave a sample's values empty, NaN, where it does not have one: it is "
                "marked absent)"
            )
        data = dataset if needed == dataset.modality_names else dataset.select(needed, "keep")
        values = {key: self._match(data, key) for key in needed}
        for key in needed:
            step = self.steps[key] if key in self.steps else None
            own = getattr(step, "align", None)
            if callable(own):
                values[key] = own(data.with_modalities({key: values[key]}), key)
        targets = self._targets(data)
        return MultimodalDataset(
            values,
            targets,
            masks=data.masks,
            kinds={key: schema.modalities[key].kind for key in needed},
            metadata=data.metadata,
            name=data.name,
            classes=list(schema.classes),
            task=schema.task,
            features={
                key: list(features)
                for key in needed
                if (features := schema.modalities[key].features) is not None
            },
            target_names=list(schema.targets),
            categories={  # the categories that a step kept (seen in training), else the schema's
                key: {
                    c: list(v)
                    for c, v in getattr(
                        self.steps[key] if key in self.steps else None,
                        "categories",
                        schema.modalities[key].categories or {},
                    ).items()
                }
                for key in needed
                if schema.modalities[key].kind == "tabular"
            },
        )

    def _match(self, data: MultimodalDataset, key: str) -> Tensor:
        """Modality ``key``'s values with its features in the training order."""
        expected = self.schema.modalities[key]
        kind, values = data.kinds[key], data.modalities[key]
        if kind == "vector" and expected.kind == "tabular":
            kind = "tabular"  # a table of numeric columns (the encoding checks their types)
        if kind != expected.kind:
            raise SchemaError(
                f"modality {key!r} is {kind} in {data.name}, but the model was trained on "
                f"{expected.kind} data for it; give it as in training"
            )
        if expected.features is not None:
            names = data.features[key]
            missing = [n for n in expected.features if n not in set(names)]
            if missing:
                raise SchemaError(
                    f"modality {key!r} of {data.name} lacks features {_shown(missing)} (columns "
                    f"{_shown(f'{key}.{n}' for n in missing)}) that the model was trained on; "
                    "add them"
                )
            unknown = [n for n in names if n not in set(expected.features)]
            if unknown:
                raise SchemaError(
                    f"modality {key!r} of {data.name} has features {_shown(unknown)} (columns "
                    f"{_shown(f'{key}.{n}' for n in unknown)}) that the model was not trained "
                    "on; drop them"
                )
            if list(names) != list(expected.features):
                position = {name: i for i, name in enumerate(names)}
                order = torch.tensor([position[n] for n in expected.features])
                values = values.index_select(values.ndim - 1, order)
            return values  # the names fix the feature axis; a sequence's length is free
        if kind == "image" and tuple(values.shape[1:]) != expected.shape:
            raise SchemaError(
                f"modality {key!r} of {data.name} has images of shape "
                f"{tuple(values.shape[1:])}, but the model was trained on {expected.shape} "
                "(C, H, W); resize them to the training size"
            )
        if kind == "audio" and (
            values.ndim - 1 != len(expected.shape)
            or (len(expected.shape) == 2 and values.shape[1] != expected.shape[0])
        ):
            raise SchemaError(
                f"modality {key!r} of {data.name} has samples of shape "
                f"{tuple(values.shape[1:])}, but the model was trained on {expected.shape}; give "
                "it as many channels as in training"
            )
        return values

    def _targets(self, data: MultimodalDataset) -> Tensor:
        """The targets of ``data`` in the model's encoding."""
        schema = self.schema
        if schema.task == "classification":
            return encode_labels(
                np.asarray(data.classes)[data.targets.numpy()], schema.classes, data.name
            )
        if data.target_names == list(schema.targets) or (
            schema.task == "regression" and len(schema.targets) == 1 == len(data.target_names)
        ):
            return data.targets
        what = "labels" if schema.task == "multilabel" else "target columns"
        missing = [n for n in schema.targets if n not in data.target_names]
        unknown = [n for n in data.target_names if n not in schema.targets]
        if missing or unknown:
            raise SchemaError(
                f"{data.name} has the {what} {_shown(data.target_names)}, but the model's are "
                f"{_shown(schema.targets)} (missing {_shown(missing)}, unknown "
                f"{_shown(unknown)}); name them as in training"
            )
        order = torch.tensor([data.target_names.index(n) for n in schema.targets])
        return data.targets.index_select(1, order)


def encode_labels(labels: np.ndarray, classes: Sequence[int], name: str = "the data") -> Tensor:
    """Class ``labels`` ``(N,)`` (original values) as indices into a model's ``classes``.

    Raises:
        SchemaError: a label that is not an integer or not among ``classes``.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise SchemaError(f"the class labels of {name} must be integers")
    elif labels.dtype.kind not in "biu":
        raise SchemaError(f"the class labels of {name} must be integers, got {labels.dtype}")
    known = np.asarray(classes, dtype=np.int64)
    order = np.argsort(known, kind="stable")
    as_int = labels.astype(np.int64)
    slot = np.minimum(np.searchsorted(known[order], as_int), len(known) - 1)
    found = known[order][slot] == as_int
    if not found.all():
        unknown = np.unique(as_int[~found]).tolist()
        raise SchemaError(
            f"{name} holds classes {unknown[:8]} that the model does not know (it predicts "
            f"{list(classes)[:20]}); drop those samples, or train a model on them"
        )
    return torch.from_numpy(order[slot].astype(np.int64))


__all__ = [
    "PREPROCESSING",
    "ModalitySchema",
    "Preprocessor",
    "Schema",
    "SchemaError",
    "Standardize",
    "encode_labels",
    "fit_standardize",
    "fit_tabular",
    "register_preprocessing",
]
