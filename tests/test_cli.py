from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from intermodal.cli import main

pytestmark = pytest.mark.usefixtures("cwd")  # an empty working directory that must stay empty


def test_bench_writes_results_and_prints_a_leaderboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code = main(
        [
            "bench",
            "--methods",
            "early,unimodal[pix]",
            "--seeds",
            "1",
            "--epochs",
            "2",
            "--jobs",
            "1",
            "--no-report",
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Leaderboard on mfeat" in printed and "unimodal[pix]" in printed and "early" in printed
    assert (out / "results.csv").is_file() and (out / "summary.md").is_file()
    assert (
        main(
            [
                "bench",
                "--methods",
                "early",
                "--seeds",
                "1",
                "--epochs",
                "1",
                "--output",
                str(out),
                "--quiet",
            ]
        )
        == 2
    )
    assert "--overwrite" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--dataset", "nope"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown data set 'nope'" in error


def test_console_entry_point_lists_data_sets() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "intermodal.cli", "datasets"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "mfeat" in done.stdout and "pix (vector 240)" in done.stdout


def test_diagnose_prints_and_writes_every_analysis(
    tmp_path: Path, cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = cwd / "diagnose-mfeat.json"  # left by an earlier `intermodal diagnose` there
    stale.write_text("{}")
    out = tmp_path / "diagnosis.json"
    assert (
        main(
            [
                "diagnose",
                *("--dataset", "synthetic-mixed", "--epochs", "3", "--jobs", "1"),
                *("--output", str(out)),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for word in ("EMAP", "PID of x1 / x2", "interaction types", "robustness", "complexity"):
        assert word in printed
    assert "profile" in printed
    report = json.loads(out.read_text())
    assert report["modalities"] == ["x1", "x2"]
    assert set(report) >= {
        "emap",
        "pid",
        "pid_of_predictions",
        "interaction_types",
        "robustness",
        "complexity",
        "profile",
    }
    assert len(report["robustness"]["curves"]) == 2 * 2  # two modalities, noise and missing
    # the PID of the predictions keeps at least 10 test samples per cell of its joint table
    parts = report["pid_of_predictions"]
    assert parts["clusters"] ** 2 * 2 * 10 <= parts["samples"]
    assert "PID of the fusion model's predictions" in printed
    assert main(["diagnose", "--dataset", "mfeat", "--modalities", "fou,pix,kar"]) == 2
    assert "two modalities" in capsys.readouterr().err
    assert stale.read_text() == "{}"
    stale.unlink()


@pytest.mark.parametrize("method", ["cca", "kcca", "clip", "dccae"])
def test_align_prints_correlations_and_retrieval(
    method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["align", "--method", method, "--views", "fou", "pix", "--epochs", "3", "--dim", "5"])
        == 0
    )
    printed = capsys.readouterr().out
    assert (
        "canonical correlations" in printed and "fou->pix: R@1" in printed and "pix->fou" in printed
    )


FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"


@pytest.mark.skipif(not FSDD.is_dir(), reason="no local FSDD copy")
def test_transfer_and_fission_on_av_digits(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["transfer", "--dataset", "av-digits", "--data-dir", str(FSDD), "--epochs", "1"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {
        "transfer_accuracy",
        "train_modality_accuracy",
        "test_modality_accuracy",
        "chance",
    }
    assert result["chance"] == 0.1 and 0 <= result["transfer_accuracy"] <= 1
    assert (
        main(["fission", "--dataset", "av-digits", "--data-dir", str(FSDD), "--epochs", "1"]) == 0
    )
    table = capsys.readouterr().out
    assert "private (audio)" in table and "speaker_accuracy" in table


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--jobs", "0"], "--jobs: must be a positive number or 'auto'"),
        (["--backend", "slurm"], "invalid choice: 'slurm'"),
        (["--accelerator", "tpu"], "invalid choice: 'tpu'"),
        (["--threads", "-1"], "--threads: must be a positive integer"),
        (["--min-delta", "-0.1"], "--min-delta: must be a number in [0, 1)"),
    ],
)
def test_bad_options_get_one_line_and_exit_code_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["bench", *arguments])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error


def test_a_gpu_that_is_not_there_is_an_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = tmp_path / "never"
    assert main(["bench", "--accelerator", "gpu", "--output", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no CUDA GPU" in error and "--accelerator cpu" in error
    assert not out.exists()


def test_ray_without_ray_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    out = tmp_path / "never"
    assert main(["bench", "--backend", "ray", "--output", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install 'intermodal[ray]'" in error
    assert not out.exists()


def test_align_on_a_mat_file_prints_map_in_both_directions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import scipy.io

    rng = np.random.default_rng(0)
    labels = rng.integers(1, 4, 200)
    shared = np.eye(3)[labels - 1] * 2
    views = np.empty((1, 2), dtype=object)
    views[0, 0] = shared @ rng.normal(size=(3, 10)) + rng.normal(size=(200, 10))
    views[0, 1] = (shared @ rng.normal(size=(3, 8)) + rng.normal(size=(200, 8))).T
    scipy.io.savemat(tmp_path / "views.mat", {"X": views, "y": labels[:, None]})
    arguments = ["align", "--dataset", str(tmp_path / "views.mat"), "--views", "view0", "view1"]
    assert main([*arguments, "--method", "cca"]) == 0
    printed = capsys.readouterr().out
    maps = [
        float(line.split("MAP ")[1].split(",")[0])
        for line in printed.splitlines()
        if "(category relevance)" in line
    ]
    assert len(maps) == 2 and all(m > 0.5 for m in maps)  # three balanced classes: chance ~ 1/3
