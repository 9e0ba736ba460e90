from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from intermodal.data.text import encode_texts
from intermodal.encoders.pretrained import IMAGENET_MEAN, IMAGENET_STD, PretrainedEncoder
from intermodal.saving import load_model, save_model
from tests.helpers import tiny_bert

transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "the", "cat", "dog"]
VOCAB += ["bird", "car", "red", "blue", "##s", "."]
TEXTS = ["a photo of the red cats.", "dog", "a blue car", ""]
SRC = Path(__file__).resolve().parents[2] / "src" / "intermodal"


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert"), VOCAB[5:], hidden=32, layers=2)


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vit")
    config = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    transformers.ViTModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wav2vec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wav2vec2")
    config = transformers.Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )
    torch.manual_seed(0)
    transformers.Wav2Vec2Model(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_text_shapes_for_each_pooling(bert_dir: Path, pooling: str) -> None:
    encoder = PretrainedEncoder(str(bert_dir), "text", pooling=pooling)
    out = encoder(encode_texts(TEXTS))
    assert out.shape == (4, 32) and encoder.feature_dim == 32
    torch.testing.assert_close(encoder(TEXTS), out)
    projected = PretrainedEncoder(str(bert_dir), "text", pooling=pooling, output_dim=8)
    assert projected(TEXTS).shape == (4, 8) and projected.feature_dim == 8


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_image_shapes_for_each_pooling(vit_dir: Path, pooling: str) -> None:
    encoder = PretrainedEncoder(str(vit_dir), "image", pooling=pooling, output_dim=5)
    assert encoder(torch.rand(3, 3, 40, 48)).shape == (3, 5)
    assert encoder(torch.rand(2, 1, 32, 32)).shape == (2, 5)


def test_audio_shapes(wav2vec_dir: Path) -> None:
    for pooling in ("cls", "mean"):
        encoder = PretrainedEncoder(str(wav2vec_dir), "audio", pooling=pooling)
        assert encoder(torch.randn(2, 400)).shape == (2, 32)
    with pytest.raises(ValueError, match="no pooler"):
        PretrainedEncoder(str(wav2vec_dir), "audio", pooling="pooler")


def test_text_mean_pooling_is_a_masked_mean(bert_dir: Path) -> None:
    encoder = PretrainedEncoder(str(bert_dir), "text", pooling="mean", max_tokens=5)
    tokenizer = transformers.AutoTokenizer.from_pretrained(bert_dir)
    model = transformers.AutoModel.from_pretrained(bert_dir).eval()
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=5, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert not (batch["input_ids"] == VOCAB.index("[UNK]")).any()
    lengths = batch["attention_mask"].sum(dim=1)
    assert lengths.tolist() == [5, 3, 5, 2]  # truncated, padded, [CLS] [SEP] only
    expected = torch.stack([hidden[i, : int(n)].mean(dim=0) for i, n in enumerate(lengths)])
    torch.testing.assert_close(encoder(encode_texts(TEXTS)), expected)


def test_image_is_resized_and_normalized(vit_dir: Path, tmp_path: Path) -> None:
    images = torch.rand(2, 1, 20, 24)
    model = transformers.AutoModel.from_pretrained(vit_dir).eval()

    def reference(mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
        x = F.interpolate(images.repeat(1, 3, 1, 1), size=(32, 32), mode="bilinear")
        x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
        with torch.no_grad():
            return model(pixel_values=x).last_hidden_state[:, 0]

    encoder = PretrainedEncoder(str(vit_dir), "image", pooling="cls")
    torch.testing.assert_close(encoder(images), reference(IMAGENET_MEAN, IMAGENET_STD))

    custom = tmp_path / "vit"
    model.save_pretrained(custom)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    (custom / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": list(mean), "image_std": list(std)})
    )
    encoder = PretrainedEncoder(str(custom), "image", pooling="cls")
    torch.testing.assert_close(encoder(images), reference(mean, std))


def test_audio_is_normalized_per_sample(wav2vec_dir: Path) -> None:
    waves = torch.randn(3, 400)
    model = transformers.AutoModel.from_pretrained(wav2vec_dir).eval()
    normalized = (waves - waves.mean(1, keepdim=True)) / torch.sqrt(
        waves.var(1, unbiased=False, keepdim=True) + 1e-7
    )
    with torch.no_grad():
        expected = model(input_values=normalized).last_hidden_state.mean(dim=1)
    encoder = PretrainedEncoder(str(wav2vec_dir), "audio", pooling="mean")
    torch.testing.assert_close(encoder(waves), expected)
    torch.testing.assert_close(encoder(3 * waves + 1), expected, atol=1e-4, rtol=1e-4)


def test_frozen_backbone_stays_in_eval_and_only_projection_trains(bert_dir: Path) -> None:
    encoder = PretrainedEncoder(str(bert_dir), "text", output_dim=4).train()
    assert encoder.training and encoder.projection is not None and encoder.projection.training
    assert not encoder.backbone.training
    assert not any(m.training for m in encoder.backbone.modules())
    encoder(TEXTS).square().sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in encoder.backbone.parameters())
    assert all(p.grad is not None for p in encoder.projection.parameters())

    tuned = PretrainedEncoder(str(bert_dir), "text", trainable=True).train()
    assert tuned.backbone.training
    tuned(TEXTS).square().sum().backward()
    grads = [p.grad for p in tuned.backbone.encoder.parameters()]
    assert all(g is not None for g in grads)


def test_save_and_load_round_trip(bert_dir: Path, tmp_path: Path) -> None:
    encoder = PretrainedEncoder(str(bert_dir), "text", pooling="cls", output_dim=6)
    with torch.no_grad():  # saved weights differ from the folder's: they must win on load
        encoder.backbone.embeddings.word_embeddings.weight.add_(0.5)
    save_model(encoder, tmp_path / "saved")
    loaded = load_model(tmp_path / "saved")
    assert isinstance(loaded, PretrainedEncoder) and loaded.name_or_path == str(bert_dir)
    torch.testing.assert_close(loaded(TEXTS), encoder.eval()(TEXTS))
    assert loaded.fingerprint() == encoder.fingerprint()


def test_offline_hub_name_says_how_to_pass_a_local_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError) as error:
        PretrainedEncoder("made-up-org/no-such-backbone", "text")
    message = str(error.value)
    assert "made-up-org/no-such-backbone" in message
    assert "without network" in message and "save_pretrained" in message
    assert "local folder" in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a folder"):
        PretrainedEncoder(str(tmp_path / "nowhere" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="save_pretrained"):
        PretrainedEncoder(str(tmp_path / "empty"))


def test_fingerprint_is_stable_and_follows_the_weights(bert_dir: Path) -> None:
    first = PretrainedEncoder(str(bert_dir), "text")
    second = PretrainedEncoder(str(bert_dir), "text")
    assert first.fingerprint() == second.fingerprint() == first.fingerprint()
    first(TEXTS)  # tokenizing (padding, truncation) leaves the fingerprint alone
    assert first.fingerprint() == second.fingerprint()
    assert str(bert_dir) in first.fingerprint()
    assert PretrainedEncoder(str(bert_dir), "text", pooling="cls").fingerprint() != (
        first.fingerprint()
    )
    with torch.no_grad():
        second.backbone.pooler.dense.bias[0] += 1e-3
    assert second.fingerprint() != first.fingerprint()


def test_invalid_arguments(bert_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        PretrainedEncoder(str(bert_dir), "video")
    with pytest.raises(ValueError, match="unknown pooling"):
        PretrainedEncoder(str(bert_dir), pooling="max")
    encoder = PretrainedEncoder(str(bert_dir))
    with pytest.raises(TypeError, match="list of strings"):
        encoder([1, 2])


def test_missing_transformers_says_how_to_install(
    bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'intermodal\[hf\]'"):
        PretrainedEncoder(str(bert_dir))


@pytest.mark.parametrize("module", ["encoders/pretrained.py", "models/clip.py", "data/cache.py"])
def test_transformers_is_not_imported_at_module_level(module: str) -> None:
    tree = ast.parse((SRC / module).read_text())
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    assert not any(name.split(".")[0] == "transformers" for name in names)
