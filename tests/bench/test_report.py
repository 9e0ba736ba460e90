"""The report as a user sees it: rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from intermodal.cli import main
from tests.helpers import write_affect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BENCH = ["bench", "--modalities", "fou,pix", "--methods", "early,late-mean,unimodal"]
BENCH += ["--seeds", "2", "--epochs", "5", "--jobs", "1", "--output"]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


pytestmark = pytest.mark.usefixtures("cwd")  # an empty working directory that must stay empty


@pytest.fixture(scope="module")
def shared_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One benchmark for the module; tests that change files work on their own copy."""
    out = tmp_path_factory.mktemp("bench") / "results"
    code = main([*BENCH, str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture
def results(shared_results: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "results"
    shutil.copytree(shared_results, copy)
    return copy


FIGURES = {
    "score_vs_parameters.png",
    "score_vs_train_time.png",
    "robustness.png",
    "emap.png",
    "pid.png",
    "interaction_types.png",
    "missing_subsets.png",
    "missing_rate.png",
}


def test_bench_writes_the_report_and_figures(results: Path) -> None:
    expected = FIGURES
    assert {p.name for p in (results / "figures").iterdir()} == expected
    page = (results / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(expected)
    assert "http://" not in page and "https://" not in page  # self-contained
    assert (results / "analysis.json").is_file() and (results / "models" / "early").is_dir()


def test_report_is_rebuilt_from_saved_results(results: Path) -> None:
    before = (results / "report.html").read_text()
    (results / "report.html").unlink()
    assert main(["report", str(results)]) == 0
    assert (results / "report.html").read_text() == before


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(results: Path, tmp_path: Path) -> None:
    url = (results / "report.html").as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            *profile,
            "--enable-logging=stderr",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert 'id="leaderboard"' in dom.stdout and dom.stdout.count("<tr") >= 5
    shown = re.search(r'data-figures-shown="(\d+)"', dom.stdout)
    assert shown and int(shown.group(1)) == len(FIGURES), "every figure must load and decode"
    assert "95% CI low" in dom.stdout and 'class="tied"' in dom.stdout
    assert 'id="subsets"' in dom.stdout and "pix + fou" not in dom.stdout
    assert "fou + pix" in dom.stdout and "absent modality" in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, *profile, "--window-size=1200,3000", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 50_000
    shutil.copy(shot, results / "screenshot.png")


def test_resume_skips_saved_runs(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = sorted(p.name for p in (results / "runs").iterdir())
    assert len(runs) == 2 * 4 * 2  # early, late-mean, two unimodal, two seeds; row + outputs
    stamp = {p.name: p.stat().st_mtime_ns for p in (results / "runs").iterdir()}
    (results / "runs" / "early__seed1.json").unlink()
    assert main([*BENCH, str(results), "--quiet", "--resume", "--no-report"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (results / "runs").iterdir()}
    assert after.keys() == stamp.keys()
    rerun = {"early__seed1.json", "early__seed1.npy"}
    assert [k for k in stamp if k not in rerun and after[k] != stamp[k]] == []


def test_config_grid_and_a_mosi_format_file_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_affect(tmp_path / "mosi.pkl", n=40)
    assert (
        main(
            [
                "bench",
                "--dataset",
                str(tmp_path / "mosi.pkl"),
                "--output",
                str(tmp_path / "refused"),
            ]
        )
        == 2
    )
    assert "trust" in capsys.readouterr().err
    config = {
        "dataset": [str(tmp_path / "mosi.pkl"), "synthetic-synergistic"],
        "methods": ["early", "unimodal"],
        "seeds": 1,
        "epochs": 3,
        "jobs": 1,
        "output": str(tmp_path / "grid"),
    }
    (tmp_path / "experiment.yaml").write_text(yaml.safe_dump(config))
    assert (
        main(["bench", "--config", str(tmp_path / "experiment.yaml"), "--trust-pickle", "--quiet"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "Leaderboard on mosi" in printed and "unimodal[text]" in printed
    for name in ("mosi.pkl", "synthetic-synergistic"):
        assert (tmp_path / "grid" / name / "report.html").is_file()
    (tmp_path / "bad.yaml").write_text("datasett: mfeat\n")
    assert main(["bench", "--config", str(tmp_path / "bad.yaml")]) == 2
