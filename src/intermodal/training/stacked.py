"""Many models of one architecture trained as one stacked model.

The seeds of a method, and the trials of a tuning round that differ only in continuous settings
(learning rate, weight decay, dropout rate, loss weights), train together: their parameters and
buffers are stacked along a new first dimension (as ``torch.func.stack_module_state`` does) and
one ``torch.func.vmap`` of ``torch.func.functional_call`` computes every model's loss with
batched operations, so a step costs a few large operations instead of S times as many small ones.

Each model keeps what it would have alone (the lean engine of :func:`~intermodal.training.fit`):

- its batches: a generator seeded with its own seed draws its batch order, the order its single
  run draws; its own split (models may have different splits of equal sizes) or a shared one;
- its optimizer: AdamW with its own learning rate and weight decay, the update of
  ``torch.optim.AdamW`` (the same fused kernel where the device has one);
- its early stopping (:class:`~intermodal.training.stopping.EarlyStopping`: patience,
  ``min_delta``, the monitored quantity of its objective) and its best weights, restored at the
  end; its own ``max_epochs``;
- its stackable settings: a module lists the continuous attributes that models may differ in as
  ``stackable_settings`` (``Dropout.p``, a fusion model's modality-dropout rate, the loss weights
  of the fission models); in a stack the attribute is a tensor of every model's value.

A model that stops (patience, ``max_epochs``, a non-finite value, or ``on_epoch`` returning True)
leaves the stack: it is no longer computed, and its weights and optimizer state no longer change.
With dropout off, every model ends with the weights of its single run, up to the rounding of
batched kernels. With dropout (or other random draws) on, the draws of the whole stack come from
the global generator, seeded with the first model's seed, so a model's draws depend on the stack
it trains in; the same stack gives the same results on every run.

Stacked models share the batch size, device, threads and loss, and their splits share sizes,
modalities and shapes. :func:`stack_refusal` says why models cannot stack (another architecture,
a setting outside ``stackable_settings`` that differs, such as a tokenizer learned from each
model's data, or an operation that ``vmap`` cannot batch, found by a one-step trial);
:func:`fit_many` then trains them one at a time with ``fit``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap
from tqdm.auto import tqdm

from intermodal.data.dataset import Batch
from intermodal.data.splits import DataSplits
from intermodal.errors import UnknownNameError
from intermodal.losses import Loss, task_loss
from intermodal.models.target_scale import TargetScale, TargetStatistics
from intermodal.training.accelerator import fastest_device, work_key
from intermodal.training.context import RunContext, resolve_device, thread_limit
from intermodal.training.fit import (
    VALIDATION_BATCH,
    FitResult,
    seed_everything,
    split_tensors,
)
from intermodal.training.objective import Objective, validation_scores
from intermodal.training.optim import LeanAdamW
from intermodal.training.stopping import EarlyStopping

logger = logging.getLogger(__name__)

STACKED_ENGINE = "stacked"
"""``FitResult.engine`` of a model trained in a stack."""

STACK_ON_CPU = False
"""Whether :func:`fit_many` stacks models on the CPU by default. It does not: on two CPU cores
(one thread per run) whole fits of the 3 seeds of a method took longer stacked than one at a
time, 0.54x (early), 0.64x (unimodal), 0.84x (LMF) and 0.87x (late-mean) of the speed
(``benchmarks/stacked_seeds.py``): the batched kernels save little per step on the CPU, and a
stack runs until its slowest model stops. On a GPU, where one small model leaves the device
idle, they stack."""

StackCallback = Callable[[int, int, dict[str, float]], bool]
"""``on_epoch(model_index, epoch, scores) -> stop``: called for every model in the stack after
each of its epochs with its history row; True stops that model there (a pruned trial)."""

SHARED_FIELDS = ("batch_size", "accelerator", "devices", "strategy", "threads", "loss")
"""Run-context fields that every model of a stack must share."""

_INTERNALS = frozenset(nn.Module().__dict__) | {"_intermodal_config"}
"""Attributes every module has (parameters, buffers, submodules, hooks) and the saved
constructor arguments; the others hold a module's configuration, compared across a stack."""


class StackingError(ValueError):
    """Models that cannot train as one stacked model; the message says why."""


# --- which models stack ------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Whether two attribute values configure a module the same way."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (
            isinstance(a, Tensor)
            and isinstance(b, Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(torch.equal(a.detach().cpu(), b.detach().cpu()))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, functools.partial) and isinstance(b, functools.partial):
        return a.func is b.func and _same(a.args, b.args) and _same(a.keywords, b.keywords)
    try:
        return bool(a == b)
    except Exception:  # a value without a plain equality (an array-like)
        return a is b


def _own_tensors(value: Any) -> bool:
    """Whether an attribute only refers to tensors the module holds anyway (a recurrent layer's
    list of its flat weights, or weak references to them)."""
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(v, nn.Parameter | weakref.ref) or v is None for v in value)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def stackable_settings(module: nn.Module) -> tuple[str, ...]:
    """The attributes of ``module`` that models of one stack may differ in (its class's
    ``stackable_settings``: continuous numbers such as a dropout rate or a loss weight)."""
    return tuple(getattr(type(module), "stackable_settings", ()))


def _architecture_refusal(models: Sequence[nn.Module]) -> str | None:
    """Why ``models`` are not one architecture with differences only in stackable settings."""
    if not models:
        return "no models to stack"
    first = models[0]
    if not any(p.requires_grad for p in first.parameters()):
        return f"{type(first).__name__} has no trainable parameters"
    modules0 = list(first.named_modules())
    params0 = [(n, p.shape, p.dtype, p.requires_grad) for n, p in first.named_parameters()]
    buffers0 = [(n, b.shape, b.dtype) for n, b in first.named_buffers()]
    for path, module in modules0:
        hooks = [k for k in vars(module) if "hook" in k and vars(module)[k]]
        if hooks:
            return f"{type(module).__name__} {path or '(the model)'} has hooks ({hooks[0]})"
    for i, model in enumerate(models[1:], 1):
        modules = list(model.named_modules())
        layout = [(p, type(m)) for p, m in modules]
        if layout != [(p, type(m)) for p, m in modules0]:
            return f"model {i} has another architecture than model 0 (other modules)"
        if [(n, p.shape, p.dtype, p.requires_grad) for n, p in model.named_parameters()] != params0:
            return f"model {i} has other parameters than model 0 (names, shapes or dtypes)"
        if [(n, b.shape, b.dtype) for n, b in model.named_buffers()] != buffers0:
            return f"model {i} has other buffers than model 0 (names, shapes or dtypes)"
        for (path, m0), (_, mi) in zip(modules0, modules, strict=True):
            where = f"{type(m0).__name__} {path or '(the model)'}"
            settings = stackable_settings(m0)
            a_vars, b_vars = vars(m0), vars(mi)
            for key in sorted((set(a_vars) | set(b_vars)) - _INTERNALS):
                if key not in a_vars or key not in b_vars:
                    return f"{where}: attribute {key!r} is set in one model only"
                a, b = a_vars[key], b_vars[key]
                if _own_tensors(a) and _own_tensors(b):
                    continue
                if key in settings:
                    if not (_number(a) and _number(b)):
                        return f"{where}: the stackable setting {key!r} must be a number, got {a!r}"
                    if (a == 0) != (b == 0):
                        return (
                            f"{where}: {key} is 0 in one model and {a or b} in another (a zero "
                            "setting may switch a part of the model off): stack them apart"
                        )
                elif not _same(a, b):
                    allowed = f"only {list(settings)} may differ" if settings else "none may differ"
                    return (
                        f"{where}: {key!r} differs between models 0 and {i} ({_short(a)} vs "
                        f"{_short(b)}); of its attributes {allowed}"
                    )
    return None


def _splits_refusal(names: list[str], splits: Sequence[DataSplits]) -> str | None:
    """Why the models' splits cannot be stacked (different sizes, shapes or tasks)."""
    first = splits[0]
    for i, other in enumerate(splits[1:], 1):
        for part in ("train", "val"):
            a, b = getattr(first, part), getattr(other, part)
            if a.task != b.task:
                return f"the splits of models 0 and {i} have different tasks ({a.task}, {b.task})"
            if len(a) != len(b):
                return (
                    f"the {part} parts of models 0 and {i} differ in size ({len(a)} vs {len(b)} "
                    "rows); stacked models need parts of equal sizes"
                )
            for key in names:
                x, y = a.modalities[key], b.modalities[key]
                if x.shape[1:] != y.shape[1:] or x.dtype != y.dtype:
                    return f"modality {key!r} has other shapes or types in the split of model {i}"
            if a.targets.shape != b.targets.shape or a.targets.dtype != b.targets.dtype:
                return f"the targets of model {i} have another shape or type"
            if a.output_dim != b.output_dim:
                return f"the data of model {i} has {b.output_dim} outputs, not {a.output_dim}"
    return None


def _contexts_refusal(contexts: Sequence[RunContext]) -> str | None:
    for name in SHARED_FIELDS:
        values = {getattr(c, name) for c in contexts}
        if len(values) > 1:
            return f"the models' {name} differ ({sorted(map(str, values))}); a stack shares it"
    first = contexts[0]
    if first.devices != 1 or first.strategy not in ("auto", "single_device"):
        return "stacked training runs on one device; several devices train with Lightning's DDP"
    return None


def _stacked_loss(losses: Sequence[Loss]) -> tuple[Loss, dict[str, Tensor]] | str:
    """One loss for every model: the models' own when it is the same function, or a
    ``functools.partial`` whose tensor arguments (a per-split ``pos_weight``) are stacked and
    batched with the models. A string says why the losses cannot be stacked."""
    first = losses[0]
    if all(loss is first for loss in losses):
        return first, {}
    if all(isinstance(loss, functools.partial) for loss in losses):
        partials: list[functools.partial[Tensor]] = list(losses)  # type: ignore[arg-type]
        head = partials[0]
        tensors = [k for k, v in head.keywords.items() if isinstance(v, Tensor)]
        static = {k: v for k, v in head.keywords.items() if k not in tensors}
        if all(
            p.func is head.func
            and _same(p.args, head.args)
            and p.keywords.keys() == head.keywords.keys()
            and _same({k: p.keywords[k] for k in static}, static)
            and all(p.keywords[k].shape == head.keywords[k].shape for k in tensors)
            for p in partials
        ):
            extras = {k: torch.stack([p.keywords[k] for p in partials]) for k in tensors}
            return functools.partial(head.func, *head.args, **static), extras
    return "the models' losses differ beyond tensor arguments of one function"


def _as_list(value: Any, count: int, what: str) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
        if len(items) != count:
            raise ValueError(
                f"{count} models need {count} {what} (or one shared), got {len(items)}"
            )
        return items
    return [value] * count


def _names(model: nn.Module, data: DataSplits) -> list[str]:
    names = list(getattr(model, "modalities", data.train.modality_names))
    absent = sorted(set(names) - set(data.train.modality_names))
    if absent:
        raise UnknownNameError(
            f"the model needs modalities {absent} that the data set lacks "
            f"(it has {data.train.modality_names})"
        )
    return names


# --- the stack ----------------------------------------------------------------------------------


class _Run(nn.Module):
    """A model's objective as a module call, so that ``functional_call`` runs it (training loss,
    or validation loss and outputs) with each model's tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        inputs: dict[str, Tensor],
        target: Tensor,
        mask: dict[str, Tensor],
        goal: Objective,
        train: bool,
    ) -> Any:
        batch = Batch(inputs, target, mask)
        if train:
            return goal.train(batch)
        return goal.validate(batch)


@contextlib.contextmanager
def _settings(slots: Sequence[tuple[nn.Module, str]], values: Sequence[Tensor]) -> Iterator[None]:
    """Set each stackable setting to its tensor of per-model values for the block."""
    saved = [getattr(module, name) for module, name in slots]
    try:
        for (module, name), value in zip(slots, values, strict=True):
            setattr(module, name, value)
        yield
    finally:
        for (module, name), value in zip(slots, saved, strict=True):
            setattr(module, name, value)


def _record_layout(layouts: dict[str, tuple[int, ...]], name: str, grad: Tensor) -> None:
    layouts[name] = tuple(grad.stride())


def _order(strides: tuple[int, ...]) -> tuple[int, ...] | None:
    """The dimensions from the largest stride to the smallest (None for broadcast strides)."""
    if 0 in strides:
        return None
    return tuple(sorted(range(len(strides)), key=lambda d: -strides[d]))


def _has_order(t: Tensor, order: tuple[int, ...]) -> bool:
    return t.permute(order).is_contiguous()


def _in_order(t: Tensor, order: tuple[int, ...]) -> Tensor:
    """``t`` with the same values, laid out densely with its dimensions in ``order``."""
    inverse = sorted(range(len(order)), key=order.__getitem__)
    return t.permute(order).contiguous().permute(inverse)


class _Part:
    """One part (training or validation) of every model's split on the device: one tensor per
    modality, ``(N, ...)`` when the models share their split, else ``(S, N, ...)``."""

    def __init__(self, batches: list[Batch], shared: bool) -> None:
        self.shared = shared
        keys = sorted({k for b in batches for k in b.mask})
        filled = [  # a modality absent somewhere in one model's part gets a mask in every one
            Batch(
                b.inputs,
                b.target,
                {
                    k: b.mask.get(
                        k, torch.ones(len(b.target), dtype=torch.bool, device=b.target.device)
                    )
                    for k in keys
                },
            )
            for b in batches
        ]
        if shared:
            self.data = filled[0]
        else:
            self.data = Batch(
                {k: torch.stack([b.inputs[k] for b in filled]) for k in filled[0].inputs},
                torch.stack([b.target for b in filled]),
                {k: torch.stack([b.mask[k] for b in filled]) for k in keys},
            )
        self.rows = len(filled[0].target)

    def take(self, index: Tensor) -> Batch:
        """The rows ``index`` ``(S, R)`` of each model: a batch of ``(S, R, ...)`` tensors."""
        if self.shared:
            return Batch(
                {k: v[index] for k, v in self.data.inputs.items()},
                self.data.target[index],
                {k: v[index] for k, v in self.data.mask.items()},
            )
        models = torch.arange(len(index), device=index.device).unsqueeze(1)
        return Batch(
            {k: v[models, index] for k, v in self.data.inputs.items()},
            self.data.target[models, index],
            {k: v[models, index] for k, v in self.data.mask.items()},
        )

    def chunks(self, size: int) -> list[tuple[Batch, int]]:
        """Consecutive row ranges of at most ``size`` rows (of every model), with their sizes."""
        dim = 0 if self.shared else 1
        out = []
        for start in range(0, self.rows, size):
            length = min(size, self.rows - start)
            out.append(
                (
                    Batch(
                        {k: v.narrow(dim, start, length) for k, v in self.data.inputs.items()},
                        self.data.target.narrow(dim, start, length),
                        {k: v.narrow(dim, start, length) for k, v in self.data.mask.items()},
                    ),
                    length,
                )
            )
        return out

    def first(self, size: int) -> Batch:
        """The first ``size`` rows of every model."""
        dim = 0 if self.shared else 1
        return Batch(
            {k: v.narrow(dim, 0, size) for k, v in self.data.inputs.items()},
            self.data.target.narrow(dim, 0, size),
            {k: v.narrow(dim, 0, size) for k, v in self.data.mask.items()},
        )

    def keep(self, rows: Tensor) -> None:
        if not self.shared:
            self.data = Batch(
                {k: v.index_select(0, rows) for k, v in self.data.inputs.items()},
                self.data.target.index_select(0, rows),
                {k: v.index_select(0, rows) for k, v in self.data.mask.items()},
            )


def _slice(batch: Batch, start: int, size: int) -> Batch:
    """Rows ``start .. start + size`` of a ``(S, R, ...)`` batch (views)."""
    return Batch(
        {k: v[:, start : start + size] for k, v in batch.inputs.items()},
        batch.target[:, start : start + size],
        {k: v[:, start : start + size] for k, v in batch.mask.items()},
    )


@dataclass
class _Member:
    """What one model of the stack keeps: its settings, batch order, stopping and history."""

    index: int
    context: RunContext
    generator: torch.Generator
    stopping: EarlyStopping
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


class _Stack:
    """S models of one architecture as stacked tensors, with their optimizer and best weights."""

    def __init__(
        self,
        models: Sequence[nn.Module],
        goal: Objective,
        loss: Loss,
        extras: dict[str, Tensor],
        contexts: Sequence[RunContext],
        device: torch.device,
    ) -> None:
        base = copy.deepcopy(models[0])
        self.goal = goal
        goal.model = base
        self.run = _Run(base)
        self.loss, self.extras = loss, {k: v.to(device) for k, v in extras.items()}
        params = [dict(m.named_parameters()) for m in models]
        buffers = [dict(m.named_buffers()) for m in models]
        self.params: dict[str, Tensor] = {}
        for name, p in base.named_parameters():
            stacked = torch.stack([ps[name].detach() for ps in params]).to(device)
            self.params[f"model.{name}"] = stacked.requires_grad_(p.requires_grad)
        self.buffers = {
            f"model.{name}": torch.stack([bs[name] for bs in buffers]).to(device)
            for name, _ in base.named_buffers()
        }
        modules = [dict(m.named_modules()) for m in models]
        self.slots: list[tuple[nn.Module, str]] = []
        values = []
        for path, module in base.named_modules():
            for name in stackable_settings(module):
                self.slots.append((module, name))
                column = [float(getattr(ms[path], name)) for ms in modules]
                values.append(torch.tensor(column, dtype=torch.float32, device=device))
        self.values = values
        base.to("meta")  # every tensor of a call comes from the stacks
        trainable = [p for p in self.params.values() if p.requires_grad]
        self.optimizer = LeanAdamW(
            trainable, [c.lr for c in contexts], [c.weight_decay for c in contexts]
        )
        self.best = {k[len("model.") :]: v.detach().clone() for k, v in self.state().items()}
        self.layouts: dict[str, tuple[int, ...] | None] = {}
        self.outputs = False
        self._train = vmap(functools.partial(self._call, train=True), randomness="different")
        self._validate = {
            shared: vmap(
                functools.partial(self._call, train=False),
                in_dims=(
                    0,
                    0,
                    0,
                    0,
                    None if shared else 0,
                    None if shared else 0,
                    None if shared else 0,
                ),
                randomness="different",
            )
            for shared in (True, False)
        }

    def state(self) -> dict[str, Tensor]:
        return {**self.params, **self.buffers}

    def trial(self, train: _Part, val: _Part) -> str | None:
        """One training step's forward and backward and one validation call on a few rows, on
        copies of the buffers and with the random state restored: why the stack cannot run
        batched (None when it can). The step also shows in which layout each parameter's
        gradient arrives; the parameters are laid out the same way, so gradients are stored
        without a copy (a stacked linear weight arrives transposed)."""
        device = next(iter(self.params.values())).device
        buffers = {k: b.clone() for k, b in self.buffers.items()}
        layouts: dict[str, tuple[int, ...]] = {}
        hooks = [
            p.register_hook(functools.partial(_record_layout, layouts, name))
            for name, p in self.params.items()
            if p.requires_grad
        ]
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                rows = min(4, train.rows)
                index = torch.arange(rows, device=device).expand(len(self.optimizer.lr), rows)
                self.set_mode(True)
                losses = self._train(
                    self.params, self.buffers, self.values, self.extras, *train.take(index)
                )
                losses.sum().backward()
                self.set_mode(False)
                self.validate(val.first(min(4, val.rows)), val.shared)
        except Exception as error:  # vmap refuses what it cannot batch: say so
            text = str(error).strip().splitlines()
            return f"cannot run batched ({type(error).__name__}: {text[0] if text else ''})"
        finally:
            for hook in hooks:
                hook.remove()
            for p in self.params.values():
                p.grad = None
            for name, b in buffers.items():
                self.buffers[name].copy_(b)
        self.layouts = {name: _order(strides) for name, strides in layouts.items()}
        self._relayout()
        return None

    def _relayout(self) -> None:
        """Lay each parameter out in the order of its gradient's strides (a new optimizer, whose
        state starts at zero: call before the first step)."""
        for name, order in self.layouts.items():
            p = self.params[name]
            if order is not None and not _has_order(p, order):
                self.params[name] = _in_order(p.detach(), order).requires_grad_(p.requires_grad)
        self.optimizer = LeanAdamW(
            [p for p in self.params.values() if p.requires_grad],
            self.optimizer.lr,
            self.optimizer.weight_decay,
        )

    def _call(
        self,
        params: dict[str, Tensor],
        buffers: dict[str, Tensor],
        values: list[Tensor],
        extras: dict[str, Tensor],
        inputs: dict[str, Tensor],
        target: Tensor,
        mask: dict[str, Tensor],
        train: bool,
    ) -> Any:
        goal = self.goal
        if extras:
            goal = copy.copy(goal)
            goal.loss = functools.partial(self.loss, **extras)
        with _settings(self.slots, values):
            result = functional_call(
                self.run, (params, buffers), (inputs, target, mask, goal, train), strict=True
            )
        if train:
            return result
        loss, outputs = result
        self.outputs = outputs is not None
        return loss, outputs if outputs is not None else loss

    def train_step(self, batch: Batch) -> Tensor:
        """One optimizer step of every model on its rows of ``batch`` ``(S, B, ...)``; returns
        the models' losses ``(S,)``."""
        losses = self._train(self.params, self.buffers, self.values, self.extras, *batch)
        losses.sum().backward()
        self.optimizer.step()
        return losses.detach()

    @torch.no_grad()
    def validate(self, batch: Batch, shared: bool) -> tuple[Tensor, Tensor | None]:
        """Validation losses ``(S,)`` and outputs ``(S, R, K)`` (None for a model that does not
        predict the target) of every model on ``batch``."""
        losses, outputs = self._validate[shared](
            self.params, self.buffers, self.values, self.extras, *batch
        )
        return losses, outputs if self.outputs else None

    def set_mode(self, training: bool) -> None:
        self.run.train(training)

    @torch.no_grad()
    def record_best(self, local: list[int], original: list[int]) -> None:
        """Copy the current weights of the models at rows ``local`` as the best of models
        ``original``."""
        device = next(iter(self.best.values())).device
        rows = torch.tensor(local, device=device)
        targets = torch.tensor(original, device=device)
        for name, value in self.state().items():
            self.best[name[len("model.") :]].index_copy_(0, targets, value.index_select(0, rows))

    def keep(self, rows: Tensor) -> None:
        """Continue with the models at ``rows`` only."""
        with torch.no_grad():
            for name, p in self.params.items():
                kept = p.detach().index_select(0, rows)
                order = self.layouts.get(name)
                if order is not None:
                    kept = _in_order(kept, order)
                self.params[name] = kept.requires_grad_(p.requires_grad)
            for name, b in self.buffers.items():
                self.buffers[name] = b.index_select(0, rows)
            self.values = [v.index_select(0, rows) for v in self.values]
            self.extras = {k: v.index_select(0, rows) for k, v in self.extras.items()}
        self.optimizer.keep(rows, [p for p in self.params.values() if p.requires_grad])


# --- training -----------------------------------------------------------------------------------


def _prepare(
    models: Sequence[nn.Module],
    data: DataSplits | Sequence[DataSplits],
    contexts: RunContext | Sequence[RunContext],
    loss: Loss | str | None,
    standardize_targets: bool,
) -> dict[str, Any]:
    """Unwrap target scales, standardize regression targets per model and build the losses."""
    count = len(models)
    if count == 0:
        raise ValueError("fit_stacked needs at least one model")
    shared = isinstance(data, DataSplits)
    splits: list[DataSplits] = [data] * count if shared else _as_list(data, count, "splits")  # type: ignore[list-item]
    contexts_ = _as_list(contexts, count, "run contexts")
    if not all(isinstance(c, RunContext) for c in contexts_):
        raise TypeError("contexts must be RunContext objects (one shared, or one per model)")
    if loss is None:
        loss = contexts_[0].loss  # the contexts' loss (a stack shares it)
    inner: list[nn.Module] = []
    wrappers: list[TargetScale | None] = []
    scales: list[TargetStatistics | None] = []
    fitted: dict[int, TargetStatistics] = {}  # one target scale per split
    for model, split in zip(models, splits, strict=True):
        if isinstance(model, TargetScale):  # trained before: keep its statistics
            wrappers.append(model)
            scales.append(model.statistics)
            inner.append(model.model)
            continue
        wrappers.append(None)
        inner.append(model)
        if split.train.task == "regression" and standardize_targets:
            if id(split) not in fitted:
                fitted[id(split)] = TargetStatistics.fit(split.train.targets)
            scales.append(fitted[id(split)])
        else:
            scales.append(None)
    shared = shared and all(s is scales[0] for s in scales)
    cache: dict[tuple[int, int], DataSplits] = {}
    standardized = []
    for split, scale in zip(splits, scales, strict=True):
        key = (id(split), id(scale))
        if key not in cache:
            cache[key] = (
                split
                if scale is None
                else DataSplits(*(p.with_targets(scale.standardize(p.targets)) for p in split))
            )
        standardized.append(cache[key])
    if isinstance(loss, str) or loss is None:
        name = loss or ""
        made: dict[int, Loss] = {}
        losses = []
        for split in standardized:
            if id(split) not in made:
                made[id(split)] = task_loss(split.train.task, loss, split.train)
            losses.append(made[id(split)])
    else:
        name = getattr(loss, "__name__", type(loss).__name__)
        losses = [loss] * count
    return {
        "models": inner,
        "wrappers": wrappers,
        "scales": scales,
        "splits": standardized,
        "shared": shared,
        "contexts": contexts_,
        "losses": losses,
        "loss_name": name,
    }


def _refusal(prepared: dict[str, Any]) -> str | None:
    models, splits = prepared["models"], prepared["splits"]
    names = _names(models[0], splits[0])
    for i, model in enumerate(models):
        if _names(model, splits[i]) != names:
            return f"model {i} reads other modalities than model 0"
    losses = _stacked_loss(prepared["losses"])
    return (
        _architecture_refusal(models)
        or _contexts_refusal(prepared["contexts"])
        or _splits_refusal(names, splits)
        or (losses if isinstance(losses, str) else None)
    )


def _build(prepared: dict[str, Any], device: torch.device) -> tuple[_Stack, Objective]:
    models, splits = prepared["models"], prepared["splits"]
    stacked = _stacked_loss(prepared["losses"])
    assert not isinstance(stacked, str)
    loss, extras = stacked
    train = splits[0].train
    goal = Objective(models[0], prepared["losses"][0], train.task, prepared["loss_name"])
    stack = _Stack(models, goal, loss, extras, prepared["contexts"], device)
    return stack, goal


def _parts(prepared: dict[str, Any], names: list[str], device: torch.device) -> tuple[_Part, _Part]:
    splits, shared = prepared["splits"], prepared["shared"]
    chosen = splits[:1] if shared else splits
    train = _Part([split_tensors(d.train, names, device) for d in chosen], shared)
    val = _Part([split_tensors(d.val, names, device) for d in chosen], shared)
    return train, val


def _trial(prepared: dict[str, Any], device: torch.device) -> tuple[str | None, Any]:
    """Build the stack and its data and try one step: (why it cannot run, or None; and the
    stack, its objective and its parts)."""
    names = _names(prepared["models"][0], prepared["splits"][0])
    stack, goal = _build(prepared, device)
    train, val = _parts(prepared, names, device)
    return stack.trial(train, val), (stack, goal, train, val)


def _stack_step(prepared: dict[str, Any], device: torch.device) -> Callable[[], Tensor]:
    """One optimizer step of a stack built from copies of the models on ``device``, on the
    first ``batch_size`` training rows of each (for ``accelerator="auto"``'s timing)."""
    reason, (stack, _, train, _) = _trial(prepared, device)
    if reason is not None:
        raise StackingError(f"these models cannot train as one stack: {reason}")
    rows = min(prepared["contexts"][0].batch_size, train.rows)
    index = torch.arange(rows, device=device).expand(len(prepared["models"]), rows)
    batch = train.take(index)
    stack.set_mode(True)
    return functools.partial(stack.train_step, batch)


def stack_refusal(
    models: Sequence[nn.Module],
    data: DataSplits | Sequence[DataSplits] | None = None,
    contexts: RunContext | Sequence[RunContext] | None = None,
    *,
    loss: Loss | str | None = None,
    standardize_targets: bool = True,
) -> str | None:
    """Why ``models`` cannot train as one stacked model, or None when they can.

    Without ``data`` only the models are compared: one architecture (modules, parameter and
    buffer names, shapes, dtypes), no hooks, and equal configuration except the attributes each
    module lists in ``stackable_settings`` (numbers; zero in all models or in none). With
    ``data`` (one shared split or one per model) and ``contexts``, the splits must have equal
    sizes and shapes, the contexts must share :data:`SHARED_FIELDS`, the losses one function,
    and one training step and one validation call must run batched (a one-step trial on a few
    rows; operations that ``vmap`` cannot batch, such as data-dependent control flow, fail
    there).
    """
    if len(models) == 0:
        return "no models to stack"
    if data is None:
        return _architecture_refusal(models)
    prepared = _prepare(models, data, contexts or RunContext(), loss, standardize_targets)
    reason = _refusal(prepared)
    if reason is not None:
        return reason
    with thread_limit(prepared["contexts"][0].threads):
        return _trial(prepared, resolve_device(prepared["contexts"][0].accelerator))[0]


def fit_stacked(
    models: Sequence[nn.Module],
    data: DataSplits | Sequence[DataSplits],
    contexts: RunContext | Sequence[RunContext],
    *,
    loss: Loss | str | None = None,
    standardize_targets: bool = True,
    progress: bool = False,
    on_epoch: StackCallback | None = None,
) -> list[FitResult]:
    """Train ``models`` (S freshly built models of one architecture) as one stacked model.

    Args:
        models: the models, as ``fit`` takes them (initialized at build; trained in place).
        data: one split shared by every model (the trials of a tuning round), or one per model
            (the seeds of a method: different splits of equal part sizes).
        contexts: one :class:`~intermodal.training.RunContext` per model (or one for all): its
            ``seed`` (the batch order), ``lr``, ``weight_decay``, ``max_epochs``, ``patience``
            and ``min_delta`` are the model's own; ``batch_size``, ``accelerator``, ``threads``
            and ``loss`` must be equal across the stack (:data:`SHARED_FIELDS`).
        loss, standardize_targets: as in ``fit`` (default: the contexts' loss; each model's loss
            and target scale come from its own training split).
        progress: a progress bar over epochs.
        on_epoch: ``on_epoch(model_index, epoch, scores) -> stop`` (see :data:`StackCallback`).

    Returns:
        One :class:`~intermodal.training.FitResult` per model, in order, each with the model's
        best weights, its history and ``engine="stacked"``; ``train_time_s`` is the model's share
        of the stack's time (each epoch's time divided among the models it trained).

    Raises:
        StackingError: when the models cannot stack (the message is :func:`stack_refusal`'s).
    """
    prepared = _prepare(models, data, contexts, loss, standardize_targets)
    reason = _refusal(prepared)
    first = prepared["contexts"][0]
    device = resolve_device(first.accelerator)
    if reason is not None:
        raise StackingError(f"these models cannot train as one stack: {reason}")
    with thread_limit(first.threads):
        return _fit_prepared(prepared, device, progress, on_epoch)


def _fit_prepared(
    prepared: dict[str, Any],
    device: torch.device,
    progress: bool,
    on_epoch: StackCallback | None,
) -> list[FitResult]:
    contexts, splits = prepared["contexts"], prepared["splits"]
    if contexts[0].accelerator == "auto" and device.type != "cpu":
        models = prepared["models"]
        key = work_key(models[0], contexts[0].batch_size, len(models))
        device = fastest_device(key, functools.partial(_stack_step, prepared))
    seed_everything(contexts[0].seed)
    reason, (stack, goal, train, val) = _trial(prepared, device)
    if reason is not None:
        raise StackingError(f"these models cannot train as one stack: {reason}")
    task, output_dim = splits[0].train.task, splits[0].train.output_dim
    val_targets = [d.val.targets for d in splits]
    members = [
        _Member(
            i,
            c,
            torch.Generator().manual_seed(c.seed),
            EarlyStopping(c.patience, c.min_delta, goal.higher_is_better),
        )
        for i, c in enumerate(contexts)
    ]
    active = list(members)
    batch_size = contexts[0].batch_size
    n = train.rows
    stop = n - n % batch_size if n > batch_size else n
    size = min(batch_size, n)
    chunk = max(batch_size, VALIDATION_BATCH)
    bar = tqdm(
        range(max(c.max_epochs for c in contexts)),
        disable=not progress,
        unit="epoch",
        leave=False,
    )
    for epoch in bar:
        start = time.perf_counter()
        stack.set_mode(True)
        order = torch.stack([torch.randperm(n, generator=m.generator) for m in active])
        rows = train.take(order[:, :stop].to(device))
        total = torch.zeros(len(active), device=device)
        for offset in range(0, stop, size):
            total += stack.train_step(_slice(rows, offset, size)) * size
        stack.set_mode(False)
        losses = torch.zeros(len(active), dtype=torch.float64, device=device)
        outputs: list[Tensor] = []
        for batch, length in val.chunks(chunk):
            loss, out = stack.validate(batch, val.shared)
            losses += loss.double() * length
            if out is not None:
                outputs.append(out)
        train_losses = [float(t) / stop for t in total.cpu()]
        val_losses = (losses.cpu() / val.rows).tolist()
        stacked_outputs = torch.cat(outputs, dim=1) if outputs else None
        improved: list[int] = []
        leaving: list[int] = []
        for row, member in enumerate(active):
            scores = {"val_loss": val_losses[row]}
            if stacked_outputs is not None:
                try:
                    scores.update(
                        validation_scores(
                            task, stacked_outputs[row], val_targets[member.index], output_dim
                        )
                    )
                except ValueError:  # outputs a metric refuses (NaN): the loss says it all
                    pass
            member.history.append({"epoch": epoch, "train_loss": train_losses[row], **scores})
            value = scores.get(goal.key, float("nan"))
            if not math.isfinite(value):
                leaving.append(row)
                continue
            if member.stopping.update(epoch, value):
                improved.append(row)
            done = member.stopping.stopped
            if not done and on_epoch is not None:
                done = bool(on_epoch(member.index, epoch, dict(member.history[-1])))
            if done or epoch + 1 >= member.context.max_epochs:
                leaving.append(row)
        if improved:
            stack.record_best(improved, [active[r].index for r in improved])
        never = [r for r in leaving if active[r].stopping.best_epoch is None]
        if never:  # no finite value ever: it keeps its last weights, as alone
            stack.record_best(never, [active[r].index for r in never])
        elapsed = time.perf_counter() - start
        for member in active:
            member.seconds += elapsed / len(active)
        if leaving:
            kept = [r for r in range(len(active)) if r not in leaving]
            active = [active[r] for r in kept]
            if not active:
                break
            rows_kept = torch.tensor(kept, device=device)
            stack.keep(rows_kept)
            train.keep(rows_kept)
            val.keep(rows_kept)
    bar.close()
    return _results(prepared, stack, members, goal)


def _results(
    prepared: dict[str, Any], stack: _Stack, members: list[_Member], goal: Objective
) -> list[FitResult]:
    results = []
    for member, model, wrapper, scale in zip(
        members, prepared["models"], prepared["wrappers"], prepared["scales"], strict=True
    ):
        tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        with torch.no_grad():
            for name, best in stack.best.items():
                tensors[name].copy_(best[member.index])
        model.eval()
        trained = wrapper or (scale.wrap(model) if scale is not None else model)
        history = member.history
        best_epoch = member.stopping.best_epoch
        best_loss = next((r["val_loss"] for r in history if r["epoch"] == best_epoch), None)
        results.append(
            FitResult(
                model=trained,
                train_time_s=member.seconds,
                best_val_loss=best_loss if best_loss is not None else member.stopping.best,
                best_epoch=best_epoch,
                epochs=len(history) if history else None,
                world_size=1,
                history=history,
                monitor=goal.monitor,
                engine=STACKED_ENGINE,
            )
        )
    return results


def fit_many(
    models: Sequence[nn.Module],
    data: DataSplits | Sequence[DataSplits],
    contexts: RunContext | Sequence[RunContext],
    *,
    loss: Loss | str | None = None,
    standardize_targets: bool = True,
    stack: bool | None = None,
    progress: bool = False,
    on_epoch: StackCallback | None = None,
) -> list[FitResult]:
    """Train several models: as one stack (:func:`fit_stacked`) when they can stack, else one at
    a time with ``fit`` (the reason is logged); the results come in the models' order.

    Arguments as in :func:`fit_stacked`; ``stack=False`` always trains one at a time,
    ``stack=True`` stacks wherever the models can, and ``None`` (the default) stacks only off
    the CPU (:data:`STACK_ON_CPU`).
    """
    count = len(models)
    shared = isinstance(data, DataSplits)
    splits: list[DataSplits] = [data] * count if shared else _as_list(data, count, "splits")  # type: ignore[list-item]
    contexts_ = _as_list(contexts, count, "run contexts")
    if stack is None:
        stack = STACK_ON_CPU or resolve_device(contexts_[0].accelerator).type != "cpu"
    reason = "stacking is off" if not stack else ("one model" if count == 1 else None)
    if reason is None:
        prepared = _prepare(models, data, contexts_, loss, standardize_targets)
        reason = _refusal(prepared)
        first = contexts_[0]
        device = resolve_device(first.accelerator)
        if reason is None:
            with thread_limit(first.threads):
                try:
                    return _fit_prepared(prepared, device, progress, on_epoch)
                except StackingError as error:  # raised before any training
                    reason = str(error)
        logger.info("training %d models one at a time: %s", count, reason)
    results = []
    for i, (model, context) in enumerate(zip(models, contexts_, strict=True)):
        callback = None if on_epoch is None else functools.partial(_indexed, on_epoch, i)
        options: dict[str, Any] = {} if loss is None else {"loss": loss}
        results.append(
            context.fit(
                model,
                splits[i],
                standardize_targets=standardize_targets,
                progress=progress,
                on_epoch=callback,
                **options,
            )
        )
    return results


def _indexed(on_epoch: StackCallback, index: int, epoch: int, scores: dict[str, float]) -> bool:
    return on_epoch(index, epoch, scores)
