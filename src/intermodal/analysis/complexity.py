"""Model complexity: parameters, FLOPs, latency and peak memory for an example batch."""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes held by tensors created during a computation and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def _release(self, key: int, size: int) -> None:
        self._seen.discard(key)
        self.live -= size

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, Tensor):
                storage = tensor.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self._seen:
                    size = storage.nbytes()
                    self._seen.add(key)
                    self.live += size
                    weakref.finalize(storage, self._release, key, size)
        self.peak = max(self.peak, self.live)
        return out


@torch.no_grad()
def complexity(
    model: nn.Module, inputs: Mapping[str, Tensor], repeats: int = 10
) -> dict[str, float]:
    """Measure ``model`` on an example batch ``inputs`` (modality -> ``(B, ...)``).

    Returns:
        ``parameters`` (count), ``flops_per_sample`` (PyTorch's FLOP counter: 2 per
        multiply-add of matmuls and convolutions), ``latency_ms_per_sample`` (fastest of
        ``repeats`` batched forward passes, divided by B) and ``peak_memory_mb`` (peak bytes of the
        tensors the forward pass allocates, weights excluded).
    """
    model.eval()
    batch = len(next(iter(inputs.values())))
    counter = FlopCounterMode(display=False)
    with counter:
        model(dict(inputs))
    tracker = _LiveTensorBytes()
    with tracker:
        model(dict(inputs))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(dict(inputs))
        times.append(time.perf_counter() - start)
    return {
        "parameters": float(sum(p.numel() for p in model.parameters())),
        "flops_per_sample": counter.get_total_flops() / batch,
        "latency_ms_per_sample": 1000.0 * min(times) / batch,
        "peak_memory_mb": tracker.peak / 2**20,
    }
