from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from intermodal.data import standardize, stratified_split
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.metrics import evaluate, predict_outputs
from intermodal.models import FusionClassifier, UnimodalClassifier
from intermodal.training import fit
from tests.helpers import blobs


def tiny_model(seed: int = 0) -> FusionClassifier:
    torch.manual_seed(seed)
    encoders = {"a": MLP(5, 8, final_activation=True), "b": MLP(3, 8, final_activation=True)}
    return FusionClassifier(encoders, ConcatFusion({"a": 8, "b": 8}, 8), MLP(8, 3))


def test_fit_learns_and_restores_the_best_validation_weights() -> None:
    splits = standardize(stratified_split(blobs(), seed=0))
    result = fit(
        tiny_model(), splits, max_epochs=30, patience=5, batch_size=16, seed=0, accelerator="cpu"
    )
    assert evaluate(result.model, splits.test)["accuracy"] > 0.9
    assert result.epochs == len(result.history) and result.world_size == 1
    best = min(row["val_loss"] for row in result.history)
    assert result.best_val_loss == pytest.approx(best)
    val_loss = F.cross_entropy(predict_outputs(result.model, splits.val), splits.val.targets)
    assert float(val_loss) == pytest.approx(result.best_val_loss, rel=1e-5)
    history_keys = set(result.history[0])
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"} <= history_keys


def test_fit_is_reproducible_with_a_seed() -> None:
    splits = standardize(stratified_split(blobs(), seed=0))
    first = fit(tiny_model(), splits, max_epochs=3, seed=7, accelerator="cpu").model
    second = fit(tiny_model(), splits, max_epochs=3, seed=7, accelerator="cpu").model
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_fit_names_modalities_the_data_lacks() -> None:
    splits = stratified_split(blobs(), seed=0)
    with pytest.raises(KeyError, match=r"needs modalities \['c'\]"):
        fit(UnimodalClassifier("c", MLP(2, 2), MLP(2, 3)), splits, max_epochs=1)


def test_ddp_spawn_with_two_cpu_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    splits = standardize(stratified_split(blobs(n_per_class=60), seed=0))
    model = tiny_model()
    initial = [p.detach().clone() for p in model.parameters()]
    result = fit(
        model,
        splits,
        max_epochs=15,
        patience=15,
        batch_size=16,
        seed=0,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        num_workers=0,
    )
    assert result.world_size == 2
    assert any(
        not torch.equal(p, q) for p, q in zip(result.model.parameters(), initial, strict=True)
    )
    assert evaluate(result.model, splits.test)["accuracy"] > 0.9


def dropout_model(seed: int = 0) -> FusionClassifier:
    torch.manual_seed(seed)
    encoders = {
        "a": MLP(5, 8, hidden_dims=(16,), dropout=0.3, final_activation=True),
        "b": MLP(3, 8, hidden_dims=(16,), dropout=0.3, final_activation=True),
    }
    return FusionClassifier(encoders, ConcatFusion({"a": 8, "b": 8}, 8), MLP(8, 3))


def test_the_lean_loop_and_lightning_give_the_same_weights_and_history() -> None:
    """Same seed, same batches, same dropout draws, same optimizer: the lean single-device loop
    and the Lightning path train the same model to the same weights."""
    splits = standardize(stratified_split(blobs(n_per_class=50), seed=0))
    settings = {"max_epochs": 12, "patience": 3, "batch_size": 16, "seed": 5}
    lean = fit(dropout_model(), splits, engine="lean", accelerator="cpu", **settings)
    lightning = fit(dropout_model(), splits, engine="lightning", accelerator="cpu", **settings)
    assert (lean.engine, lightning.engine) == ("lean", "lightning")
    assert lean.epochs == lightning.epochs and lean.best_epoch == lightning.best_epoch
    for p, q in zip(lean.model.parameters(), lightning.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    for a, b in zip(lean.history, lightning.history, strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key


def test_a_model_with_its_own_loss_stops_on_its_deterministic_validation_metric() -> None:
    """MFM's training loss draws prior samples (random); its validation loss is the task term,
    deterministic, and early stopping follows the task's metric, which it records."""
    from intermodal.bench.transfer import build_factorized

    splits = standardize(stratified_split(blobs(), seed=0))
    model = build_factorized(splits.train)
    result = fit(model, splits, max_epochs=6, patience=3, seed=0)
    assert result.monitor.startswith("validation accuracy")
    batch = splits.val.batch()
    with torch.no_grad():
        first = model.validation_loss(batch.inputs, batch.target, batch.mask)
        again = model.validation_loss(batch.inputs, batch.target, batch.mask)
        expected = F.cross_entropy(model(batch.inputs), batch.target)
    assert float(first) == float(again)
    torch.testing.assert_close(first, expected)
    accuracies = [row["val_accuracy"] for row in result.history]
    assert result.best_epoch == accuracies.index(max(accuracies))  # the first best epoch
    assert result.best_val_loss == result.history[result.best_epoch]["val_loss"]
