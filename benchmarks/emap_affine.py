"""EMAP that averages the features before a model's affine tail, against running the whole
``classify`` on every combination.

Run: python benchmarks/emap_affine.py [--methods tfn,attention,multiplicative,early]

The benchmark's fusion models as ``intermodal bench`` builds them on the six views of UCI
Multiple Features, trained for a few epochs (the cost does not depend on the weights; the
scores are compared, so the models should predict something), EMAP on the 300 test samples
with 64 draws as in the report, one intra-op thread as in the benchmark's workers. The baseline
is the same model with its affine split hidden (``classify`` on every combination, then the
means). Prints CPU seconds of both, their ratio and the largest difference of the projected
outputs (float rounding only).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from torch import nn

from intermodal.analysis import emap
from intermodal.analysis.emap import additive_projection, affine_split
from intermodal.bench import resolve_methods
from intermodal.bench.config import BenchConfig
from intermodal.bench.executors import prepare_splits
from intermodal.bench.runner import train_job
from intermodal.data import load_dataset


class WholeClassify(nn.Module):
    """A model seen without its affine split: EMAP runs ``classify`` on every combination."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    @property
    def modalities(self) -> list[str]:
        return list(self.model.modalities)

    def encode(self, inputs: Any, mask: Any = None) -> Any:
        return self.model.encode(inputs, mask)

    def classify(self, features: Any, mask: Any = None) -> Any:
        return self.model.classify(features, mask)

    def forward(self, inputs: Any, mask: Any = None) -> Any:
        return self.model(inputs, mask)


def projection(model: Any, points: dict[str, torch.Tensor]) -> torch.Tensor:
    inner, tail = affine_split(model)
    with torch.no_grad():
        after = None if tail is None else tail.eval()
        return additive_projection(
            lambda x: inner(x, None), points, n_draws=64, batch_size=512, tail=after
        )[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="tfn,attention,multiplicative,early,gmu,lmf,simbamm")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("mfeat")
    splits = prepare_splits(data, 0)
    context = BenchConfig(threads=1, epochs=args.epochs).context(0)
    jobs, _ = resolve_methods(args.methods.split(","), data)
    print(f"{'method':<16} {'whole (s)':>10} {'affine (s)':>11} {'ratio':>6} {'max diff':>9}")
    totals = [0.0, 0.0]
    for job in jobs:
        model = train_job(job, splits, context).model.eval()
        times, outputs = [], []
        for seen in (WholeClassify(model).eval(), model):
            start = time.process_time()
            result = emap(seen, splits.test, n_draws=64, seed=0)
            times.append(time.process_time() - start)
            with torch.no_grad():
                points = model.encode({k: splits.test.modalities[k] for k in model.modalities})
            outputs.append((result, projection(seen, points)))
        (whole, fast), ((slow_r, slow_p), (fast_r, fast_p)) = times, outputs
        totals = [totals[0] + whole, totals[1] + fast]
        diff = float((slow_p - fast_p).abs().max())
        assert slow_r.emap_score == fast_r.emap_score, (slow_r, fast_r)
        print(f"{job.name:<16} {whole:10.2f} {fast:11.2f} {whole / fast:6.2f} {diff:9.2e}")
    print(f"{'total':<16} {totals[0]:10.2f} {totals[1]:11.2f} {totals[0] / totals[1]:6.2f}")


if __name__ == "__main__":
    main()
