"""Helpers shared by the tests: small data sets with known structure and the shared data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from intermodal.data import MultimodalDataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def blobs(n_per_class: int = 40, n_classes: int = 3, seed: int = 0) -> MultimodalDataset:
    """Two vector modalities whose class means differ: an easy, separable problem."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    centers_a = rng.normal(size=(n_classes, 5)) * 3
    centers_b = rng.normal(size=(n_classes, 3)) * 3
    a = centers_a[y] + rng.normal(size=(len(y), 5))
    b = centers_b[y] + rng.normal(size=(len(y), 3))
    return MultimodalDataset({"b": b, "a": a}, y, name="blobs")


def write_affect(path: Path, n: int = 30, seed: int = 0) -> None:
    """A small file in MultiBench's affect format (as CMU-MOSI): splits of vision, audio, text
    sequences and continuous sentiment labels, with an infinite value as the real files have."""
    rng = np.random.default_rng(seed)
    data = {}
    for split in ("train", "valid", "test"):
        score = rng.uniform(-3, 3, size=(n, 1, 1))
        sign = np.sign(score).reshape(n, 1, 1)
        data[split] = {
            "vision": rng.normal(size=(n, 5, 4)) + sign,
            "audio": rng.normal(size=(n, 5, 3)) + sign,
            "text": rng.normal(size=(n, 5, 6)) + 2 * sign,
            "labels": score,
        }
    data["train"]["vision"][0, 0, 0] = np.inf
    path.write_bytes(pickle.dumps(data))


CAPTION_WORDS = {
    0: ["horizontal", "lines", "rows", "flat"],
    1: ["vertical", "bars", "columns", "upright"],
    2: ["checker", "board", "squares", "tiles"],
}
FILLER = ["a", "picture", "of", "some", "the", "pattern", "with", "in", "grey", "drawn"]


def write_captioned_images(folder: Path, n_per_class: int = 30, seed: int = 0) -> Path:
    """A folder of 16 x 16 grey PNG images of three patterns (horizontal stripes, vertical
    stripes, a checker board; noisy) and ``captions.csv`` listing each image with a caption that
    names its pattern among filler words, and its class; returns the CSV's path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:16, 0:16]
    patterns = {0: rows // 2 % 2, 1: cols // 2 % 2, 2: (rows // 4 + cols // 4) % 2}
    records = []
    folder.mkdir(parents=True, exist_ok=True)
    for label, pattern in patterns.items():
        for i in range(n_per_class):
            pixels = np.clip(pattern * 0.8 + 0.1 + rng.normal(0, 0.15, pattern.shape), 0, 1)
            name = f"img_{label}_{i}.png"
            Image.fromarray((pixels * 255).astype(np.uint8)).save(folder / name)
            words = [*rng.choice(FILLER, 3), *rng.choice(CAPTION_WORDS[label], 2)]
            rng.shuffle(words)
            records.append({"image": name, "caption": " ".join(words), "target": label})
    path = folder / "captions.csv"
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def tiny_bert(folder: Path, words: list[str], hidden: int = 32, layers: int = 2) -> Path:
    """A small random BERT-like encoder and its WordPiece tokenizer over ``words``, saved with
    ``save_pretrained`` in ``folder`` (loadable by path, with no network)."""
    import transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    backend = Tokenizer(
        models.WordPiece({w: i for i, w in enumerate(vocabulary)}, unk_token="[UNK]")
    )
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = transformers.BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
