"""ClipLoss forward + backward against a minimal reference at B = 4096, D = 512 on the CPU.

Run: python benchmarks/clip_loss_speed.py [--batch 4096] [--dim 512] [--repeats 5]

The reference is two matmuls and two cross-entropies on normalized embeddings. Both are timed in
the same run (median of ``repeats``); the chunked variant (``chunk=1024``) keeps memory at
O(chunk * B) instead of O(B^2) by recomputing the logits of each chunk in the backward pass.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

from intermodal.coordination import ClipLoss


def reference(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    targets = torch.arange(len(a))
    return (
        F.cross_entropy(scale * a @ b.T, targets) + F.cross_entropy(scale * b @ a.T, targets)
    ) / 2


def step_time(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    b: torch.Tensor,
    repeats: int,
) -> float:
    times = []
    for _ in range(repeats + 1):
        x, y = a.detach().requires_grad_(), b.detach().requires_grad_()
        start = time.perf_counter()
        loss(x, y).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    a = F.normalize(torch.randn(args.batch, args.dim), dim=1)
    b = F.normalize(torch.randn(args.batch, args.dim), dim=1)
    module = ClipLoss(learn_temperature=False)
    scale = module.logit_scale.detach()
    chunked = ClipLoss(learn_temperature=False, chunk=1024)
    base = step_time(lambda x, y: reference(x, y, scale), a, b, args.repeats)
    ours = step_time(module, a, b, args.repeats)
    small = step_time(chunked, a, b, args.repeats)
    print(f"B={args.batch}, D={args.dim}, forward + backward, float32 CPU")
    print(f"minimal reference: {1000 * base:8.1f} ms")
    print(f"ClipLoss:          {1000 * ours:8.1f} ms  ({ours / base:.2f}x the reference)")
    print(f"ClipLoss chunked:  {1000 * small:8.1f} ms  ({small / base:.2f}x the reference)")


if __name__ == "__main__":
    main()
