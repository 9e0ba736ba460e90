"""Damaged, edited and foreign files, and bad arguments, give one clear error and lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from intermodal import load_model, save_model
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier
from intermodal.saving import build_module

Config = dict[str, Any]


def small_model() -> FusionClassifier:
    torch.manual_seed(0)
    return FusionClassifier({"vec": MLP(5, 8)}, ConcatFusion({"vec": 8}, 4), MLP(4, 3))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return save_model(small_model(), tmp_path / "m")


def edit_config(directory: Path, edit: Callable[[Config], object]) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


def head(config: Config) -> Config:
    description: Config = config["model"]["config"]["head"]["__module__"]["config"]
    return description


def nested(depth: int, opening: str, closing: str) -> str:
    return opening * depth + closing * depth


# --- weights checksum ---------------------------------------------------------------------------


def test_a_flipped_byte_in_the_weights_is_detected(saved: Path) -> None:
    weights = saved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # inside the tensor data: the header still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupt: checksum mismatch"):
        load_model(saved)


def test_weights_replaced_by_a_valid_file_are_detected(saved: Path) -> None:
    tensors = {k: v + 1 for k, v in small_model().state_dict().items()}
    save_file(tensors, str(saved / "model.safetensors"), metadata={"format": "intermodal-model"})
    with pytest.raises(ValueError, match=r"checksum mismatch.*re-save or re-train"):
        load_model(saved)


def test_a_model_saved_before_checksums_loads_with_a_warning(saved: Path) -> None:
    def as_version_1(config: Config) -> None:
        config["format_version"] = 1
        del config["weights_sha256"]

    edit_config(saved, as_version_1)
    with pytest.warns(UserWarning, match="without a checksum"):
        loaded = load_model(saved)
    x = {"vec": torch.randn(3, 5)}
    torch.testing.assert_close(loaded(x), small_model().eval()(x), rtol=0, atol=0)


def test_a_current_config_without_its_checksum_is_refused(saved: Path) -> None:
    edit_config(saved, lambda config: config.pop("weights_sha256"))
    with pytest.raises(ValueError, match=r"config\.json: field weights_sha256 must be a SHA-256"):
        load_model(saved)


# --- malformed config.json ----------------------------------------------------------------------

EDITS: dict[str, tuple[Callable[[Config], object], str]] = {
    "unknown argument": (
        lambda c: c["model"]["config"].update(bogus=1),
        r"field model\.config\.bogus is not an argument of FusionClassifier",
    ),
    "negative dim": (
        lambda c: head(c).update(input_dim=-4),
        r"field model\.config\.head\.__module__\.config\.input_dim is a size and cannot be "
        r"negative, got -4",
    ),
    "string dim": (
        lambda c: head(c).update(input_dim="4"),
        r"field model\.config\.head\.__module__\.config\.input_dim must be an integer, got a "
        r"string '4'",
    ),
    "string in a dict of dims": (
        lambda c: c["model"]["config"]["fusion"]["__module__"]["config"].update(
            input_dims={"vec": "8"}
        ),
        r"field model\.config\.fusion\.__module__\.config\.input_dims\.vec must be an integer",
    ),
    "missing required argument": (
        lambda c: head(c).pop("output_dim"),
        r"field model\.config\.head\.__module__\.config lacks output_dim, required by MLP",
    ),
    "missing model": (lambda c: c.pop("model"), r"field model must be an object.*missing"),
    "model is a list": (lambda c: c.update(model=[1, 2]), r"field model must be an object.*list"),
    "class is a number": (
        lambda c: c["model"].update({"class": 3}),
        r"field model\.class must be a class name \(a string\), got a number 3",
    ),
    "module config is a list": (
        lambda c: c["model"].update(config=[1]),
        r"field model\.config must be an object, got a list",
    ),
    "module description is a number": (
        lambda c: c["model"]["config"].update(head={"__module__": 3}),
        r"field model\.config\.head\.__module__ must be an object",
    ),
    "format_version is a string": (
        lambda c: c.update(format_version="1"),
        r"field format_version must be a positive integer, got a string '1'",
    ),
    "metadata is a list": (
        lambda c: c.update(metadata=[1]),
        r"field metadata must be an object, got a list",
    ),
    "value the constructor refuses": (
        lambda c: head(c).update(activation="bogus"),
        r"MLP cannot be built from field model\.config\.head\.__module__: unknown activation",
    ),
    "nesting deeper than a config ever is": (
        lambda c: c["model"]["config"].update(bogus=json.loads(nested(300, "[", "]"))),
        r"more than 100 levels deep \(at field model\.config\.bogus\[0\]",
    ),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_config_names_the_file_and_the_field(saved: Path, name: str) -> None:
    edit, message = EDITS[name]
    edit_config(saved, edit)
    with pytest.raises(ValueError, match=message) as caught:
        load_model(saved)
    assert not isinstance(caught.value, TypeError | KeyError)
    assert str(saved / "config.json") in str(caught.value)


@pytest.mark.parametrize(
    ("opening", "closing"), [("[", "]"), ('{"a": ', "}")], ids=["lists", "objects"]
)
def test_a_config_nested_100000_levels_deep_is_refused(
    saved: Path, opening: str, closing: str
) -> None:
    config = (saved / "config.json").read_text().rstrip()
    deep = config[:-1] + ', "extra": ' + nested(100_000, opening, closing).replace("}", "1}", 1)
    (saved / "config.json").write_text(deep + "}")
    with pytest.raises(ValueError, match=r"config\.json nests lists or objects too deeply"):
        load_model(saved)


def test_build_module_refuses_deep_descriptions() -> None:
    description: Any = {"class": "MLP", "config": {"input_dim": 2, "output_dim": 2}}
    for _ in range(2000):
        description = {"x": description}
    with pytest.raises(ValueError, match="more than 100 levels deep"):
        build_module({"class": "MLP", "config": {"hidden_dims": description}})


# --- map_location -------------------------------------------------------------------------------


def test_an_unknown_device_is_not_reported_as_a_corrupt_file(saved: Path) -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'") as caught:
        load_model(saved, map_location="tpu")
    assert "corrupt" not in str(caught.value)


def test_cuda_without_a_gpu_says_so_and_suggests_cpu(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"no CUDA device is available.*map_location='cpu'"):
        load_model(saved, map_location="cuda")


def test_a_gpu_index_beyond_the_machine_is_refused(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"has 1 CUDA device\(s\): use 'cuda:0'"):
        load_model(saved, map_location="cuda:7")


# --- overwrite ----------------------------------------------------------------------------------


def test_overwrite_refuses_a_directory_with_other_files_and_keeps_them(tmp_path: Path) -> None:
    target = tmp_path / "results"
    (target / "runs").mkdir(parents=True)
    (target / "notes.txt").write_text("keep me")
    (target / "runs" / "1.csv").write_text("a,b\n")
    with pytest.raises(FileExistsError, match=r"did not write \(notes\.txt, runs\)"):
        save_model(small_model(), target, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "runs"]
    assert (target / "notes.txt").read_text() == "keep me"
    assert (target / "runs" / "1.csv").read_text() == "a,b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_overwrite_refuses_another_librarys_model(tmp_path: Path) -> None:
    target = tmp_path / "hf"
    target.mkdir()
    (target / "config.json").write_text('{"model_type": "bert"}')
    save_file({"w": torch.zeros(2)}, str(target / "model.safetensors"), metadata={"format": "pt"})
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(FileExistsError, match="was not written by save_model"):
        save_model(small_model(), target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_overwrite_repairs_a_damaged_save(saved: Path) -> None:
    (saved / "model.safetensors").write_bytes(b"garbage")
    (saved / "config.json").write_text("{trunc")
    save_model(small_model(), saved, overwrite=True)
    assert isinstance(load_model(saved), FusionClassifier)


def test_saving_onto_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m").write_text("not a directory")
    with pytest.raises(FileExistsError, match="is not a directory"):
        save_model(small_model(), tmp_path / "m", overwrite=True)
    assert (tmp_path / "m").read_text() == "not a directory"


def test_a_fresh_process_loads_a_saved_model_with_the_top_level_import(tmp_path: Path) -> None:
    """``from intermodal import load_model`` alone rebuilds intermodal's own classes."""
    model = small_model()
    save_model(model, tmp_path / "saved")
    script = (
        "import sys, torch\n"
        "from intermodal import load_model\n"
        "model = load_model(sys.argv[1])\n"
        "torch.save(model.state_dict(), sys.argv[2])\n"
        "print(type(model).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "saved"), str(tmp_path / "state.pt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "FusionClassifier"
    state = torch.load(tmp_path / "state.pt")
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor)
