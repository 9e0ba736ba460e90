"""The feature cache of frozen backbones: a benchmark run that encodes against one that reuses.

Run: pip install 'intermodal[hf]' && python benchmarks/feature_cache.py [--samples 2000]

Writes a CSV of short captions (and a small numeric modality) and a random BERT-like backbone
(hidden size 128, 4 layers) saved to a temporary folder, then runs the same benchmark twice in
fresh processes with ``--backbone caption=FOLDER`` and one cache folder: the first run encodes
the captions, the second finds them in the cache. It prints both wall times and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

WORDS = ["red", "green", "blue", "small", "large", "round", "square", "cat", "dog", "car", "bus"]


def write_data(folder: Path, samples: int) -> tuple[Path, Path]:
    import transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, samples)
    captions = [
        " ".join(rng.choice(WORDS[:6], 6)) + (" cat dog" if y else " car bus") for y in labels
    ]
    frame = pd.DataFrame({"caption": captions, "target": labels})
    for i in range(4):
        frame[f"numbers.{i}"] = rng.normal(size=samples) + labels
    csv = folder / "captions.csv"
    frame.to_csv(csv, index=False)
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    backend = Tokenizer(
        models.WordPiece({w: i for i, w in enumerate(vocabulary)}, unk_token="[UNK]")
    )
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]"
    )
    config = transformers.BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    backbone = folder / "backbone"
    transformers.BertModel(config).save_pretrained(backbone)
    tokenizer.save_pretrained(backbone)
    return csv, backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        csv, backbone = write_data(folder, args.samples)
        times = []
        for run in ("first", "second"):
            command = [
                sys.executable, "-m", "intermodal.cli", "bench", "--dataset", str(csv),
                "--methods", "early", "--seeds", "1", "--epochs", "3", "--jobs", "1",
                "--no-report", "--quiet", "--backbone", f"caption={backbone}",
                "--cache-dir", str(folder / "cache"), "--output", str(folder / run),
            ]  # fmt: skip
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    print(f"benchmark with a frozen backbone on {args.samples} captions (early fusion, 1 seed)")
    print(f"first run (encodes and caches): {times[0]:6.1f} s")
    print(f"second run (reads the cache):   {times[1]:6.1f} s")
    print(f"speedup of the second run: {times[0] / times[1]:.2f}x")


if __name__ == "__main__":
    main()
