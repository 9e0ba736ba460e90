from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from intermodal.data import Batch, MultimodalDataset, collate


def make(n: int = 6) -> MultimodalDataset:
    rng = np.random.default_rng(0)
    return MultimodalDataset(
        {
            "vec": rng.normal(size=(n, 4)),
            "img": torch.randn(n, 1, 3, 3),
            "seq": rng.normal(size=(n, 5, 2)),
        },
        np.array([3, 7, 3, 7, 3, 7][:n]),
        masks={"img": np.array([True, False, True, True, False, True][:n])},
        metadata={"speaker": np.arange(n) % 2},
    )


def test_modalities_sorted_kinds_inferred_and_labels_encoded() -> None:
    data = make()
    assert data.modality_names == ["img", "seq", "vec"]
    assert data.kinds == {"img": "image", "seq": "sequence", "vec": "vector"}
    assert data.shapes == {"img": (1, 3, 3), "seq": (5, 2), "vec": (4,)}
    assert data.classes == [3, 7] and data.targets.tolist() == [0, 1, 0, 1, 0, 1]
    assert all(v.dtype == torch.float32 for v in data.modalities.values())


def test_sample_and_batch_agree() -> None:
    data = make()
    sample = data[1]
    assert torch.equal(sample.inputs["vec"], data.modalities["vec"][1])
    assert sample.mask["img"].item() is False and sample.mask["vec"].item() is True
    batch = data.__getitems__([4, 1])
    stacked = collate([data[4], data[1]])
    for key in data.modality_names:
        assert torch.equal(batch.inputs[key], stacked.inputs[key])
        assert torch.equal(batch.mask[key], stacked.mask[key])
    assert torch.equal(batch.target, stacked.target)


def test_dataloader_yields_batches() -> None:
    data = make()
    batches = list(DataLoader(data, batch_size=4, collate_fn=collate))
    assert [len(b.target) for b in batches] == [4, 2]
    assert isinstance(batches[0], Batch)
    assert batches[0].inputs["img"].shape == (4, 1, 3, 3)


def test_subset_and_select_keep_encoding_and_metadata() -> None:
    data = make()
    part = data.subset([1, 3])
    assert part.classes == [3, 7] and part.targets.tolist() == [1, 1]
    assert part.metadata["speaker"].tolist() == [1, 1]
    assert part.masks["img"].tolist() == [False, True]
    assert data.select(["vec"]).modality_names == ["vec"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"modalities": {"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}}, ValueError, "has 4 rows"),
        ({"modalities": {"a": np.array([[0.0, np.nan]] * 3)}}, ValueError, "NaN"),
        ({"modalities": {"a": np.array([[np.inf, 0.0]] * 3)}}, ValueError, "NaN or infinite"),
        ({"modalities": {}}, ValueError, "non-empty"),
        ({"modalities": {"a": np.zeros((3,))}}, ValueError, "reshape a single"),
        (
            {"targets": np.array([0.0, 0.5, 1.0]), "task": "classification"},
            ValueError,
            "pass task='regression'",
        ),
        ({"targets": np.array(["x", "y", "z"])}, ValueError, "must be numbers"),
        ({"targets": np.array([])}, ValueError, "empty"),
        ({"targets": np.array([4, 4, 4])}, ValueError, "at least two classes"),
        ({"targets": np.array([0.5, np.nan, 1.0])}, ValueError, "NaN or infinite values"),
        ({"targets": np.array([[0, 1], [1, 2], [0, 0]])}, ValueError, "regression"),
        (
            {"targets": np.array([[0, 1], [1, 2], [0, 0]]), "task": "multilabel"},
            ValueError,
            "only 0 and 1",
        ),
        ({"targets": np.array([0, 1, 1]), "task": "ranking"}, ValueError, "unknown task"),
        (
            {"masks": {"a": np.array([True, False, True])}},
            ValueError,
            "every modality absent (rows [1])",
        ),
        ({"masks": {"nope": np.ones(3, bool)}}, KeyError, "unknown modalities ['nope']"),
        ({"kinds": {"a": "smell"}}, ValueError, "unknown kind"),
        ({"kinds": {"a": "image"}}, ValueError, "per-sample shape is (2,)"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(kwargs, error, message) -> None:
    arguments = {"modalities": {"a": np.zeros((3, 2))}, "targets": np.array([0, 1, 1]), **kwargs}
    if message == "regression":  # a (N, K) matrix of other numbers is a regression target
        assert MultimodalDataset(**arguments).task == "regression"
        return
    if "targets" in kwargs and len(kwargs["targets"]) == 0:
        arguments["modalities"] = {"a": np.zeros((0, 2))}
    with pytest.raises(error, match=re.escape(message)):
        MultimodalDataset(**arguments)


def test_select_unknown_modality_names_them() -> None:
    with pytest.raises(KeyError, match="nope"):
        make().select(["vec", "nope"])


def test_integral_float_labels_are_accepted() -> None:
    data = MultimodalDataset({"a": np.zeros((3, 1))}, np.array([2.0, 0.0, 2.0]))
    assert data.classes == [0, 2] and data.targets.tolist() == [1, 0, 1]


def test_the_task_is_inferred_from_the_targets_or_given() -> None:
    x = {"a": np.zeros((4, 2))}
    classes = MultimodalDataset(x, np.array([3, 1, 3, 1]))
    assert (classes.task, classes.output_dim, classes.targets.dtype) == (
        "classification",
        2,
        torch.int64,
    )
    labels = MultimodalDataset(x, np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]]))
    assert (labels.task, labels.output_dim, labels.targets.dtype) == (
        "multilabel",
        3,
        torch.float32,
    )
    assert labels.targets[1].sum() == 0  # a sample without any label is allowed
    values = MultimodalDataset(x, np.array([0.5, -1.25, 2.0, 0.0]))
    assert (values.task, values.output_dim) == ("regression", 1)
    several = MultimodalDataset(x, np.array([[0.5, 1.0], [1.5, 2.0], [0.0, 3.5], [1.0, 0.0]]))
    assert (several.task, several.output_dim) == ("regression", 2)
    ratings = MultimodalDataset(x, np.array([1, 5, 3, 4]), task="regression")
    assert ratings.task == "regression" and ratings.targets.tolist() == [1.0, 5.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="has no classes"):
        _ = values.n_classes
    part = several.subset([2, 0])
    assert part.task == "regression" and part.targets.tolist() == [[0.0, 3.5], [0.5, 1.0]]
