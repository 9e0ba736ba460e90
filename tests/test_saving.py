from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import intermodal.saving as saving
from intermodal import load_model, save_model
from intermodal.encoders import MLP, CNNEncoder, SequenceEncoder
from intermodal.fusion import ConcatFusion, LateFusion
from intermodal.models import FusionClassifier


def model() -> FusionClassifier:
    torch.manual_seed(0)
    encoders = {
        "img": CNNEncoder(1, 8, channels=(4, 4)),
        "seq": SequenceEncoder(3, 8, architecture="transformer", num_heads=2, max_length=16),
        "vec": MLP(5, 8, hidden_dims=(6,), final_activation=True),
    }
    return FusionClassifier(encoders, ConcatFusion(dict.fromkeys(encoders, 8), 12), MLP(12, 3))


def inputs() -> dict[str, torch.Tensor]:
    return {"img": torch.randn(4, 1, 6, 6), "seq": torch.randn(4, 7, 3), "vec": torch.randn(4, 5)}


def test_round_trip_rebuilds_the_same_model(tmp_path: Path) -> None:
    original = model()
    with torch.no_grad():  # give batch-norm statistics non-default values
        original.encoders["img"].features[1].running_mean.fill_(0.3)
    original.eval()
    save_model(original, tmp_path / "m", metadata={"accuracy": 0.5})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["class"] == "FusionClassifier"
    weights = (tmp_path / "m" / "model.safetensors").read_bytes()
    assert config["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    loaded = load_model(tmp_path / "m").eval()
    x = inputs()
    torch.testing.assert_close(loaded(x), original(x), rtol=0, atol=0)
    assert saving.model_metadata(tmp_path / "m") == {"accuracy": 0.5}


def test_late_fusion_without_head_round_trips(tmp_path: Path) -> None:
    original = FusionClassifier(
        {"a": MLP(3, 4), "b": MLP(2, 4)}, LateFusion({"a": 4, "b": 4}, 5, "learned")
    )
    save_model(original, tmp_path / "late")
    x = {"a": torch.randn(2, 3), "b": torch.randn(2, 2)}
    torch.testing.assert_close(load_model(tmp_path / "late")(x), original(x))


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    save_model(model(), tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite"):
        save_model(model(), tmp_path / "m")
    save_model(model(), tmp_path / "m", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(saving, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(model(), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_truncated_weights_give_a_clear_error(tmp_path: Path) -> None:
    save_model(model(), tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match="corrupt: checksum mismatch"):
        load_model(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["weights_sha256"]
    config["format_version"] = 1  # saved before checksums: the reader finds the damage
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="checksum"):
        with pytest.raises(ValueError, match="corrupt or truncated"):
            load_model(tmp_path / "m")


def test_truncated_config_gives_a_clear_error(tmp_path: Path) -> None:
    save_model(model(), tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(config.read_text()[:40])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_model(tmp_path / "m")


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    save_model(model(), tmp_path / "a")
    save_model(
        FusionClassifier({"vec": MLP(5, 8)}, ConcatFusion({"vec": 8}, 4), MLP(4, 3)), tmp_path / "b"
    )
    weights = (tmp_path / "b" / "model.safetensors").read_bytes()
    (tmp_path / "a" / "model.safetensors").write_bytes(weights)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_model(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"does not match config\.json"):
        load_model(tmp_path / "a")


def test_unregistered_modules_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="register_module"):
        save_model(
            FusionClassifier({"a": nn.Linear(2, 2)}, ConcatFusion({"a": 2}, 2)), tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()


def test_missing_directory_and_unknown_class(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a saved intermodal model"):
        load_model(tmp_path / "nothing")
    save_model(model(), tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(config.read_text().replace('"FusionClassifier"', '"os.system"'))
    with pytest.raises(ValueError, match=r"unknown module class 'os\.system'"):
        load_model(tmp_path / "m")
