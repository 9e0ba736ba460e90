"""Forward + backward time of each registered fusion layer, as a ratio to tensor fusion (TFN).

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

from intermodal.fusion.registry import FUSIONS, FusionSpec

DIMS = {"a": 32, "b": 32, "c": 64}
BATCH, OUTPUT = 256, 64


def layers() -> dict[str, Callable[[], nn.Module]]:
    """Every registered fusion that fuses three vector modalities (two-modal fusions and very
    early fusion of raw signals are left out)."""

    def make(spec: FusionSpec) -> Callable[[], nn.Module]:
        size = DIMS["a"] if spec.keeps_size else OUTPUT
        dims = dict.fromkeys(DIMS, DIMS["a"]) if spec.keeps_size else DIMS
        return lambda: spec.build(dims, size, "classification")

    return {
        name: make(spec)
        for name, spec in FUSIONS.items()
        if not spec.two_modal and name != "very-early"
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
    times = {}
    for name, make in layers().items():
        layer = make()
        dims = getattr(layer, "input_dims", DIMS)
        features = {key: torch.randn(BATCH, dim) for key, dim in dims.items()}
        times[name] = step_time(layer, features, repeats)
    baseline = times["tfn"]
    print(f"forward + backward, B={BATCH}, dims {tuple(DIMS.values())}, output {OUTPUT}, float32")
    print(f"{'layer':<30}{'ms/step':>10}{'TFN time / this':>18}")
    for name, seconds in times.items():
        print(f"{name:<30}{1000 * seconds:>10.3f}{baseline / seconds:>17.1f}x")
    print(f"LMF (rank 4) is {baseline / times['lmf']:.1f}x faster than TFN")


if __name__ == "__main__":
    main()
