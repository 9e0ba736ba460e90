"""Forward + backward time of each fusion layer, as a ratio to tensor fusion (TFN).

Run: python benchmarks/fusion_speed.py [--repeats 30]

Batch 256, three modalities with 32, 32 and 64 features, output 64, float32 on the CPU. Each
layer is timed over ``repeats`` steps after warm-up (median); the ratios compare layers measured
in the same run, so they hold on a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from intermodal.fusion import (
    AdditiveFusion,
    ConcatFusion,
    CrossModalAttentionFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    MultiplicativeFusion,
    NonlinearFusion,
    PolynomialFusion,
    TensorFusion,
)

DIMS = {"a": 32, "b": 32, "c": 64}
BATCH, OUTPUT = 256, 64

LAYERS: dict[str, Callable[[], nn.Module]] = {
    "TensorFusion": lambda: TensorFusion(DIMS, OUTPUT),
    "LowRankFusion (rank 4)": lambda: LowRankFusion(DIMS, OUTPUT, rank=4),
    "PolynomialFusion (P=2, r=4)": lambda: PolynomialFusion(DIMS, OUTPUT),
    "ConcatFusion": lambda: ConcatFusion(DIMS, OUTPUT),
    "AdditiveFusion": lambda: AdditiveFusion(DIMS, OUTPUT),
    "MultiplicativeFusion": lambda: MultiplicativeFusion(DIMS, OUTPUT),
    "GatedFusion": lambda: GatedFusion(DIMS, OUTPUT),
    "NonlinearFusion": lambda: NonlinearFusion(DIMS, OUTPUT),
    "LateFusion (learned)": lambda: LateFusion(DIMS, OUTPUT, "learned"),
    "CrossModalAttentionFusion": lambda: CrossModalAttentionFusion(DIMS, OUTPUT),
}


def step_time(layer: nn.Module, features: dict[str, torch.Tensor], repeats: int) -> float:
    """Median seconds of one forward + backward pass."""
    times = []
    for i in range(repeats + 3):
        layer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        layer(features).sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    repeats = parser.parse_args().repeats
    torch.manual_seed(0)
    features = {key: torch.randn(BATCH, dim) for key, dim in DIMS.items()}
    times = {name: step_time(make(), features, repeats) for name, make in LAYERS.items()}
    baseline = times["TensorFusion"]
    print(f"forward + backward, B={BATCH}, dims {tuple(DIMS.values())}, output {OUTPUT}, float32")
    print(f"{'layer':<30}{'ms/step':>10}{'TFN time / this':>18}")
    for name, seconds in times.items():
        print(f"{name:<30}{1000 * seconds:>10.3f}{baseline / seconds:>17.1f}x")
    ratio = baseline / times["LowRankFusion (rank 4)"]
    print(f"LowRankFusion (rank 4) is {ratio:.1f}x faster than TFN")


if __name__ == "__main__":
    main()
