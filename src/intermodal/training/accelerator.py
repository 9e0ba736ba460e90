"""``accelerator="auto"``: train where the work at hand runs faster.

A GPU pays only when a step holds enough arithmetic to hide its launch and transfer overhead;
the small models of a benchmark often run faster on the CPU's cores (one model of the default
benchmark: 90 s on an H100 against 72.6 s on its 16 CPU cores), while a stack of many models,
a wide backbone or a large batch runs faster on the GPU. No fixed threshold of parameters or
FLOPs predicts the crossing across machines, so the rule measures it:

- without a CUDA GPU, ``auto`` is the CPU (nothing is timed);
- with one, the first training of each kind of work (the model's class and parameter shapes,
  the batch size and the number of stacked models: :func:`work_key`) times ``STEPS`` training
  steps on a batch of the real data on the GPU and on the CPU, after one warm-up step each, and
  trains on the faster; the choice is kept for the process, so the other seeds and trials of
  the same architecture train without timing again, and it is logged.

An explicit ``cpu`` or ``gpu``/``cuda`` is never second-guessed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence

import torch
from torch import nn

logger = logging.getLogger(__name__)

STEPS = 3
"""Timed training steps per device (after one warm-up step)."""

_CHOSEN: dict[Hashable, torch.device] = {}
"""Work key -> the device chosen for it in this process."""

StepFactory = Callable[[torch.device], Callable[[], object]]
"""``prepare(device) -> step``: puts a copy of the work on ``device`` (not timed) and returns
one training step (forward, backward, optimizer update) to time."""


def work_key(model: nn.Module, batch_size: int, models: int = 1) -> Hashable:
    """What decides a step's speed: the architecture (class and parameter shapes), the batch
    size and how many models train stacked."""
    shapes = tuple((name, tuple(p.shape)) for name, p in model.named_parameters())
    return (type(model).__qualname__, shapes, batch_size, models)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_step(
    prepare: StepFactory,
    device: torch.device,
    steps: int = STEPS,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The median time of ``steps`` training steps on ``device``, after one warm-up step."""
    step = prepare(device)
    step()
    _synchronize(device)
    times = []
    for _ in range(steps):
        start = clock()
        step()
        _synchronize(device)
        times.append(clock() - start)
    return float(sorted(times)[len(times) // 2])


def fastest_device(
    key: Hashable,
    prepare: StepFactory,
    candidates: Sequence[torch.device] | None = None,
    steps: int = STEPS,
) -> torch.device:
    """The candidate on which ``prepare``'s step runs fastest (see the module's rule), kept
    for ``key``; candidates default to the GPU and the CPU (the CPU alone without a GPU)."""
    if candidates is None:
        candidates = [torch.device("cpu")]
        if torch.cuda.is_available():
            candidates.insert(0, torch.device("cuda"))
    if len(candidates) == 1:
        return candidates[0]
    if key in _CHOSEN:
        return _CHOSEN[key]
    timed = {device: seconds_per_step(prepare, device, steps) for device in candidates}
    chosen = min(timed, key=lambda device: timed[device])
    logger.info(
        "accelerator auto: %s (seconds per step: %s)",
        chosen,
        ", ".join(f"{device} {seconds:.4g}" for device, seconds in timed.items()),
    )
    _CHOSEN[key] = chosen
    return chosen
