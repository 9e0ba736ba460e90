"""Using a saved model on new data: read the data by the model's schema, predict, evaluate.

What ``intermodal predict`` and ``intermodal evaluate`` run. A model saved with its
preprocessing (a :class:`~intermodal.models.Pipeline`: ``intermodal bench`` and
``intermodal train`` save one) reads raw data: a table's columns are matched to its modalities
and features by name, class labels are encoded with its classes, and rows where a modality's
columns are all empty have that modality absent.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from intermodal._io import check_writable, write_text_atomic
from intermodal.data.dataset import MultimodalDataset
from intermodal.data.preprocessing import Schema, SchemaError, encode_labels
from intermodal.data.readers import ID_COLUMN, _read_csv, read_parquet_frame, table_modalities
from intermodal.metrics import evaluate, predict_outputs
from intermodal.models.pipeline import Pipeline
from intermodal.saving import PreprocessingWarning, load_model

INDEX_COLUMN = "Unnamed: 0"
"""How pandas reads back the unnamed index column that ``DataFrame.to_csv`` writes."""


def load_pipeline(directory: str | os.PathLike[str]) -> Pipeline:
    """A saved model that reads raw data.

    Raises:
        FileNotFoundError: ``directory`` holds no saved model.
        ValueError: its files are corrupt (``CorruptModelError``), or the model was saved without
            its preprocessing (by an earlier version, or not as a ``Pipeline``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreprocessingWarning)
        model = load_model(directory)
    if not isinstance(model, Pipeline):
        raise ValueError(
            f"{directory} holds a model saved without its preprocessing (by an earlier "
            "intermodal, or not as a Pipeline), so it cannot read raw data or match columns by "
            "name; train it again with intermodal train (or intermodal bench), or in Python "
            "load it with load_model and give it data standardized as in training"
        )
    return model


@dataclass(frozen=True)
class ModelData:
    """Data read for a model: ``data`` matched to its schema (raw values); ``ids`` the rows'
    ids (a table's ``id`` column or saved index), or None; ``labelled`` whether the data hold
    targets (``evaluate`` needs them, ``predict`` does not)."""

    data: MultimodalDataset
    ids: pd.Series | None
    labelled: bool


def read_for_model(
    source: str | os.PathLike[str] | pd.DataFrame | MultimodalDataset,
    pipeline: Pipeline,
    *,
    data_dir: str | None = None,
    trust_pickle: bool = False,
    task: str | None = None,
    modalities: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
) -> ModelData:
    """Read ``source`` as ``pipeline``'s schema says: a CSV or Parquet file or a data frame
    (columns ``<modality>.<feature>``, text columns by modality name, the target columns
    optional), or any data set ``load_dataset`` reads (those hold targets), or a data set.

    Args:
        task: the task to read the targets as; it must be the model's (default).
        modalities: keep only these modalities of the data (others are an error otherwise).
        column_types: column -> type, as for reading training data (see
            :func:`~intermodal.data.from_dataframe`); a table's columns get the types of the
            model's schema first (:func:`schema_column_types`), these on top.

    Raises:
        SchemaError: another task, missing or extra modalities, features or target columns, or
            class labels the model does not know (each named).
    """
    schema = pipeline.schema
    if task is not None and task != schema.task:
        raise SchemaError(
            f"the model was trained for {schema.task}, not {task}; evaluate it on data of its "
            "task (leave out --task)"
        )
    ids = None
    if isinstance(source, MultimodalDataset):
        data, labelled = source, True
    elif isinstance(source, pd.DataFrame):
        data, ids, labelled = _from_table(source, schema, "the data frame", True, column_types)
    else:
        path = Path(source)
        suffix = path.suffix.lower()
        frame = None
        if suffix == ".csv" and path.is_file():
            frame = _read_csv(path)
            frame = None if "image" in frame.columns else frame  # a folder of images
        elif suffix == ".parquet":
            frame = read_parquet_frame(path)
        if frame is not None:
            data, ids, labelled = _from_table(
                frame, schema, path.stem, suffix == ".parquet", column_types
            )
        else:
            from intermodal.data import load_dataset

            data = load_dataset(
                str(source),
                data_dir,
                trust_pickle=trust_pickle,
                task=schema.task,
                column_types=column_types,
            )
            labelled = True
    if modalities:
        data = data.select(modalities, empty="keep")
    return ModelData(pipeline.prepare(data), ids, labelled)


def schema_column_types(schema: Schema) -> dict[str, str]:
    """The column types that read a table as a model's training data were read: each column of
    a tabular modality (named ``<modality>.<feature>``, or ``<feature>`` in the modality
    ``tabular``) numeric or categorical as in training, and each text modality's column
    text."""
    types: dict[str, str] = {}
    for key, modality in schema.modalities.items():
        if modality.kind == "text":
            types[key] = "text"
        if modality.kind != "tabular" or modality.features is None:
            continue
        categorical = set(modality.categories or {})
        for feature in modality.features:
            kind = "categorical" if feature in categorical else "numeric"
            types[f"{key}.{feature}"] = kind
            if key == "tabular":
                types.setdefault(feature, kind)
    return types


def _from_table(
    frame: pd.DataFrame,
    schema: Schema,
    name: str,
    keep_index: bool,
    column_types: Mapping[str, str] | None = None,
) -> tuple[MultimodalDataset, pd.Series | None, bool]:
    """A table as a data set of ``schema`` (targets encoded with its classes), its ids and
    whether it holds the targets."""
    ids = None
    id_column = next((c for c in (ID_COLUMN, INDEX_COLUMN) if c in frame.columns), None)
    if id_column is not None:
        ids = frame[id_column].rename(ID_COLUMN if id_column == ID_COLUMN else "index")
    elif keep_index and not isinstance(frame.index, pd.RangeIndex):
        ids = pd.Series(frame.index, name=frame.index.name or "index")
    targets = [c for c in schema.targets if c in frame.columns]
    if targets and len(targets) < len(schema.targets):
        missing = [c for c in schema.targets if c not in frame.columns]
        raise SchemaError(
            f"{name} has the target columns {targets} but not {missing}; give every target "
            "column of the model, or none to predict"
        )
    excluded = {*targets, "split", *([id_column] if id_column else [])}
    types = {**schema_column_types(schema), **(column_types or {})}
    unknown = sorted(set(column_types or {}) - {str(c) for c in frame.columns})
    if unknown:
        raise SchemaError(f"column types name columns {unknown} that {name} lacks")
    arrays, present, kinds, features, categories = table_modalities(frame, excluded, types)
    values = _table_targets(frame, schema, name) if targets else _no_targets(schema, len(frame))
    data = MultimodalDataset(
        arrays,
        values,
        masks=present,
        kinds=kinds,
        name=name,
        classes=list(schema.classes),
        task=schema.task,
        features=features,
        target_names=list(schema.targets),
        categories=categories,
    )
    return data, None if ids is None else ids.reset_index(drop=True), bool(targets)


def _table_targets(frame: pd.DataFrame, schema: Schema, name: str) -> torch.Tensor:
    columns = list(schema.targets)
    values = frame[columns]
    if values.isna().to_numpy().any():
        row = int(np.flatnonzero(values.isna().to_numpy().any(axis=1))[0])
        raise ValueError(
            f"{name}: the target columns {columns} are empty in row {row}; fill them in, or "
            "drop the target columns to predict without scoring"
        )
    if schema.task == "classification":
        return encode_labels(values[columns[0]].to_numpy(), schema.classes, name)
    try:
        array = values.to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: the target columns {columns} must hold numbers") from None
    if schema.task == "multilabel" and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name}: the label columns {columns} must hold only 0 and 1")
    return torch.from_numpy(array[:, 0] if len(columns) == 1 else array)


def _no_targets(schema: Schema, n: int) -> torch.Tensor:
    """Stand-in targets of data to predict (never scored)."""
    if schema.task == "classification":
        return torch.zeros(n, dtype=torch.long)
    if schema.task == "regression" and len(schema.targets) == 1:
        return torch.zeros(n)
    return torch.zeros(n, len(schema.targets))


def predictions_table(pipeline: Pipeline, data: ModelData, threshold: float = 0.5) -> pd.DataFrame:
    """One row per sample, in the data's order, the id column first (when the data have one):

    - classification: ``prediction`` (the original class label) and ``probability.<class>``;
    - multilabel: ``prediction.<label>`` (1 when the probability is at least ``threshold``) and
      ``probability.<label>``;
    - regression: ``prediction`` (one target) or ``prediction.<target>``, in the targets' units.
    """
    schema = pipeline.schema
    outputs = predict_outputs(pipeline, data.data).double()
    columns: dict[str, object] = {}
    if data.ids is not None:
        columns[str(data.ids.name)] = data.ids.to_numpy()
    if schema.task == "classification":
        probabilities = torch.softmax(outputs, dim=1).numpy()
        columns["prediction"] = np.asarray(schema.classes)[probabilities.argmax(axis=1)]
        for i, value in enumerate(schema.classes):
            columns[f"probability.{value}"] = probabilities[:, i]
    elif schema.task == "multilabel":
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"the threshold must be a probability in (0, 1), got {threshold}")
        probabilities = torch.sigmoid(outputs).numpy()
        for i, label in enumerate(schema.targets):
            columns[f"prediction.{label}"] = (probabilities[:, i] >= threshold).astype(int)
        for i, label in enumerate(schema.targets):
            columns[f"probability.{label}"] = probabilities[:, i]
    else:
        values = outputs.reshape(len(outputs), -1).numpy()
        if values.shape[1] == 1:
            columns["prediction"] = values[:, 0]
        else:
            for i, target in enumerate(schema.targets):
                columns[f"prediction.{target}"] = values[:, i]
    return pd.DataFrame(columns)


def check_output(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Check, before any work, that a predictions file can be written at ``path``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; name a CSV file for the predictions")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite or another --output")
    check_writable(
        path.parent if str(path.parent) else Path("."), "folder", "; choose another --output"
    )
    return path


def write_predictions(
    table: pd.DataFrame, path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Write ``table`` as CSV, atomically (never a half-written file)."""
    path = check_output(path, overwrite)
    write_text_atomic(path, table.to_csv(index=False))
    return path


def evaluate_model(
    pipeline: Pipeline, data: ModelData, *, sentiment: bool = False, threshold: float = 0.5
) -> dict[str, float]:
    """Every metric of the model's task on ``data`` (see :func:`intermodal.metrics.evaluate`).

    Raises:
        ValueError: the data hold no targets.
    """
    if not data.labelled:
        raise ValueError(
            f"{data.data.name} has no target column {list(pipeline.schema.targets)}: evaluate "
            "scores the model against the true targets (intermodal predict needs none)"
        )
    return evaluate(pipeline, data.data, sentiment=sentiment, threshold=threshold)


__all__ = [
    "ModelData",
    "check_output",
    "evaluate_model",
    "load_pipeline",
    "predictions_table",
    "read_for_model",
    "write_predictions",
]
