"""The costly methods' hot spots: each formula's implementation against the plain one it replaced.

Run: python benchmarks/costly_methods.py [--repeats 5]

At the benchmark's shapes (UCI Multiple Features, all six views, batch 64, one thread), forward
and backward unless noted, CPU seconds of this process (the fastest of ``repeats``):

- attention: the softmax over 8 keys of all 30 pairs' scores ``(64, 30, 2, 8, 8)``, over the
  last dimension (``torch.softmax(s, -1)``) against the same softmax over a leading dimension
  (``attention_weights``);
- TFN: the outer product of six ``[x_m; 1]`` of 5 values (15,625 entries per sample) built from
  the first modality on (``einsum("bi,bj->bij")``) against from the last one on
  (``TensorFusion.fuse``);
- MFM: the prior-matching MMD of six private factors and their prior draws ``(6, 64, 16)``, on
  the whole ``(128, 128)`` kernel matrix against its three blocks (``mmd``);
- every run's validation: every metric of the task (``score``, AUROC included) against the ones
  a history keeps (``validation_scores``), on 300 samples of 10 classes;
- every step: ``torch.optim.AdamW.step`` (fused) against the lean engine's ``LeanAdamW``, on the
  parameters of the MFM, attention and search (an LMF candidate) models.

It prints the seconds of each and the ratio old / new.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor

from intermodal.bench import METHODS
from intermodal.data import load_mfeat, split_dataset, standardize
from intermodal.fission.factorized import mmd
from intermodal.fusion import TensorFusion
from intermodal.fusion.attention import attention_weights
from intermodal.fusion.base import append_one
from intermodal.metrics import score
from intermodal.search import build_candidate
from intermodal.training import RunContext, make_optimizer
from intermodal.training.fit import lean_optimizer
from intermodal.training.objective import validation_scores


def fastest(run: Callable[[], object], repeats: int, calls: int = 20) -> float:
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            run()
        best = min(best, (time.process_time() - start) / calls)
    return best


def backward(make: Callable[[], Tensor]) -> Callable[[], None]:
    def run() -> None:
        out = make()
        out.backward(torch.ones_like(out))

    return run


def mmd_whole_matrix(x: Tensor, y: Tensor, scales: tuple[float, ...]) -> Tensor:
    """The MMD as it was computed before: one kernel matrix of all ``N + M`` samples."""
    n, dim = x.shape[-2], x.shape[-1]
    z = torch.cat([x, y], dim=-2)
    norms = z.square().sum(-1)
    gram = z @ z.transpose(-1, -2)
    squared = (norms.unsqueeze(-1) + norms.unsqueeze(-2) - 2 * gram).clamp_min(0) / dim
    inverse = torch.tensor([0.5 / (s * s) for s in scales], dtype=z.dtype)
    kernel = torch.exp(-squared.unsqueeze(-3) * inverse[:, None, None]).sum(-3)
    xx, yy, xy = kernel[..., :n, :n], kernel[..., n:, n:], kernel[..., :n, n:]
    return xx.mean((-2, -1)) + yy.mean((-2, -1)) - 2 * xy.mean((-2, -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[tuple[str, float, float]] = []

    scores = torch.randn(64, 30, 2, 8, 8, requires_grad=True)
    rows.append(
        (
            "attention softmax, 8 keys",
            fastest(backward(lambda: torch.softmax(scores, dim=-1)), args.repeats),
            fastest(backward(lambda: attention_weights(scores)), args.repeats),
        )
    )

    dims = {f"m{i}": 4 for i in range(6)}
    tfn = TensorFusion(dims, 128)
    features = {k: torch.randn(64, 4, requires_grad=True) for k in dims}

    def first_to_last() -> Tensor:
        tensors = [features[k] for k in sorted(features)]
        fused = append_one(tensors[0])
        for x in tensors[1:]:
            fused = torch.einsum("bi,bj->bij", fused, append_one(x)).reshape(64, -1)
        return fused

    rows.append(
        (
            "TFN outer product, 15,625",
            fastest(backward(first_to_last), args.repeats),
            fastest(backward(lambda: tfn.fuse(features)), args.repeats),
        )
    )

    scales = (0.2, 0.5, 1.0, 2.0, 5.0)
    private = torch.randn(6, 64, 16, requires_grad=True)
    prior = torch.randn(6, 64, 16)
    rows.append(
        (
            "MFM prior MMD",
            fastest(backward(lambda: mmd_whole_matrix(private, prior, scales).sum()), args.repeats),
            fastest(backward(lambda: mmd(private, prior, scales).sum()), args.repeats),
        )
    )

    outputs, targets = torch.randn(300, 10, dtype=torch.float64), torch.arange(300) % 10
    rows.append(
        (
            "validation metrics",
            fastest(lambda: score("classification", outputs, targets), args.repeats),
            fastest(
                lambda: validation_scores("classification", outputs, targets, 10), args.repeats
            ),
        )
    )

    splits = standardize(split_dataset(load_mfeat(), seed=0))
    models = {
        "mfm": METHODS["mfm"].build(splits.train, RunContext()),
        "attention": METHODS["attention"].build(splits.train, RunContext()),
        "search (lmf)": build_candidate(
            {"fusion": "lmf", "depths": dict.fromkeys(splits.train.modality_names, 2)},
            splits.train,
        ),
    }
    for name, model in models.items():
        parameters = [p for p in model.parameters() if p.requires_grad]
        grads = [torch.randn_like(p) for p in parameters]
        torch_adamw, lean = make_optimizer(model, 1e-3, 1e-4), lean_optimizer(model, 1e-3, 1e-4)

        def step(
            optimizer: object, parameters: list[Tensor] = parameters, grads: list[Tensor] = grads
        ) -> Callable[[], None]:
            def run() -> None:
                for p, g in zip(parameters, grads, strict=True):
                    p.grad = g
                optimizer.step()  # type: ignore[attr-defined]

            return run

        rows.append(
            (
                f"AdamW step, {name} ({len(parameters)} tensors)",
                fastest(step(torch_adamw), args.repeats),
                fastest(step(lean), args.repeats),
            )
        )

    print(f"CPU milliseconds (fastest of {args.repeats}), one thread")
    print(f"{'':<36} {'old':>9} {'new':>9} {'old/new':>8}")
    for name, old, new in rows:
        print(f"{name:<36} {1e3 * old:9.3f} {1e3 * new:9.3f} {old / new:8.2f}")


if __name__ == "__main__":
    main()
