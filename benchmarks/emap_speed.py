"""EMAP with cached encodings against evaluating the full model on all N^2 pairs.

Run: python benchmarks/emap_speed.py [--n 1000]

The model is a two-modality classifier on UCI Multiple Features: an MLP encoder for the Fourier
view (fou, 76 features) and a CNN for the pixel view (pix, as a 1 x 16 x 15 image), early fusion
to 32 features and a linear head. ``emap`` encodes each modality once and runs fusion and head on
the N^2 combinations; the baseline runs the whole model on every combination of raw inputs.
"""

from __future__ import annotations

import argparse
import time

import torch

from intermodal.analysis import emap
from intermodal.analysis.emap import additive_projection
from intermodal.data import MultimodalDataset, load_mfeat
from intermodal.encoders import MLP, CNNEncoder
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    n = parser.parse_args().n
    mfeat = load_mfeat(["fou", "pix"])
    torch.manual_seed(0)
    rows = torch.randperm(len(mfeat))[:n]
    data = MultimodalDataset(
        {
            "fou": mfeat.modalities["fou"][rows],
            "pix": mfeat.modalities["pix"][rows].reshape(-1, 1, 16, 15),
        },
        mfeat.targets[rows],
    )
    model = FusionClassifier(
        {
            "fou": MLP(76, 64, (256,), final_activation=True),
            "pix": CNNEncoder(1, 64, channels=(8, 16)),
        },
        ConcatFusion({"fou": 64, "pix": 64}, 32),
        MLP(32, 10),
    ).eval()

    start = time.perf_counter()
    emap(model, data)
    cached_s = time.perf_counter() - start

    start = time.perf_counter()
    with torch.no_grad():
        full, _ = additive_projection(lambda x: model(x), dict(data.modalities))
    full_s = time.perf_counter() - start

    with torch.no_grad():
        features = model.encode(dict(data.modalities))
        fast, _ = additive_projection(model.classify, features)
    difference = float((fast - full).abs().max())
    print(f"N = {n}: {n * n:,} pairs")
    print(f"full model on every pair (baseline): {full_s:8.2f} s")
    print(f"emap with cached encodings:          {cached_s:8.2f} s")
    print(
        f"speed-up: {full_s / cached_s:.1f}x; "
        f"largest difference of projected logits {difference:.1e}"
    )


if __name__ == "__main__":
    main()
