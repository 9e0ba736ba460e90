"""Training on a CUDA GPU: the same engine and commands as on the CPU (skipped without a GPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from intermodal.cli import main
from intermodal.data import standardize, stratified_split
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.metrics import evaluate
from intermodal.models import FusionClassifier
from intermodal.training import fit
from tests.helpers import SHARED_DATA, blobs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def model(dropout: float, seed: int = 0) -> FusionClassifier:
    torch.manual_seed(seed)
    encoders = {
        "a": MLP(5, 8, hidden_dims=(16,), dropout=dropout, final_activation=True),
        "b": MLP(3, 8, hidden_dims=(16,), dropout=dropout, final_activation=True),
    }
    return FusionClassifier(encoders, ConcatFusion({"a": 8, "b": 8}, 8), MLP(8, 3))


def test_the_lean_loop_and_lightning_give_the_same_weights_on_a_gpu() -> None:
    """Same seed, batches and dropout draws (from the GPU's generator) on both engines."""
    splits = standardize(stratified_split(blobs(n_per_class=50), seed=0))
    settings = {"max_epochs": 12, "patience": 3, "batch_size": 16, "seed": 5, "accelerator": "gpu"}
    lean = fit(model(0.3), splits, engine="lean", **settings)
    lightning = fit(model(0.3), splits, engine="lightning", **settings)
    assert lean.epochs == lightning.epochs and lean.best_epoch == lightning.best_epoch
    for p, q in zip(lean.model.parameters(), lightning.model.parameters(), strict=True):
        assert p.device.type == "cpu"  # fit hands the trained model back on the CPU
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_a_gpu_run_follows_the_cpu_run_of_the_same_seed() -> None:
    """Without dropout the only difference is floating-point rounding: twenty epochs on the GPU
    and on the CPU end at the same losses and weights up to rounding."""
    splits = standardize(stratified_split(blobs(n_per_class=50), seed=0))
    settings = {"max_epochs": 20, "patience": 20, "batch_size": 16, "seed": 1}
    cpu = fit(model(0.0), splits, accelerator="cpu", **settings)
    torch.cuda.reset_peak_memory_stats()
    gpu = fit(model(0.0), splits, accelerator="gpu", **settings)
    assert torch.cuda.max_memory_allocated() > 0  # it trained on the GPU, not silently on the CPU
    for a, b in zip(cpu.history, gpu.history, strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key
    for p, q in zip(cpu.model.parameters(), gpu.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)
    assert evaluate(gpu.model, splits.test)["accuracy"] > 0.9


def test_bench_trains_every_kind_of_method_on_the_gpu_in_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fusion, attention, fission (own losses), coordination and search, two GPU workers."""
    out = tmp_path / "results"
    methods = "early,attention,tfn,mfm,shared-private,coord-clip,coord-cca,search"
    options = "--modalities fou,pix --seeds 1 --epochs 2 --accelerator gpu --jobs 2 --no-report"
    arguments = ["bench", "--methods", methods, *options.split(), "--quiet", "--output", str(out)]
    assert main(arguments) == 0
    assert "Leaderboard on mfeat" in capsys.readouterr().out
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert sorted(run["method"] for run in runs) == sorted(methods.split(","))
    assert all(0.0 <= run["accuracy"] <= 1.0 for run in runs)


def test_diagnose_and_align_train_on_the_gpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diagnosis.json"
    diagnose = ["diagnose", "--dataset", "synthetic-mixed", "--epochs", "2", "--jobs", "1"]
    assert main([*diagnose, "--accelerator", "gpu", "--output", str(out)]) == 0
    assert "emap" in json.loads(out.read_text())
    align = ["align", "--method", "dccae", "--views", "fou", "pix", "--epochs", "2", "--dim", "5"]
    assert main([*align, "--accelerator", "gpu"]) == 0
    assert "fou->pix: R@1" in capsys.readouterr().out


@pytest.mark.skipif(not (SHARED_DATA / "fsdd").is_dir(), reason="no local FSDD copy")
def test_transfer_and_fission_train_on_the_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--dataset", "av-digits", "--data-dir", str(SHARED_DATA / "fsdd"), "--epochs", "1"]
    assert main(["transfer", *data, "--accelerator", "gpu"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["transfer_accuracy"] <= 1
    assert main(["fission", *data, "--accelerator", "gpu"]) == 0
    assert "speaker_accuracy" in capsys.readouterr().out
