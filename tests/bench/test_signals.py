"""Ordered signals: a data set declares which vector modalities are 1-D signals, the declaration
survives every derived data set, and very early fusion runs only where every modality is
ordered (from Python, the command line and YAML)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from intermodal.bench import resolve_methods, run_benchmark
from intermodal.bench.config import BenchConfig, load_grid
from intermodal.cli import main
from intermodal.data import MultimodalDataset, load_mfeat, split_dataset, standardize
from intermodal.data.missing import hide_at_random
from intermodal.fusion import VeryEarlyFusion
from intermodal.training import RunContext
from tests.helpers import blobs


def test_the_declaration_survives_derived_data_sets() -> None:
    data = blobs().with_signals(["a"])
    assert data.signals == ("a",) and data.ordered == ["a"]
    splits = standardize(split_dataset(data, seed=0))
    derived = [
        *splits,
        data.subset([0, 1, 2]),
        data.select(["a"]),
        hide_at_random(data, 0.3, seed=0),
        data.with_targets(data.targets),
    ]
    assert all(part.signals == ("a",) for part in derived)
    assert data.select(["b"]).signals == ()
    assert data.with_signals(["b"]).signals == ("a", "b")


def test_sequences_and_audio_are_ordered_by_their_kind() -> None:
    data = MultimodalDataset(
        {"s": np.zeros((4, 5, 2)), "w": np.zeros((4, 30)), "v": np.zeros((4, 3))},
        [0, 1, 0, 1],
        kinds={"w": "audio"},
    )
    assert data.ordered == ["s", "w"]


@pytest.mark.parametrize(
    ("signals", "error", "message"),
    [
        (["nope"], KeyError, "signals names unknown modalities"),
        (["img"], ValueError, "img \\(image\\) is not a vector"),
    ],
)
def test_a_wrong_declaration_is_a_clear_error(
    signals: list[str], error: type, message: str
) -> None:
    data = {"img": np.zeros((4, 1, 2, 2)), "v": np.zeros((4, 3))}
    with pytest.raises(error, match=message):
        MultimodalDataset(data, [0, 1, 0, 1], signals=signals)


def test_very_early_fusion_is_skipped_on_unordered_features_with_the_reason() -> None:
    jobs, skipped = resolve_methods("very-early,early", load_mfeat())
    assert [job.name for job in jobs] == ["early"]
    reason = dict(skipped)["very-early"]
    assert "fac (vector), fou (vector)" in reason and "--signals" in reason
    jobs, skipped = resolve_methods(
        "very-early", load_mfeat(["fou", "pix"]).with_signals(["fou", "pix"])
    )
    assert [job.name for job in jobs] == ["very-early"] and not skipped


def test_declared_signals_reach_the_benchmark_from_python_and_yaml(tmp_path: Path) -> None:
    result = run_benchmark(
        blobs(),
        methods="very-early",
        signals="a,b",
        seeds=1,
        epochs=1,
        progress=False,
        report=False,
    )
    assert result.runs["method"].tolist() == ["very-early"]
    assert result.config["signals"] == ["a", "b"]
    grid = tmp_path / "grid.yaml"
    grid.write_text("signals: [fou, pix]\nmodalities: [fou, pix]\n")
    (config,) = load_grid(grid, BenchConfig())
    assert config.signals == ("fou", "pix")
    with pytest.raises(ValueError, match="no requested method applies"):
        run_benchmark(blobs(), methods="very-early", seeds=1, epochs=1, progress=False)


@pytest.mark.usefixtures("cwd")
def test_the_command_line_declares_signals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["bench", "--methods", "very-early", "--seeds", "1", "--epochs", "1", "--jobs", "1"]
    common += ["--no-report", "--quiet", "--modalities", "fou,pix"]
    out = tmp_path / "results"
    assert main([*common, "--signals", "fou,pix", "--output", str(out)]) == 0
    assert "very-early" in capsys.readouterr().out
    assert main([*common, "--signals", "fou,nope", "--output", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown modalities ['nope']" in error
    assert not (tmp_path / "bad").exists()


def test_audio_given_channels_first_is_read_as_channels() -> None:
    torch.manual_seed(0)
    last = VeryEarlyFusion({"a": 3, "b": 1}, 4)
    first = VeryEarlyFusion({"a": 3, "b": 1}, 4, channels_first=["a"])
    first.load_state_dict(last.state_dict())
    wave = torch.randn(2, 3, 50)  # (B, C, T), audio's layout
    other = torch.randn(2, 20)
    torch.testing.assert_close(
        first({"a": wave, "b": other}), last({"a": wave.transpose(1, 2), "b": other})
    )
    with pytest.raises(ValueError, match="channels_first names"):
        VeryEarlyFusion({"a": 3, "b": 1}, 4, channels_first=["c"])


def test_very_early_fusion_builds_for_sequences_audio_and_declared_vectors() -> None:
    rng = np.random.default_rng(0)
    data = MultimodalDataset(
        {
            "s": rng.normal(size=(6, 10, 3)),
            "w": rng.normal(size=(6, 2, 50)),
            "m": rng.normal(size=(6, 1, 40)),
            "v": rng.normal(size=(6, 7)),
        },
        np.arange(6) % 2,
        kinds={"w": "audio", "m": "audio"},
        signals=["v"],
    )
    jobs, skipped = resolve_methods("very-early", data)
    assert not skipped
    model = jobs[0].build(data, RunContext())
    assert model.fusion.input_dims == {"m": 1, "s": 3, "v": 1, "w": 2}
    assert model.fusion.channels_first == ["m", "w"]
    inputs = {k: v.float() for k, v in data.modalities.items()}
    assert model(inputs).shape == (6, 2)
