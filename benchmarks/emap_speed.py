"""EMAP with cached encodings against evaluating the full model on all N^2 pairs, and the
CPU batch of combinations against 8,192 per call.

Run: python benchmarks/emap_speed.py [--n 1000] [--methods all]

1. The model is a two-modality classifier on UCI Multiple Features: an MLP encoder for the
   Fourier view (fou, 76 features) and a CNN for the pixel view (pix, as a 1 x 16 x 15 image),
   early fusion to 32 features and a linear head. ``emap`` encodes each modality once and runs
   fusion and head on the N^2 combinations; the baseline runs the whole model on every
   combination of raw inputs.
2. The benchmark's fusion models as ``intermodal bench`` builds them on the six views (untrained:
   the cost does not depend on the weights), EMAP on the 300 test samples with 64 draws as in
   the report, at ``CPU_BATCH`` and at 8,192 combinations per call, fastest of two.

Both parts run with one intra-op thread, as the benchmark's workers do.
"""

from __future__ import annotations

import argparse
import time

import torch

from intermodal.analysis import emap
from intermodal.analysis.emap import ACCELERATOR_BATCH, CPU_BATCH, additive_projection
from intermodal.bench import METHODS, resolve_methods
from intermodal.data import MultimodalDataset, load_mfeat, split_dataset, standardize
from intermodal.encoders import MLP, CNNEncoder
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier
from intermodal.training import RunContext


def batches(methods: str) -> None:
    """EMAP of each fusion model at ``CPU_BATCH`` and at 8,192 combinations per call."""
    splits = standardize(split_dataset(load_mfeat(), seed=0))
    jobs, _ = resolve_methods(methods, splits.train)
    totals = {CPU_BATCH: 0.0, ACCELERATOR_BATCH: 0.0}
    print(
        f"{'method':<16}{CPU_BATCH:>10}{ACCELERATOR_BATCH:>10}   "
        f"seconds per EMAP, {ACCELERATOR_BATCH} / {CPU_BATCH}"
    )
    for job in jobs:
        if job.family != "fusion" or job.name.startswith("unimodal"):
            continue
        model = METHODS[job.name].build(splits.train, RunContext(seed=0)).eval()
        seconds = {}
        for size in totals:
            times = []
            for _ in range(2):
                start = time.perf_counter()
                emap(model, splits.test, n_draws=64, batch_size=size)
                times.append(time.perf_counter() - start)
            seconds[size] = min(times)
            totals[size] += seconds[size]
        small, large = seconds[CPU_BATCH], seconds[ACCELERATOR_BATCH]
        print(f"{job.name:<16}{small:10.2f}{large:10.2f}   {large / small:5.2f}x")
    small, large = totals[CPU_BATCH], totals[ACCELERATOR_BATCH]
    print(f"{'total':<16}{small:10.2f}{large:10.2f}   {large / small:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--methods", default="all", help="fusion methods for part 2")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    n = arguments.n
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
    batches(arguments.methods)


if __name__ == "__main__":
    main()
