"""The optimizer of the lean and stacked engines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor


class LeanAdamW:
    """AdamW (Loshchilov & Hutter, ICLR 2019) for one model, or for stacked models where every
    tensor is ``(S, ...)``, row s belonging to model s, with per-model learning rates and weight
    decays (one value each for one model).

    The update of ``torch.optim.AdamW`` with its defaults (betas 0.9, 0.999, eps 1e-8):
    ``p <- p - lr wd p``; ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) g^2``;
    ``p <- p - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``. Where the device has
    PyTorch's fused AdamW kernel (CPU, CUDA) it runs that kernel, once over all tensors of the
    models that share a learning rate and weight decay (one call for seeds of one method); elsewhere
    the same formula with ``torch._foreach_*`` operations. Parameters without a gradient in a step
    are left alone, as ``torch.optim.AdamW`` does. Every model of the stack has taken the same
    number of steps (a stopped model leaves the stack: :meth:`keep`). A step is one kernel call
    and a few list operations, without ``torch.optim``'s bookkeeping per tensor (half the time of
    ``torch.optim.AdamW.step`` for the benchmark's models of 28 to 178 tensors); it also clears
    the gradients.

    Shape:
        ``params[i]``: ``(S, *shape_i)``; ``lr``, ``weight_decay``: S values.
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: Sequence[float],
        weight_decay: Sequence[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("no trainable parameters to optimize")
        self.lr, self.weight_decay = [float(v) for v in lr], [float(v) for v in weight_decay]
        self.betas, self.eps = betas, eps
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sqs = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in params
        ]
        device = self.params[0].device
        self.fused = (
            device.type in ("cpu", "cuda")
            and all(p.is_floating_point() for p in self.params)
            and len({(p.device, p.dtype) for p in self.params}) == 1
        )
        # the fused kernel reads each tensor's step count from a float32 scalar on its device
        self.steps = [torch.zeros((), dtype=torch.float32, device=device) for _ in self.params]
        self.counts = [0] * len(self.params)
        self._layout()
        self._group()

    def _layout(self) -> None:
        """The dimension order in which each parameter is dense (a stacked linear weight may
        be laid out transposed, see ``stacked``); its gradient and state share the layout."""
        self.orders = [_dense_order(p) for p in self.params]
        self.dense_views = any(o != tuple(range(len(o))) for o in self.orders)

    def _group(self) -> None:
        """Models that share (lr, weight decay): their rows, or None for the whole stack."""
        settings = list(zip(self.lr, self.weight_decay, strict=True))
        distinct = sorted(set(settings), key=settings.index)
        if len(distinct) == 1:
            self.groups: list[tuple[list[int] | None, float, float]] = [(None, *distinct[0])]
        else:
            self.groups = [
                ([i for i, s in enumerate(settings) if s == d], d[0], d[1]) for d in distinct
            ]

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient; the gradients are then cleared."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i in live:
            self.counts[i] += 1
        if self.fused:
            torch._foreach_add_([self.steps[i] for i in live], 1)
        if self.dense_views:  # each tensor in its dense order, as the fused kernel needs
            views = [(i, self.orders[i]) for i in live]
            tensors: list[list[Tensor]] = [
                [_dense(self.params[i], o) for i, o in views],
                [_dense(cast(Tensor, self.params[i].grad), o) for i, o in views],
                [_dense(self.exp_avgs[i], o) for i, o in views],
                [_dense(self.exp_avg_sqs[i], o) for i, o in views],
            ]
        else:
            tensors = [
                [self.params[i] for i in live],
                [cast(Tensor, self.params[i].grad) for i in live],
                [self.exp_avgs[i] for i in live],
                [self.exp_avg_sqs[i] for i in live],
            ]
        for rows, lr, weight_decay in self.groups:
            if rows is None:
                lists, steps, counts = tensors, [self.steps[i] for i in live], live
            else:  # the rows of these models, as views (each a contiguous model)
                lists = [[t[r] for t in ts for r in rows] for ts in tensors]
                steps = [self.steps[i] for i in live for _ in rows]
                counts = [i for i in live for _ in rows]
            self._update(lists, steps, [self.counts[i] for i in counts], lr, weight_decay)
        for i in live:
            self.params[i].grad = None

    def _update(
        self,
        lists: list[list[Tensor]],
        steps: list[Tensor],
        counts: list[int],
        lr: float,
        weight_decay: float,
    ) -> None:
        params, grads, exp_avgs, exp_avg_sqs = lists
        beta1, beta2 = self.betas
        if self.fused:
            torch._fused_adamw_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=weight_decay,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )
            return
        # the formula of torch.optim.AdamW's multi-tensor path, for tensors of one step count
        for count in sorted(set(counts)):
            chosen = [j for j, c in enumerate(counts) if c == count]
            p, g, m, v = ([ts[j] for j in chosen] for ts in (params, grads, exp_avgs, exp_avg_sqs))
            torch._foreach_mul_(p, 1 - lr * weight_decay)
            torch._foreach_lerp_(m, g, 1 - beta1)
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, g, g, 1 - beta2)
            denominators = torch._foreach_sqrt(v)
            torch._foreach_div_(denominators, math.sqrt(1 - beta2**count))
            torch._foreach_add_(denominators, self.eps)
            torch._foreach_addcdiv_(p, m, denominators, -lr / (1 - beta1**count))

    def keep(self, rows: Tensor, params: Sequence[Tensor]) -> None:
        """Continue with the models at ``rows`` only; ``params`` are their parameter tensors."""
        self.params = list(params)
        # the state in each parameter's layout (the kernel walks all four tensors alike)
        self.exp_avgs = [
            torch.empty_like(p).copy_(m.index_select(0, rows))
            for p, m in zip(self.params, self.exp_avgs, strict=True)
        ]
        self.exp_avg_sqs = [
            torch.empty_like(p).copy_(v.index_select(0, rows))
            for p, v in zip(self.params, self.exp_avg_sqs, strict=True)
        ]
        self._layout()
        kept = rows.tolist()
        self.lr = [self.lr[i] for i in kept]
        self.weight_decay = [self.weight_decay[i] for i in kept]
        self._group()


def _dense_order(t: Tensor) -> tuple[int, ...]:
    """``t``'s dimensions from the largest stride to the smallest."""
    strides = t.stride()
    return tuple(sorted(range(t.ndim), key=lambda d: -strides[d]))


def _dense(t: Tensor, order: tuple[int, ...]) -> Tensor:
    """``t`` with its dimensions permuted to ``order`` (a dense view where ``t`` is dense in
    that order)."""
    return t.permute(order)
