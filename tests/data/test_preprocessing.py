"""The schema on the data, the standardizer's state, and the preprocessor's matching by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.data import MultimodalDataset, Standardizer, from_csv, from_dataframe
from intermodal.data.preprocessing import Preprocessor, Schema, SchemaError, Standardize
from intermodal.data.splits import stratified_split, training_split


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Two vector modalities named by columns, a text column and class labels 10, 20, 30."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([10, 20, 30], n // 3)
    frame = pd.DataFrame(
        {
            "a.width": rng.normal(5, 2, n),
            "a.height": rng.normal(-3, 1, n),
            "a.depth": rng.normal(0, 4, n),
            "b.x": rng.normal(size=n),
            "b.y": rng.normal(size=n),
        }
    )
    frame["note"] = [f"word{label} filler" for label in labels]
    frame["target"] = labels
    return frame


def test_a_table_records_feature_and_target_names(tmp_path: Path) -> None:
    frame = table()
    frame.insert(0, "id", [f"row-{i}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = from_csv(tmp_path / "t.csv")
    assert data.modality_names == ["a", "b", "note"]  # the id column is no text modality
    assert data.metadata["id"].tolist() == frame["id"].tolist()
    assert data.features == {"a": ["width", "height", "depth"], "b": ["x", "y"]}
    assert "note" not in data.features  # text has no named features
    assert data.target_names == ["target"]
    assert data.classes == [10, 20, 30]
    labels = from_dataframe(
        pd.DataFrame({"v.0": [1.0, 2.0, 3.0], "l1": [0, 1, 1], "l2": [1, 0, 1]}),
        {"v": ["v.0"]},
        ["l1", "l2"],
    )
    assert labels.task == "multilabel" and labels.target_names == ["l1", "l2"]


def test_the_schema_is_carried_through_derived_data_sets(tmp_path: Path) -> None:
    data = from_dataframe(
        table(), {"a": ["a.width", "a.height", "a.depth"], "b": ["b.x"]}, "target"
    )
    names = {"a": ["width", "height", "depth"], "b": ["x"]}
    derived = [
        data.subset([0, 5, 7]),
        data.select(["a", "b"]),
        data.with_masks({"b": torch.arange(len(data)) % 2 == 0}),
        data.with_targets(data.targets.clone()),
        data.with_modalities({"b": data.modalities["b"] * 2}),
    ]
    for part in derived:
        assert part.features == names and part.target_names == ["target"]
    assert data.select(["a"]).features == {"a": names["a"]}
    wider = data.with_modalities({"b": torch.zeros(len(data), 4)})  # other features: positional
    assert wider.features["b"] == ["0", "1", "2", "3"] and wider.features["a"] == names["a"]


def test_arrays_get_positional_names_and_bad_names_are_refused() -> None:
    data = MultimodalDataset({"v": np.zeros((4, 3)), "s": np.zeros((4, 5, 2))}, [0, 1, 0, 1])
    assert data.features == {"v": ["0", "1", "2"], "s": ["0", "1"]}
    with pytest.raises(ValueError, match="name 2 features, but the modality has 3"):
        MultimodalDataset({"v": np.zeros((4, 3))}, [0, 1, 0, 1], features={"v": ["p", "q"]})
    with pytest.raises(ValueError, match="more than once"):
        MultimodalDataset({"v": np.zeros((4, 2))}, [0, 1, 0, 1], features={"v": ["p", "p"]})
    with pytest.raises(ValueError, match=r"only .* modalities have named features"):
        MultimodalDataset({"i": np.zeros((4, 1, 2, 2))}, [0, 1, 0, 1], features={"i": ["c"]})


def test_standardizer_state_round_trips() -> None:
    rng = np.random.default_rng(1)
    data = MultimodalDataset(
        {"x": rng.normal(3, 2, (30, 4)), "img": rng.normal(1, 5, (30, 2, 3, 3))},
        np.arange(30) % 3,
        masks={"x": np.arange(30) % 4 != 0},
    )
    fitted = Standardizer().fit(data)
    state = fitted.state_dict()
    assert sorted(state) == ["img.mean", "img.std", "x.mean", "x.std"]
    copy = Standardizer().load_state_dict({k: v.clone() for k, v in state.items()})
    for key in ("x", "img"):
        assert torch.equal(
            copy.transform(data).modalities[key], fitted.transform(data).modalities[key]
        )
    with pytest.raises(ValueError, match="need a mean and a std"):
        Standardizer().load_state_dict({"x.mean": state["x.mean"]})


def test_the_preprocessor_standardizes_as_the_standardizer_does() -> None:
    splits = stratified_split(from_csv_frame(table()), seed=0)
    reference = Standardizer().fit(splits.train)
    preprocessor = Preprocessor.fit(splits.train)
    assert sorted(preprocessor.steps) == ["a", "b"]  # text needs no step
    for part in splits:
        ours, theirs = preprocessor.transform(part), reference.transform(part)
        for key in ("a", "b"):
            assert torch.equal(ours.modalities[key], theirs.modalities[key])
        assert torch.equal(ours.modalities["note"], part.modalities["note"])
    # and against the formula, computed here
    x = splits.train.modalities["a"].double().numpy()
    expected = (x - x.mean(axis=0)) / x.std(axis=0)
    np.testing.assert_allclose(
        preprocessor.transform(splits.train).modalities["a"].numpy(), expected, rtol=1e-5, atol=1e-5
    )


def from_csv_frame(frame: pd.DataFrame) -> MultimodalDataset:
    columns = {m: [c for c in frame.columns if c.startswith(f"{m}.")] for m in ("a", "b")}
    return from_dataframe(frame, columns, "target", text={"note": "note"})


def test_reordered_features_are_matched_by_name() -> None:
    frame = table()
    data = from_csv_frame(frame)
    preprocessor = Preprocessor.fit(data)
    shuffled = from_csv_frame(
        frame[["b.y", "a.depth", "b.x", "a.width", "a.height", "note", "target"]]
    )
    assert shuffled.features["a"] == ["depth", "width", "height"]
    aligned = preprocessor.align(shuffled)
    for key in ("a", "b"):
        assert torch.equal(aligned.modalities[key], data.modalities[key])
    assert aligned.features == data.features
    assert torch.equal(
        preprocessor.transform(shuffled).modalities["a"],
        preprocessor.transform(data).modalities["a"],
    )


def test_mismatches_are_errors_that_name_what_differs() -> None:
    frame = table()
    preprocessor = Preprocessor.fit(from_csv_frame(frame))
    with pytest.raises(SchemaError, match=r"lacks features 'height' \(columns 'a.height'\)"):
        preprocessor.align(from_csv_frame(frame.drop(columns=["a.height"])))
    with pytest.raises(SchemaError, match=r"has features 'z' \(columns 'b.z'\).*not trained"):
        preprocessor.align(from_csv_frame(frame.assign(**{"b.z": 1.0})))
    extra = from_dataframe(
        frame.assign(**{"c.0": 1.0}),
        {"a": ["a.width", "a.height", "a.depth"], "b": ["b.x", "b.y"], "c": ["c.0"]},
        "target",
        text={"note": "note"},
    )
    with pytest.raises(SchemaError, match="has modalities 'c' that the model was not trained"):
        preprocessor.align(extra)
    with pytest.raises(SchemaError, match="lacks modalities 'note' that the model reads"):
        preprocessor.align(from_csv_frame(frame).select(["a", "b"]))
    regression = from_dataframe(
        frame.assign(target=frame["target"] * 0.5 + 0.1),
        {"a": ["a.width", "a.height", "a.depth"], "b": ["b.x", "b.y"]},
        "target",
        text={"note": "note"},
    )
    with pytest.raises(SchemaError, match=r"trained for classification but .* regression"):
        preprocessor.align(regression)


def test_some_classes_are_encoded_with_the_models_classes() -> None:
    frame = table()
    preprocessor = Preprocessor.fit(from_csv_frame(frame))
    some = from_csv_frame(frame[frame["target"] >= 20])
    assert some.classes == [20, 30] and sorted(set(some.targets.tolist())) == [0, 1]
    aligned = preprocessor.align(some)
    assert aligned.classes == [10, 20, 30]
    labels = np.asarray(aligned.classes)[aligned.targets.numpy()]
    np.testing.assert_array_equal(labels, frame["target"][frame["target"] >= 20].to_numpy())
    unknown = from_csv_frame(
        frame.assign(target=np.where(frame["target"] == 10, 40, frame["target"]))
    )
    with pytest.raises(SchemaError, match=r"holds classes \[40\] that the model does not know"):
        preprocessor.align(unknown)


def test_multilabel_columns_are_matched_by_name() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v.0": rng.normal(size=20), "l1": [0, 1] * 10, "l2": [1, 1, 0, 0] * 5})
    data = from_dataframe(frame, {"v": ["v.0"]}, ["l1", "l2"])
    preprocessor = Preprocessor.fit(data)
    swapped = preprocessor.align(from_dataframe(frame, {"v": ["v.0"]}, ["l2", "l1"]))
    assert torch.equal(swapped.targets, data.targets)
    with pytest.raises(SchemaError, match="missing 'l2'"):
        preprocessor.align(
            from_dataframe(frame.rename(columns={"l2": "l3"}), {"v": ["v.0"]}, ["l1", "l3"])
        )


def test_schema_json_round_trips_and_refuses_bad_documents() -> None:
    data = from_csv_frame(table())
    schema = Schema.of(data)
    assert Schema.from_json(schema.to_json()) == schema
    document = schema.to_json()
    document["modalities"]["a"]["features"] = ["width"]
    with pytest.raises(ValueError, match=r"schema.modalities.a.features"):
        Schema.from_json(document)
    with pytest.raises(ValueError, match=r"schema.task"):
        Schema.from_json({**schema.to_json(), "task": "ranking"})


def test_standardize_step_refuses_another_shape() -> None:
    step = Standardize.fit(torch.randn(10, 3), torch.ones(10, dtype=torch.bool), "vector")
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(3,\)"):
        step(torch.randn(4, 2))


def test_training_split_keeps_everything_but_the_validation_part() -> None:
    data = from_csv_frame(table(90))
    train, val, left_out = training_split(data, val_size=0.2, seed=0)
    assert (len(train), len(val), left_out) == (72, 18, 0)
    marked = data.subset(np.arange(90))
    marked.metadata["split"] = np.array(["train"] * 60 + ["test"] * 30)
    train, val, left_out = training_split(marked, val_size=0.2, seed=0)
    assert (len(train) + len(val), left_out) == (60, 30)
