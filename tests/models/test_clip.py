from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from intermodal.data.text import encode_texts
from intermodal.models.clip import CLIP_MEAN, CLIP_STD, CLIPModel
from intermodal.models.protocols import TrainsItself
from intermodal.saving import load_model, save_model

transformers = pytest.importorskip("transformers")

COLORS = ["red", "blue", "green", "black"]
THINGS = ["cat", "dog", "bird", "car"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", ".", *COLORS, *THINGS]
SEP = 3


def tiny_tokenizer(words: list[str]) -> Any:
    """A BERT-style WordPiece tokenizer over ``words`` (built with the tokenizers library)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", words.index("[CLS]")), ("[SEP]", words.index("[SEP]"))],
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    tokenizer = tiny_tokenizer(VOCAB)
    config = transformers.CLIPConfig(
        text_config={
            "vocab_size": len(VOCAB),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "pad_token_id": 0,
            "bos_token_id": 2,
            "eos_token_id": SEP,  # the text tower pools at the first [SEP]
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def captions(n: int) -> list[str]:
    return [f"a photo of a {COLORS[i % 4]} {THINGS[(i // 4) % 4]}." for i in range(n)]


def reference_model(folder: Path) -> tuple[Any, Any]:
    model = transformers.CLIPModel.from_pretrained(folder).eval()
    return model, transformers.AutoTokenizer.from_pretrained(folder)


def features(output: Any) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def test_forward_gives_normalized_embeddings(clip_dir: Path) -> None:
    model = CLIPModel(str(clip_dir))
    assert model.modalities == ["image", "text"]
    images, texts = torch.rand(4, 3, 32, 32), encode_texts(captions(4))
    z_image, z_text = model({"image": images, "text": texts})
    assert z_image.shape == z_text.shape == (4, 16)
    torch.testing.assert_close(z_image.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(z_text.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(model.encode_text(captions(4)), z_text)
    assert float((z_text @ z_text.T).min()) < 0.99  # the captions are told apart

    renamed = CLIPModel(str(clip_dir), image="picture", text="caption")
    assert renamed.modalities == ["picture", "caption"]
    z = renamed({"picture": images, "caption": texts})
    torch.testing.assert_close(z[0], z_image)
    with pytest.raises(KeyError, match="lack"):
        renamed({"image": images, "text": texts})


def test_image_matches_hugging_face_features(clip_dir: Path) -> None:
    model = CLIPModel(str(clip_dir))
    hf, _ = reference_model(clip_dir)
    images = torch.rand(3, 1, 24, 28)
    x = F.interpolate(images.repeat(1, 3, 1, 1), size=(32, 32), mode="bilinear")
    x = (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]
    with torch.no_grad():
        expected = F.normalize(features(hf.get_image_features(pixel_values=x)), dim=1)
    torch.testing.assert_close(model.encode_image(images), expected)


def test_zero_shot_is_a_softmax_of_scaled_cosine_similarities(clip_dir: Path) -> None:
    model = CLIPModel(str(clip_dir))
    hf, tokenizer = reference_model(clip_dir)
    images = torch.rand(5, 3, 32, 32)
    names = ["red cat", "blue dog", "green bird"]
    predictions, probabilities = model.zero_shot(images, names, batch_size=2)

    prompts = tokenizer([f"a photo of a {n}." for n in names], padding=True, return_tensors="pt")
    pixels = (images - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[
        :, None, None
    ]
    with torch.no_grad():
        text = features(
            hf.get_text_features(
                input_ids=prompts["input_ids"], attention_mask=prompts["attention_mask"]
            )
        )
        image = features(hf.get_image_features(pixel_values=pixels))
        cosine = F.normalize(image, dim=1) @ F.normalize(text, dim=1).T
        expected = (hf.logit_scale.exp() * cosine).softmax(dim=1)
    assert probabilities.shape == (5, 3) and predictions.dtype == torch.int64
    torch.testing.assert_close(probabilities, expected)
    assert torch.equal(predictions, expected.argmax(dim=1))


def reference_loss(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    logits = scale * a @ b.T
    targets = torch.arange(len(a))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def test_loss_is_the_symmetric_cross_entropy(clip_dir: Path) -> None:
    model = CLIPModel(str(clip_dir))
    images, texts = torch.rand(6, 3, 32, 32), encode_texts(captions(6))
    inputs = {"image": images, "text": texts}
    z_image, z_text = model(inputs)
    scale = model.model.logit_scale.exp()
    loss = model.training_loss(inputs, torch.zeros(6))
    torch.testing.assert_close(loss, reference_loss(z_image, z_text, scale))
    assert model.validation_loss(inputs, torch.zeros(6)) == loss
    assert isinstance(model, TrainsItself) and "CLIP loss" in model.validation_objective

    mask = {"image": torch.tensor([1, 1, 0, 1, 1, 1]).bool(), "text": torch.ones(6).bool()}
    mask["text"][4] = False
    keep = torch.tensor([0, 1, 3, 5])
    masked = model.training_loss(inputs, torch.zeros(6), mask)
    torch.testing.assert_close(masked, reference_loss(z_image[keep], z_text[keep], scale))


def test_training_lowers_the_loss(clip_dir: Path) -> None:
    torch.manual_seed(0)
    model = CLIPModel(str(clip_dir), trainable=True).train()
    assert model.model.training
    inputs = {"image": torch.rand(16, 3, 32, 32), "text": encode_texts(captions(16))}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(6):
        loss = model.training_loss(inputs, torch.zeros(16))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert model.model.logit_scale.grad is not None
    assert losses[-1] < losses[0] - 0.1 and losses[-1] < losses[1]


def test_frozen_model_stays_in_eval_mode(clip_dir: Path) -> None:
    model = CLIPModel(str(clip_dir)).train()
    assert model.training and not model.model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_save_and_load_round_trip(clip_dir: Path, tmp_path: Path) -> None:
    model = CLIPModel(str(clip_dir), image="picture")
    with torch.no_grad():
        model.model.logit_scale.fill_(3.0)
    save_model(model, tmp_path / "clip")
    loaded = load_model(tmp_path / "clip")
    assert isinstance(loaded, CLIPModel) and loaded.modalities == ["picture", "text"]
    inputs = {"picture": torch.rand(2, 3, 32, 32), "text": encode_texts(captions(2))}
    for a, b in zip(loaded(inputs), model(inputs), strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(loaded.logit_scale, torch.tensor(3.0).exp())


def test_saved_processor_statistics_are_used(clip_dir: Path, tmp_path: Path) -> None:
    hf, tokenizer = reference_model(clip_dir)
    folder = tmp_path / "clip"
    hf.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": mean, "image_std": std})
    )
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = features(hf.get_image_features(pixel_values=(images - 0.5) / 0.25))
    torch.testing.assert_close(CLIPModel(str(folder)).encode_image(images), F.normalize(expected))
