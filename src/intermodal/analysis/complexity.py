"""What a model costs: parameters, FLOPs, latency and peak memory on an example batch."""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class ModelCost:
    """What a model costs: ``parameters`` (all), ``trainable_parameters`` (with gradients; a
    probe on a frozen tower trains only its head), ``flops_per_sample`` (PyTorch's FLOP counter:
    2 per multiply-add of matmuls and convolutions), ``latency_ms_per_sample`` (the fastest of
    several batched forward passes divided by the batch size) and ``peak_memory_mb`` (peak bytes
    of the tensors the forward pass allocates, weights excluded)."""

    parameters: int
    trainable_parameters: int
    flops_per_sample: float
    latency_ms_per_sample: float
    peak_memory_mb: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@torch.no_grad()
def model_cost(
    model: nn.Module,
    inputs: Mapping[str, Tensor],
    mask: Mapping[str, Tensor] | None = None,
    repeats: int = 3,
) -> ModelCost:
    """Measure ``model`` in evaluation mode on an example batch ``inputs`` (modality ->
    ``(B, ...)``, on the model's device); the model's mode is restored afterwards."""
    if repeats < 1:
        raise ValueError(f"repeats must be positive, got {repeats}")
    batch = len(next(iter(inputs.values())))
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter:
            model(dict(inputs), mask)
        tracker = _LiveTensorBytes()
        with tracker:
            model(dict(inputs), mask)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(dict(inputs), mask)
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return ModelCost(
        parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        flops_per_sample=counter.get_total_flops() / batch,
        latency_ms_per_sample=1000.0 * min(times) / batch,
        peak_memory_mb=tracker.peak / 2**20,
    )
