"""Stacked training against single runs: the same weights with dropout off, the same accuracy
within seed noise with dropout on, each model's own optimizer settings and early stopping."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import vmap

from intermodal.data import MultimodalDataset, standardize, stratified_split
from intermodal.data.missing import hide_at_random
from intermodal.data.splits import DataSplits
from intermodal.data.synthetic import make_interaction_dataset
from intermodal.encoders import MLP, CNNEncoder, Dropout, SequenceEncoder
from intermodal.fission import SharedPrivateModel
from intermodal.fusion import ConcatFusion, GatedFusion, TensorFusion
from intermodal.losses import task_loss
from intermodal.metrics import evaluate
from intermodal.models import FusionClassifier, TargetScale
from intermodal.training import RunContext, fit
from intermodal.training.stacked import (
    LeanAdamW,
    StackingError,
    fit_many,
    fit_stacked,
    stack_refusal,
)
from tests.helpers import blobs

LR = (1e-3, 3e-3, 1e-2)
WEIGHT_DECAY = (1e-4, 0.0, 1e-2)


def vector_model(dataset: MultimodalDataset, seed: int, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    encoders = {
        key: MLP(dataset.shapes[key][0], 8, (16,), dropout=dropout, final_activation=True)
        for key in dataset.modality_names
    }
    dims = dict.fromkeys(dataset.modality_names, 8)
    return FusionClassifier(encoders, ConcatFusion(dims, 8), MLP(8, dataset.output_dim))


def gated_model(dataset: MultimodalDataset, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    encoders = {k: MLP(dataset.shapes[k][0], 8, final_activation=True) for k in ("a", "b")}
    return FusionClassifier(encoders, GatedFusion({"a": 8, "b": 8}, 8), MLP(8, 3))


def image_model(dataset: MultimodalDataset, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    encoders = {"img": CNNEncoder(1, 8, channels=(4, 8)), "vec": MLP(3, 8, final_activation=True)}
    return FusionClassifier(encoders, ConcatFusion({"img": 8, "vec": 8}, 8), MLP(8, 3))


def shared_private(dataset: MultimodalDataset, seed: int, **weights: float) -> nn.Module:
    torch.manual_seed(seed)
    encoders = {k: MLP(dataset.shapes[k][0], 8, final_activation=True) for k in ("a", "b")}
    return SharedPrivateModel(encoders, {"a": 8, "b": 8}, 3, code_dim=8, **weights)


def images(seed: int) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 30)
    pictures = rng.normal(size=(len(y), 1, 6, 6)) + y[:, None, None, None]
    return MultimodalDataset(
        {"img": pictures, "vec": rng.normal(size=(len(y), 3)) + y[:, None]},
        y,
        kinds={"img": "image", "vec": "vector"},
    )


def regression(seed: int) -> MultimodalDataset:
    return make_interaction_dataset("redundant", task="regression", n=150, dim=3, seed=seed)


CASES: dict[str, tuple[Callable[[int], MultimodalDataset], Callable[..., nn.Module]]] = {
    "mlp fusion": (lambda s: blobs(n_per_class=30), vector_model),
    "masks": (lambda s: hide_at_random(blobs(n_per_class=30), 0.3, seed=s), gated_model),
    "batch norm": (images, image_model),
    "trains itself": (lambda s: blobs(n_per_class=30), shared_private),
    "target scale": (regression, vector_model),
}


def splits_of(make: Callable[[int], MultimodalDataset], seed: int) -> DataSplits:
    return standardize(stratified_split(make(seed), seed=seed))


def assert_same_run(alone: object, stacked: object) -> None:
    """Same epochs, best epoch, history and weights (up to batched kernels' rounding)."""
    a, b = alone, stacked
    assert (a.epochs, a.best_epoch) == (b.epochs, b.best_epoch)  # type: ignore[attr-defined]
    for row_a, row_b in zip(a.history, b.history, strict=True):  # type: ignore[attr-defined]
        assert row_a.keys() == row_b.keys()
        for key in row_a:
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-4, abs=1e-5), key
    state_a, state_b = a.model.state_dict(), b.model.state_dict()  # type: ignore[attr-defined]
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_b[key], state_a[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_stacked_models_end_with_the_weights_of_their_single_runs(case: str) -> None:
    """Dropout off: each model of the stack (its own split, seed, learning rate and weight
    decay) trains to the weights, history and best epoch of its single run."""
    make, build = CASES[case]
    splits = [splits_of(make, seed) for seed in range(3)]
    contexts = [
        RunContext(
            seed=seed,
            max_epochs=5,
            patience=3,
            batch_size=16,
            lr=LR[seed],
            weight_decay=WEIGHT_DECAY[seed],
            accelerator="cpu",
        )
        for seed in range(3)
    ]
    models = [build(splits[s].train, s) for s in range(3)]
    assert stack_refusal(models, splits, contexts) is None
    stacked = fit_stacked(models, splits, contexts)
    assert all(r.engine == "stacked" for r in stacked)
    assert stacked[0].model is models[0] or isinstance(stacked[0].model, TargetScale)
    for seed in range(3):
        alone = contexts[seed].fit(build(splits[seed].train, seed), splits[seed])
        assert_same_run(alone, stacked[seed])


def test_a_loss_weighted_by_each_splits_label_counts_stacks_per_model() -> None:
    """``bce_balanced`` weighs positives by each training split's counts: the stacked loss
    carries every model's own weights."""

    def labels(seed: int) -> MultimodalDataset:
        return make_interaction_dataset("unique", task="multilabel", n=150, dim=3, seed=seed)

    splits = [splits_of(labels, seed) for seed in range(2)]
    weights = [task_loss("multilabel", "bce_balanced", sp.train).keywords for sp in splits]  # type: ignore[attr-defined]
    assert not torch.equal(weights[0]["pos_weight"], weights[1]["pos_weight"])
    contexts = [
        RunContext(seed=s, max_epochs=4, batch_size=16, loss="bce_balanced") for s in range(2)
    ]
    stacked = fit_stacked([vector_model(splits[s].train, s) for s in range(2)], splits, contexts)
    for s in range(2):
        assert_same_run(contexts[s].fit(vector_model(splits[s].train, s), splits[s]), stacked[s])


def test_trials_on_one_split_keep_their_own_settings_and_loss_weights() -> None:
    """A tuning round: one shared split, models that differ in learning rate and in the loss
    weights of their objective (stackable settings), each equal to its single run."""
    splits = splits_of(lambda s: blobs(n_per_class=30), 0)
    weights = [
        {"similarity_weight": 1.0, "difference_weight": 0.3},
        {"similarity_weight": 0.2, "difference_weight": 2.0},
    ]
    contexts = [RunContext(seed=s, max_epochs=5, batch_size=16, lr=LR[s]) for s in range(2)]
    models = [shared_private(splits.train, s, **weights[s]) for s in range(2)]
    stacked = fit_stacked(models, splits, contexts)
    for s in range(2):
        alone = contexts[s].fit(shared_private(splits.train, s, **weights[s]), splits)
        assert_same_run(alone, stacked[s])


def test_a_stopped_model_keeps_its_best_weights_while_the_others_train_on() -> None:
    splits = [splits_of(lambda s: blobs(n_per_class=30), s) for s in range(3)]
    contexts = [RunContext(seed=s, max_epochs=12, patience=12, batch_size=16) for s in range(3)]
    contexts[1] = contexts[1].with_(patience=1, min_delta=0.5, lr=0.01)  # stops at a < 50% gain
    models = [vector_model(splits[s].train, s) for s in range(3)]
    stacked = fit_stacked(models, splits, contexts)
    assert stacked[1].epochs is not None and stacked[1].epochs < 12
    assert stacked[0].epochs == stacked[2].epochs == 12
    for s in range(3):
        assert_same_run(contexts[s].fit(vector_model(splits[s].train, s), splits[s]), stacked[s])


def test_on_epoch_prunes_one_model_of_the_stack() -> None:
    splits = splits_of(lambda s: blobs(n_per_class=30), 0)
    contexts = [RunContext(seed=s, max_epochs=6, patience=6, batch_size=16) for s in range(2)]
    calls: list[tuple[int, int]] = []

    def prune(index: int, epoch: int, scores: dict[str, float]) -> bool:
        calls.append((index, epoch))
        assert "val_loss" in scores and "val_accuracy" in scores
        return index == 0 and epoch == 2

    models = [vector_model(splits.train, s) for s in range(2)]
    stacked = fit_stacked(models, splits, contexts, on_epoch=prune)
    assert [r.epochs for r in stacked] == [3, 6]
    assert (0, 3) not in calls and (1, 5) in calls
    alone = contexts[0].fit(
        vector_model(splits.train, 0), splits, on_epoch=lambda epoch, scores: epoch == 2
    )
    assert_same_run(alone, stacked[0])


def hard_blobs() -> MultimodalDataset:
    """Three overlapping classes: test accuracy well below 1, so that seeds vary."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 60)
    a = rng.normal(size=(3, 5))[y] + 1.2 * rng.normal(size=(len(y), 5))
    b = rng.normal(size=(3, 3))[y] + 1.2 * rng.normal(size=(len(y), 3))
    return MultimodalDataset({"a": a, "b": b}, y, name="hard blobs")


def test_with_dropout_stacked_and_single_runs_agree_within_seed_noise() -> None:
    """Dropout on: stacked draws differ from single runs, so only the distribution of results
    must agree. Over 5 seeds on one fixed split, the mean test accuracies must differ by less
    than 3 standard errors of their difference (Welch), plus one test sample."""
    splits = standardize(stratified_split(hard_blobs(), seed=0))
    contexts = [RunContext(seed=s, max_epochs=15, batch_size=32, lr=3e-3) for s in range(5)]
    models = [vector_model(splits.train, s, dropout=0.3) for s in range(5)]
    stacked = fit_stacked(models, splits, contexts)
    single = [
        c.fit(vector_model(splits.train, s, dropout=0.3), splits) for s, c in enumerate(contexts)
    ]
    a = np.array([evaluate(r.model, splits.test)["accuracy"] for r in stacked])
    b = np.array([evaluate(r.model, splits.test)["accuracy"] for r in single])
    assert 0.5 < b.mean() < 0.97  # a problem where seeds matter
    error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= 3 * error + 1 / len(splits.test)


def test_stacked_training_with_dropout_is_deterministic() -> None:
    splits = splits_of(lambda s: blobs(n_per_class=30), 0)
    contexts = [RunContext(seed=s, max_epochs=3, batch_size=16) for s in range(2)]
    first = fit_stacked([vector_model(splits.train, s, 0.3) for s in range(2)], splits, contexts)
    again = fit_stacked([vector_model(splits.train, s, 0.3) for s in range(2)], splits, contexts)
    for x, y in zip(first, again, strict=True):
        for p, q in zip(x.model.parameters(), y.model.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_dropout_alone_draws_as_torch_and_in_a_stack_at_each_models_rate() -> None:
    x = torch.ones(4, 1000)
    torch.manual_seed(3)
    ours = Dropout(0.3).train()(x)
    torch.manual_seed(3)
    torch.testing.assert_close(ours, nn.Dropout(0.3).train()(x), rtol=0, atol=0)

    layer = Dropout(0.5).train()
    rates = torch.tensor([0.1, 0.6])

    def call(rate: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        layer.p = rate  # as the stacked trainer sets a stackable setting
        try:
            return layer(values)
        finally:
            layer.p = 0.5

    out = vmap(call, randomness="different")(rates, torch.ones(2, 40_000))
    for row, rate in zip(out, rates.tolist(), strict=True):
        kept = row != 0
        # 40,000 draws: the kept fraction is within 5 standard deviations of 1 - rate
        assert abs(kept.float().mean().item() - (1 - rate)) < 5 * (rate * (1 - rate) / 4e4) ** 0.5
        torch.testing.assert_close(row[kept], torch.full_like(row[kept], 1 / (1 - rate)))


@pytest.mark.parametrize("fused", [True, False])
def test_stacked_adamw_is_torch_adamw_with_each_models_settings(fused: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    shapes = [(2, 3, 4), (2, 5)]
    start = [torch.randn(s, generator=generator) for s in shapes]
    grads = [[torch.randn(s, generator=generator) for s in shapes] for _ in range(4)]
    lr, decay = [1e-2, 3e-3], [0.1, 0.0]
    params = [p.clone() for p in start]
    optimizer = LeanAdamW(params, lr, decay)
    optimizer.fused = fused
    for step, gs in enumerate(grads):
        for p, g in zip(params, gs, strict=True):
            p.grad = None if (step == 1 and p.ndim == 2) else g.clone()  # skipped once
        optimizer.step()
    for model in range(2):
        reference = [p[model].clone().requires_grad_() for p in start]
        torch_adamw = torch.optim.AdamW(
            reference, lr=lr[model], weight_decay=decay[model], foreach=False
        )
        for step, gs in enumerate(grads):
            for p, g in zip(reference, gs, strict=True):
                p.grad = None if (step == 1 and p.ndim == 1) else g[model].clone()
            torch_adamw.step()
        for p, q in zip(params, reference, strict=True):
            torch.testing.assert_close(p[model], q.detach(), rtol=1e-6, atol=1e-7)


def sequence_data(seed: int) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 10)
    return MultimodalDataset(
        {"seq": rng.normal(size=(30, 4, 2)), "vec": rng.normal(size=(30, 3))},
        y,
        kinds={"seq": "sequence", "vec": "vector"},
    )


def test_models_that_cannot_stack_say_why_and_train_one_at_a_time() -> None:
    data = blobs(n_per_class=30)
    splits = splits_of(lambda s: data, 0)
    wide = vector_model(data, 0)
    narrow = FusionClassifier(
        {"a": MLP(5, 8, final_activation=True), "b": MLP(3, 8, (16,), final_activation=True)},
        ConcatFusion({"a": 8, "b": 8}, 8),
        MLP(8, 3),
    )
    assert "architecture" in str(stack_refusal([wide, narrow]))

    def tfn(limit: int) -> nn.Module:
        encoders = {k: MLP(data.shapes[k][0], 2, final_activation=True) for k in ("a", "b")}
        return FusionClassifier(encoders, TensorFusion({"a": 2, "b": 2}, 4, limit), MLP(4, 3))

    assert "'memory_limit' differs" in str(stack_refusal([tfn(2**30), tfn(2**20)]))
    on = shared_private(data, 0, similarity_weight=1.0)
    off = shared_private(data, 1, similarity_weight=0.0)
    assert "similarity_weight is 0 in one model" in str(stack_refusal([on, off]))

    other = splits_of(lambda s: blobs(n_per_class=40), 1)
    models = [vector_model(data, s) for s in range(2)]
    assert "differ in size" in str(stack_refusal(models, [splits, other], RunContext()))
    sizes = [RunContext(batch_size=16), RunContext(batch_size=32)]
    assert "batch_size differ" in str(stack_refusal(models, splits, sizes))

    sequences = splits_of(sequence_data, 0)

    def recurrent(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        encoders = {"seq": SequenceEncoder(2, 4), "vec": MLP(3, 4, final_activation=True)}
        return FusionClassifier(encoders, ConcatFusion({"seq": 4, "vec": 4}, 4), MLP(4, 3))

    contexts = [RunContext(seed=s, max_epochs=2, batch_size=8) for s in range(2)]
    reason = stack_refusal([recurrent(0), recurrent(1)], sequences, contexts)
    assert reason is not None and reason.startswith("cannot run batched")
    with pytest.raises(StackingError, match="cannot run batched"):
        fit_stacked([recurrent(0), recurrent(1)], sequences, contexts)
    results = fit_many([recurrent(0), recurrent(1)], sequences, contexts, stack=True)
    assert [r.engine for r in results] == ["lean", "lean"]
    for seed, result in enumerate(results):
        alone = fit(recurrent(seed), sequences, max_epochs=2, batch_size=8, seed=seed)
        for p, q in zip(result.model.parameters(), alone.model.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)
    stackable = fit_many([vector_model(data, s) for s in range(2)], splits, contexts, stack=True)
    assert [r.engine for r in stackable] == ["stacked", "stacked"]
    # by default, on the CPU, one at a time (STACK_ON_CPU)
    alone = fit_many([vector_model(data, s) for s in range(2)], splits, contexts)
    assert [r.engine for r in alone] == ["lean", "lean"]
