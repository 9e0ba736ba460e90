from __future__ import annotations

import json
from pathlib import Path

from intermodal.bench.diagnose import METHODS
from intermodal.cli import main


def test_the_report_and_diagnose_give_the_same_pid_and_robustness(tmp_path: Path) -> None:
    """Both run the same analysis suite with the same settings on models trained the same way,
    so the same data and seed give the same numbers."""
    common = ["--dataset", "synthetic-mixed", "--epochs", "4", "--threads", "1", "--jobs", "1"]
    bench = ["bench", *common, "--methods", ",".join(METHODS), "--seeds", "1"]
    assert main([*bench, "--output", str(tmp_path / "bench"), "--quiet"]) == 0
    diagnosis = tmp_path / "diagnosis.json"
    assert main(["diagnose", *common, "--output", str(diagnosis), "--quiet"]) == 0
    report = json.loads((tmp_path / "bench" / "analysis.json").read_text())
    diagnosed = json.loads(diagnosis.read_text())
    assert report["settings"] == diagnosed["settings"]
    for name in ("pid", "robustness", "emap", "interaction_types", "missing_subsets"):
        assert report[name] == diagnosed[name], name
    assert report["robustness"]["model"] == "nonlinear"
    # each pair's k-means cells leave the promised samples per cell of the (x1, x2, y) table
    per_cell, classes = report["settings"]["pid_samples_per_cell"], 4
    for row in report["pid"]["pairs"]:
        assert 2 <= row["clusters"] <= report["settings"]["pid_clusters"]
        assert row["clusters"] ** 2 * classes * per_cell <= row["samples"]
