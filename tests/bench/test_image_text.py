"""Images and captions as people have them (a folder of PNG files and a CSV of captions),
benchmarked through the command line with a text encoder and a pretrained backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from intermodal.cli import main
from tests.helpers import CAPTION_WORDS, FILLER, tiny_bert, write_captioned_images

QUICK = ["--seeds", "1", "--jobs", "1", "--threads", "1", "--quiet", "--no-report"]


def test_captioned_images_with_a_text_encoder_and_a_clip_style_two_tower(tmp_path: Path) -> None:
    """What is asserted: the CSV of image paths and captions is read as an image modality and a
    text modality; early fusion of a CNN and a text encoder (WordPiece vocabulary learned on the
    training split) classifies the patterns; and the CLIP-trained two-tower's embeddings
    retrieve captions of an image's class above chance (mean average precision with category
    relevance over the test gallery: chance is about 1/3 for three balanced classes)."""
    csv = write_captioned_images(tmp_path / "images")
    out = tmp_path / "out"
    methods = "early,unimodal,coord-clip"
    arguments = ["bench", "--dataset", str(csv), "--methods", methods, "--epochs", "30"]
    assert main([*arguments, *QUICK, "--output", str(out)]) == 0
    runs = pd.read_csv(out / "results.csv").set_index("method")
    assert set(runs.index) == {"early", "unimodal[caption]", "unimodal[image]", "coord-clip"}
    assert runs.loc["early", "accuracy"] >= 0.9
    assert runs.loc["coord-clip", "map_a_to_b"] > 0.6 and runs.loc["coord-clip", "map_b_to_a"] > 0.6
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["modalities"] == ["caption", "image"]


def test_a_frozen_backbone_is_encoded_once_and_cached_across_benchmarks(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    csv = write_captioned_images(tmp_path / "images", n_per_class=10)
    words = sorted({w for words in CAPTION_WORDS.values() for w in words} | set(FILLER))
    bert = tiny_bert(tmp_path / "bert", words)
    cache = tmp_path / "cache"
    common = ["bench", "--dataset", str(csv), "--methods", "early", "--epochs", "2", *QUICK]
    common += ["--backbone", f"caption={bert}", "--cache-dir", str(cache)]
    uses = []
    for run in ("first", "second"):
        assert main([*common, "--output", str(tmp_path / run)]) == 0
        uses.append(json.loads((tmp_path / run / "results.json").read_text())["config"])
    assert uses[0]["feature_cache"]["misses"] == 1 and uses[0]["feature_cache"]["hits"] == 0
    assert uses[1]["feature_cache"]["hits"] == 1 and uses[1]["feature_cache"]["misses"] == 0
    assert len(list(cache.glob("*.safetensors"))) == 1
    entry = next(cache.glob("*.safetensors"))
    entry.write_bytes(entry.read_bytes()[:40])  # a corrupt entry is recomputed, with a warning
    with pytest.warns(RuntimeWarning, match="recomput"):
        assert main([*common, "--output", str(tmp_path / "third")]) == 0
    third = json.loads((tmp_path / "third" / "results.json").read_text())["config"]
    assert third["feature_cache"]["misses"] == 1
