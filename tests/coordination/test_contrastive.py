"""Contrastive losses against loop references, and their distributed form on two processes."""

from __future__ import annotations

import gc
import math
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from intermodal.coordination import (
    ClipLoss,
    SigLipLoss,
    clip_loss,
    hinge_loss,
    ntxent_loss,
    siglip_loss,
    supcon_loss,
)
from intermodal.training.fit import make_optimizer


def pair(batch: int = 6, dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, dim, generator=generator, dtype=torch.float64),
        torch.randn(batch, dim, generator=generator, dtype=torch.float64),
    )


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def test_hinge_loss_matches_loops() -> None:
    a, b = pair()
    s = unit(a) @ unit(b).T
    n = len(a)
    total = hardest = 0.0
    for i in range(n):
        rows = [max(0.0, 0.2 - float(s[i, i]) + float(s[i, j])) for j in range(n) if j != i]
        cols = [max(0.0, 0.2 - float(s[i, i]) + float(s[j, i])) for j in range(n) if j != i]
        total += sum(rows) + sum(cols)
        hardest += max(rows) + max(cols)
    assert float(hinge_loss(a, b, 0.2)) == pytest.approx(total / n)
    assert float(hinge_loss(a, b, 0.2, hardest=True)) == pytest.approx(hardest / n)


def test_clip_loss_matches_loops_and_chunks_agree() -> None:
    a, b = pair()
    scale = torch.tensor(7.0, dtype=torch.float64)
    s = scale * unit(a) @ unit(b).T
    n = len(a)
    rows = sum(
        -math.log(math.exp(s[i, i]) / sum(math.exp(s[i, j]) for j in range(n))) for i in range(n)
    )
    cols = sum(
        -math.log(math.exp(s[i, i]) / sum(math.exp(s[j, i]) for j in range(n))) for i in range(n)
    )
    assert float(clip_loss(a, b, scale)) == pytest.approx((rows + cols) / (2 * n))
    a1, a2 = a.clone().requires_grad_(), a.clone().requires_grad_()
    clip_loss(a1, b, scale).backward()
    clip_loss(a2, b, scale, chunk=4).backward()
    torch.testing.assert_close(a1.grad, a2.grad)


def test_clip_module_keeps_the_scale_in_log_space_and_clamped() -> None:
    loss = ClipLoss(temperature=0.07)
    assert float(loss.logit_scale.detach()) == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        loss.log_scale_offset.fill_(10.0 - loss.initial_log_scale)
    assert float(loss.log_scale.detach()) == pytest.approx(10.0)
    assert float(loss.logit_scale.detach()) == 100.0
    frozen = ClipLoss(learn_temperature=False)
    assert not frozen.log_scale_offset.requires_grad and not frozen.log_scale.requires_grad


def clip_reference(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    logits = scale * unit(a) @ unit(b).T
    rows = -(logits.diagonal() - logits.logsumexp(dim=1))
    cols = -(logits.diagonal() - logits.logsumexp(dim=0))
    return (rows.mean() + cols.mean()) / 2


def test_clip_temperature_is_exact_in_float64_after_double() -> None:
    loss = ClipLoss(temperature=0.07).double()
    assert {p.dtype for p in loss.parameters()} == {torch.float64}
    assert loss.log_scale.dtype == torch.float64
    assert float(loss.log_scale.detach()) == math.log(1.0 / 0.07)
    temperature = 1.0 / float(loss.logit_scale.detach())
    assert abs(temperature - 0.07) <= 1e-15 * 0.07
    a, b = pair()
    expected = clip_reference(a, b, 1.0 / 0.07)
    assert float(loss(a, b).detach()) == pytest.approx(float(expected), rel=1e-14)
    # in float32 the constant is rounded once, as a float32 parameter would be
    single = ClipLoss(temperature=0.07)
    assert single.log_scale.dtype == torch.float32
    assert float(single.log_scale.detach()) == float(torch.tensor(math.log(1.0 / 0.07)))


def test_siglip_scale_and_bias_are_exact_in_float64_after_double() -> None:
    loss = SigLipLoss(scale=7.3, bias=-10.3).double()
    assert {p.dtype for p in loss.parameters()} == {torch.float64}
    assert abs(float(loss.logit_scale.detach()) - 7.3) <= 1e-15 * 7.3
    assert float(loss.logit_bias.detach()) == -10.3
    a, b = pair()
    logits = 7.3 * unit(a) @ unit(b).T - 10.3
    signs = 2 * torch.eye(len(a), dtype=torch.float64) - 1
    expected = -torch.nn.functional.logsigmoid(signs * logits).sum() / len(a)
    assert float(loss(a, b).detach()) == pytest.approx(float(expected), rel=1e-14)


def test_scale_parameters_train_with_fused_adamw_in_one_dtype() -> None:
    a, b = pair()
    for loss in (ClipLoss(logit_bias=True), SigLipLoss()):
        assert {p.dtype for p in loss.parameters()} == {torch.float32}
        optimizer = make_optimizer(loss, lr=0.1, weight_decay=1e-4)
        assert optimizer.defaults["fused"]
        before = float(loss.log_scale.detach())
        loss(a.float(), b.float()).backward()
        optimizer.step()
        assert float(loss.log_scale.detach()) != before
        assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in loss.parameters())


def test_siglip_loss_matches_loops() -> None:
    a, b = pair()
    s = unit(a) @ unit(b).T
    n = len(a)
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            total += -math.log(1 / (1 + math.exp(-z * (5.0 * float(s[i, j]) - 2.0))))
    got = siglip_loss(
        a, b, torch.tensor(5.0, dtype=torch.float64), torch.tensor(-2.0, dtype=torch.float64)
    )
    assert float(got) == pytest.approx(total / n)


def supcon_reference(z: torch.Tensor, labels: torch.Tensor, tau: float) -> float:
    z = unit(z)
    losses = []
    for i in range(len(z)):
        positives = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(float(z[i] @ z[c]) / tau) for c in range(len(z)) if c != i)
        losses.append(
            -sum(math.log(math.exp(float(z[i] @ z[p]) / tau) / denominator) for p in positives)
            / len(positives)
        )
    return sum(losses) / len(losses)


def test_supcon_and_ntxent_match_loops() -> None:
    a, b = pair(batch=8)
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 3, 0])
    assert float(supcon_loss(a, labels, 0.3)) == pytest.approx(supcon_reference(a, labels, 0.3))
    index = torch.arange(len(a))
    expected = supcon_reference(torch.cat([a, b]), torch.cat([index, index]), 0.5)
    assert float(ntxent_loss(a, b, 0.5)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no anchor has a positive"):
        supcon_loss(a, torch.arange(8))


LOSSES = {
    "hinge": lambda a, b, y: hinge_loss(a, b, 0.2),
    "hinge-hardest": lambda a, b, y: hinge_loss(a, b, 0.2, hardest=True),
    "clip": lambda a, b, y: clip_loss(a, b, torch.tensor(10.0, dtype=a.dtype)),
    "siglip": lambda a, b, y: siglip_loss(
        a, b, torch.tensor(10.0, dtype=a.dtype), torch.tensor(-5.0, dtype=a.dtype)
    ),
    "supcon": lambda a, b, y: supcon_loss(a, y, 0.2),
    "ntxent": lambda a, b, y: ntxent_loss(a, b, 0.5),
}
BATCH, WORLD = 8, 2


def full_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a, b = pair(batch=BATCH * WORLD, dim=5, seed=3)
    return a, b, torch.tensor([0, 1, 2, 0, 1, 2, 3, 3] * WORLD)


def _worker(rank: int, out: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    # a file store: no rank hosts a server the other depends on, and no port can be taken
    store = f"file://{Path(out) / 'store'}"
    dist.init_process_group("gloo", init_method=store, rank=rank, world_size=WORLD)
    try:
        group = dist.group.WORLD
        references = sys.getrefcount(group)
        a, b, y = full_batch()
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        results = {}
        for name, loss_fn in LOSSES.items():
            local_a, local_b = a[rows].clone().requires_grad_(), b[rows].clone().requires_grad_()
            loss = loss_fn(local_a, local_b, y[rows])
            loss.backward()
            results[name] = (loss.detach(), local_a.grad, local_b.grad)
        del loss
        gc.collect()
        # a loss that kept the group alive would let its threads end at interpreter shutdown
        results["kept_references"] = sys.getrefcount(group) - references
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        # no rank leaves while another still talks to the group (gloo aborts that process)
        dist.barrier()
        dist.destroy_process_group()


def test_distributed_losses_equal_the_single_process_loss_on_the_full_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path),), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    assert [r["kept_references"] for r in ranks] == [0] * WORLD
    a, b, y = full_batch()
    for name, loss_fn in LOSSES.items():
        full_a, full_b = a.clone().requires_grad_(), b.clone().requires_grad_()
        loss = loss_fn(full_a, full_b, y)
        loss.backward()
        mean = sum(r[name][0] for r in ranks) / WORLD
        assert float(mean) == pytest.approx(float(loss.detach()), rel=1e-10), name
        for r in range(WORLD):
            rows = slice(r * BATCH, (r + 1) * BATCH)
            # every process's loss depends on these rows: world_size x the single-process gradient
            torch.testing.assert_close(ranks[r][name][1], WORLD * full_a.grad[rows], msg=name)
            if name != "supcon":
                torch.testing.assert_close(ranks[r][name][2], WORLD * full_b.grad[rows], msg=name)
