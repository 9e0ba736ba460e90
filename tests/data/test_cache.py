from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from intermodal.data import MultimodalDataset
from intermodal.data.cache import FeatureCache, encode_modalities
from intermodal.data.text import encode_texts
from tests.helpers import tiny_bert


class CountingEncoder(nn.Module):
    """A linear encoder that counts its calls and remembers every row it was given."""

    def __init__(self, input_dim: int = 4, output_dim: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(input_dim, output_dim)
        self.feature_dim = output_dim
        self.calls = 0
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        self.seen.append(x.clone())
        return self.linear(x.float())

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for tensor in self.state_dict().values():
            digest.update(tensor.numpy().tobytes())
        return f"CountingEncoder:{digest.hexdigest()}"


def only_entry(directory: Path) -> Path:
    files = sorted(directory.iterdir())
    assert len(files) == 1 and files[0].suffix == ".safetensors", files
    return files[0]


def test_second_call_hits_the_cache(tmp_path: Path) -> None:
    cache, encoder, x = FeatureCache(tmp_path), CountingEncoder(), torch.randn(10, 4)
    first = cache.features(encoder, x, batch_size=4)
    assert (cache.hits, cache.misses, encoder.calls) == (0, 1, 3)
    with torch.no_grad():
        torch.testing.assert_close(first, encoder.linear(x))
    second = cache.features(encoder, x, batch_size=4)
    assert (cache.hits, cache.misses, encoder.calls) == (1, 1, 3)
    assert torch.equal(first, second) and second.dtype == torch.float32
    assert only_entry(tmp_path).name == f"{cache.key(encoder.fingerprint(), x)}.safetensors"


def test_changed_input_or_encoder_misses(tmp_path: Path) -> None:
    cache, encoder, x = FeatureCache(tmp_path), CountingEncoder(), torch.randn(6, 4)
    cache.features(encoder, x)
    changed = x.clone()
    changed[3, 1] += 1e-3
    cache.features(encoder, changed)
    assert (cache.hits, cache.misses) == (0, 2)
    cache.features(encoder, x.double())  # same values, another dtype: another entry
    assert (cache.hits, cache.misses) == (0, 3)
    before = encoder.fingerprint()
    with torch.no_grad():
        encoder.linear.weight[0, 0] += 1e-3
    assert encoder.fingerprint() != before
    features = cache.features(encoder, x)
    assert (cache.hits, cache.misses) == (0, 4)
    with torch.no_grad():
        torch.testing.assert_close(features, encoder.linear(x))


def test_key_depends_on_every_input() -> None:
    cache, x = FeatureCache("unused"), torch.arange(12.0).reshape(3, 4)
    key = cache.key("encoder", x)
    assert key == cache.key("encoder", x.clone()) and len(key) == 64
    assert key == cache.key("encoder", x, torch.ones(3, dtype=torch.bool))
    assert key != cache.key("other", x)
    assert key != cache.key("encoder", x.reshape(4, 3))
    assert key != cache.key("encoder", x, torch.tensor([True, False, True]))


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path: Path, damage: str) -> None:
    cache, encoder, x = FeatureCache(tmp_path), CountingEncoder(), torch.randn(5, 4)
    expected = cache.features(encoder, x)
    path = only_entry(tmp_path)
    content = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(content[: len(content) - 7])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(len(content)))
    else:
        path.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match=f"{path.name}.*corrupt"):
        again = cache.features(encoder, x)
    assert torch.equal(again, expected) and (cache.hits, cache.misses) == (0, 2)
    assert cache.features(encoder, x).equal(expected) and cache.hits == 1  # valid again


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fingerprint": "another encoder"}, "fingerprint"),
        ({"key": "0" * 64}, "key"),
        ({"format_version": "99"}, "version"),
        ({"shape": "[5, 4]"}, "shape"),
    ],
)
def test_tampered_metadata_is_recomputed(
    tmp_path: Path, change: dict[str, str], reason: str
) -> None:
    cache, encoder, x = FeatureCache(tmp_path), CountingEncoder(), torch.randn(5, 4)
    expected = cache.features(encoder, x)
    fingerprint = encoder.fingerprint()
    metadata = {
        "format": "intermodal-feature-cache",
        "format_version": "1",
        "key": cache.key(fingerprint, x),
        "fingerprint": fingerprint,
        "shape": "[5, 3]",
    }
    path = only_entry(tmp_path)
    save_file({"features": torch.zeros(5, 3)}, str(path), metadata={**metadata, **change})
    with pytest.warns(RuntimeWarning, match=f"{path.name}.*{reason}"):
        again = cache.features(encoder, x)
    assert torch.equal(again, expected) and cache.misses == 2


def test_wrong_shape_of_features_is_recomputed(tmp_path: Path) -> None:
    cache, encoder, x = FeatureCache(tmp_path), CountingEncoder(), torch.randn(5, 4)
    expected = cache.features(encoder, x)
    fingerprint = encoder.fingerprint()
    path = only_entry(tmp_path)
    metadata = {
        "format": "intermodal-feature-cache",
        "format_version": "1",
        "key": cache.key(fingerprint, x),
        "fingerprint": fingerprint,
        "shape": "[4, 3]",
    }
    save_file({"features": torch.zeros(4, 3)}, str(path), metadata=metadata)
    with pytest.warns(RuntimeWarning, match="shape"):
        assert torch.equal(cache.features(encoder, x), expected)


def test_absent_rows_are_zeros_and_never_encoded(tmp_path: Path) -> None:
    cache, encoder = FeatureCache(tmp_path), CountingEncoder()
    x = torch.randn(7, 4)
    mask = torch.tensor([True, False, True, True, False, False, True])
    x[~mask] = 1e6  # would show up in what the encoder saw
    features = cache.features(encoder, x, batch_size=3, mask=mask)
    seen = torch.cat(encoder.seen)
    assert len(seen) == 4 and float(seen.abs().max()) < 1e6
    assert torch.equal(features[~mask], torch.zeros(3, 3))
    with torch.no_grad():
        torch.testing.assert_close(features[mask], encoder.linear(x[mask]))
    assert cache.features(encoder, x, mask=mask).equal(features) and cache.hits == 1
    cache.features(encoder, x)  # without the mask: another entry
    assert cache.misses == 2


def test_all_rows_absent_uses_feature_dim(tmp_path: Path) -> None:
    cache, encoder = FeatureCache(tmp_path), CountingEncoder()
    features = cache.features(encoder, torch.randn(3, 4), mask=torch.zeros(3, dtype=torch.bool))
    assert torch.equal(features, torch.zeros(3, 3)) and encoder.calls == 0


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, encoder = FeatureCache(tmp_path / "features"), CountingEncoder()
    for n in (3, 4, 5):
        cache.features(encoder, torch.randn(n, 4))
    names = sorted(p.name for p in (tmp_path / "features").iterdir())
    assert len(names) == 3 and all(n.endswith(".safetensors") for n in names)
    assert not any(n.startswith(".") for n in names)

    def fail(source: Any, target: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        cache.features(encoder, torch.randn(6, 4))
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == names


def test_encoder_without_fingerprint_cannot_be_cached(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot be cached"):
        FeatureCache(tmp_path).features(nn.Linear(4, 2), torch.randn(3, 4))


def test_encoder_mode_is_restored(tmp_path: Path) -> None:
    encoder = CountingEncoder().train()
    FeatureCache(tmp_path).features(encoder, torch.randn(3, 4))
    assert encoder.training


def test_encode_modalities_replaces_encoded_modalities(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    present = np.array([True, True, False, True, True, True])
    dataset = MultimodalDataset(
        {"a": rng.normal(size=(6, 4)) * present[:, None], "b": rng.normal(size=(6, 2))},
        np.array([0, 1, 0, 1, 0, 1]),
        masks={"a": present},
        metadata={"speaker": np.arange(6)},
        name="toy",
    )
    splits = {"train": dataset.subset([0, 1, 2, 3]), "test": dataset.subset([4, 5])}
    cache, encoder = FeatureCache(tmp_path), CountingEncoder(output_dim=5)
    encoded = encode_modalities(splits, {"a": encoder}, cache)
    assert set(encoded) == {"train", "test"} and cache.misses == 2
    train = encoded["train"]
    assert train.kinds == {"a": "vector", "b": "vector"} and train.shapes["a"] == (5,)
    assert torch.equal(train.masks["a"], torch.tensor([True, True, False, True]))
    assert torch.equal(train.modalities["a"][2], torch.zeros(5))
    assert torch.equal(train.modalities["b"], splits["train"].modalities["b"])
    assert torch.equal(train.targets, splits["train"].targets)
    assert train.name == "toy" and train.classes == [0, 1] and train.task == "classification"
    assert train.metadata["speaker"].tolist() == [0, 1, 2, 3]
    again = encode_modalities(splits, {"a": encoder}, cache)
    assert cache.hits == 2 and torch.equal(
        again["test"].modalities["a"], encoded["test"].modalities["a"]
    )
    with pytest.raises(ValueError, match="does not have"):
        encode_modalities(splits, {"c": encoder}, cache)


def test_pretrained_text_encoder_is_cached(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from intermodal.encoders.pretrained import PretrainedEncoder

    tiny_bert(tmp_path / "bert", ["a", "red", "blue", "cat", "dog"], hidden=16, layers=1)
    encoder = PretrainedEncoder(str(tmp_path / "bert"), "text").train()
    texts = encode_texts(["a red cat", "a blue dog", "dog", "a cat"])
    cache = FeatureCache(tmp_path / "features")
    features = cache.features(encoder, texts, batch_size=3)
    assert features.shape == (4, 16) and encoder.training and not encoder.backbone.training
    torch.testing.assert_close(features, encoder(texts))
    assert torch.equal(cache.features(encoder, texts), features) and cache.hits == 1
    reloaded = PretrainedEncoder(str(tmp_path / "bert"), "text")
    assert torch.equal(cache.features(reloaded, texts), features) and cache.hits == 2
