"""A model that carries its preprocessing: trained on raw data, saved, loaded, applied to raw
data matched by name, and older models that carry none."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from intermodal import load_model, save_model
from intermodal.data import MultimodalDataset, Standardizer, stratified_split
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.metrics import evaluate, predict, predict_outputs
from intermodal.models import FusionClassifier, Pipeline, bare_model
from intermodal.saving import CorruptModelError, PreprocessingWarning
from intermodal.training import fit


def raw_data(seed: int = 0) -> MultimodalDataset:
    """Two vector modalities on very different scales, classes labelled 10, 20 and 30."""
    rng = np.random.default_rng(seed)
    y = np.repeat([10, 20, 30], 30)
    centers = rng.normal(size=(3, 4)) * 3
    a = 1000.0 + 50.0 * (centers[y // 10 - 1] + rng.normal(size=(90, 4)))
    b = 0.01 * rng.normal(size=(90, 3)) + 0.01 * (y[:, None] // 10)
    return MultimodalDataset({"a": a, "b": b}, y, features={"a": ["p", "q", "r", "s"]})


def model() -> FusionClassifier:
    torch.manual_seed(0)
    return FusionClassifier(
        {"a": MLP(4, 8), "b": MLP(3, 8)}, ConcatFusion({"a": 8, "b": 8}, 8), MLP(8, 3)
    )


@pytest.fixture(scope="module")
def trained() -> tuple[Pipeline, object]:
    splits = stratified_split(raw_data(), seed=0)
    result = fit(model(), splits, preprocess=True, max_epochs=5, patience=5, seed=0)
    assert isinstance(result.model, Pipeline)
    return result.model, splits


def test_a_pipeline_predicts_on_raw_data_as_its_model_on_standardized_data(trained) -> None:
    pipeline, splits = trained
    reference = Standardizer().fit(splits.train).transform(splits.test)  # the old, manual way
    expected = predict_outputs(bare_model(pipeline), reference)
    assert torch.equal(predict_outputs(pipeline, splits.test), expected)
    assert evaluate(pipeline, splits.test) == evaluate(bare_model(pipeline), reference)
    labels = predict(pipeline, splits.test)
    assert set(labels.tolist()) <= {10, 20, 30}
    np.testing.assert_array_equal(labels.numpy(), np.array([10, 20, 30])[expected.argmax(1)])


def test_saved_with_its_preprocessing_and_loaded_without_a_warning(trained, tmp_path) -> None:
    pipeline, splits = trained
    save_model(pipeline, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format_version"] == 3 and config["model"]["class"] == "Pipeline"
    schema = config["model"]["config"]["preprocessor"]["__module__"]["config"]["schema"]
    assert schema["classes"] == [10, 20, 30]
    assert schema["modalities"]["a"]["features"] == ["p", "q", "r", "s"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreprocessingWarning)
        loaded = load_model(tmp_path / "m")
    torch.testing.assert_close(
        predict_outputs(loaded, splits.test), predict_outputs(pipeline, splits.test), rtol=0, atol=0
    )
    mean = loaded.preprocessor.steps["a"].mean
    torch.testing.assert_close(
        mean.flatten(), splits.train.modalities["a"].double().mean(0).float(), rtol=1e-6, atol=0
    )


def test_features_are_matched_by_name_and_classes_by_label(trained) -> None:
    pipeline, splits = trained
    test = splits.test
    order = [3, 1, 0, 2]
    reordered = MultimodalDataset(
        {"a": test.modalities["a"][:, order], "b": test.modalities["b"]},
        np.asarray(test.classes)[test.targets.numpy()],
        features={"a": [test.features["a"][i] for i in order]},
    )
    assert torch.equal(predict(pipeline, reordered), predict(pipeline, test))
    keep = np.flatnonzero(np.asarray(test.classes)[test.targets.numpy()] >= 20)
    part = MultimodalDataset(
        {k: v[keep] for k, v in test.modalities.items()},
        np.asarray(test.classes)[test.targets.numpy()][keep],
        features={"a": test.features["a"]},
    )
    assert part.classes == [20, 30]  # encoded 0, 1 on their own
    truth = np.asarray(test.classes)[test.targets.numpy()][keep]
    predicted = predict(pipeline, test).numpy()[keep]
    assert predict(pipeline, part).tolist() == predicted.tolist()
    assert evaluate(pipeline, part)["accuracy"] == pytest.approx(float(np.mean(predicted == truth)))
    with pytest.raises(ValueError, match=r"gives 3 outputs, but .* encodes 2 classes"):
        evaluate(bare_model(pipeline), part)


def test_a_pipeline_trains_again_with_its_own_preprocessing(trained) -> None:
    pipeline, splits = trained
    again = fit(pipeline, splits, max_epochs=1, patience=1, seed=1).model
    assert isinstance(again, Pipeline) and again.preprocessor is pipeline.preprocessor


def test_older_and_bare_models_load_with_a_warning(trained, tmp_path: Path) -> None:
    pipeline, _ = trained
    save_model(bare_model(pipeline), tmp_path / "bare")
    with pytest.warns(PreprocessingWarning, match="saved without its preprocessing"):
        load_model(tmp_path / "bare")
    config_path = tmp_path / "bare" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "format_version": 2}))
    with pytest.warns(PreprocessingWarning, match=r"format version 2.*standardized as in training"):
        load_model(tmp_path / "bare")


def test_a_damaged_schema_is_a_corrupt_model(trained, tmp_path: Path) -> None:
    pipeline, _ = trained
    save_model(pipeline, tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    schema = config["model"]["config"]["preprocessor"]["__module__"]["config"]["schema"]
    schema["modalities"]["a"]["features"] = ["p"]
    path.write_text(json.dumps(config))
    with pytest.raises(CorruptModelError, match=r"Preprocessor cannot be built.*features"):
        load_model(tmp_path / "m")


def test_a_text_modality_keeps_its_tokenizer_and_needs_no_step(tmp_path: Path) -> None:
    from intermodal.encoders import default_encoder

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    texts = [f"{'good fine' if label else 'bad poor'} item {i}" for i, label in enumerate(y)]
    data = MultimodalDataset({"v": rng.normal(size=(40, 2)) * 100, "t": texts}, y)
    splits = stratified_split(data, seed=0)
    torch.manual_seed(0)
    encoders = {
        "v": MLP(2, 4),
        "t": default_encoder("text", data.shapes["t"], 4, data=splits.train.modalities["t"]),
    }
    model = FusionClassifier(encoders, ConcatFusion({"t": 4, "v": 4}, 4), MLP(4, 2))
    pipeline = fit(model, splits, preprocess=True, max_epochs=2).model
    assert sorted(pipeline.preprocessor.steps) == ["v"]
    save_model(pipeline, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert torch.equal(predict(loaded, splits.test), predict(pipeline, splits.test))
