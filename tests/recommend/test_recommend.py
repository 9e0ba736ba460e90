"""Top-k recommendations against a reference computed here; the command line; the bench section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from intermodal.cli import main
from intermodal.data import MultimodalDataset, make_interaction_dataset
from intermodal.recommend import describe, interaction_profile, parse_bank, recommend
from intermodal.recommend.recommend import SMOOTHING

from .test_bank import small_bank


def test_the_top_k_is_the_weighted_relative_score_of_the_nearest_entries() -> None:
    data = make_interaction_dataset("synergistic", n=1200, seed=11)
    document = small_bank()
    found = recommend(data, top=2, bank=parse_bank(document), neighbours=2)
    vector = interaction_profile(data).vector()
    distances = []
    for e in document["entries"]:
        v = list(e["normalized"].values())
        d = float(np.sqrt(sum((a - b) ** 2 for a, b in zip(vector, v, strict=True))))
        distances.append((d, e))
    distances.sort(key=lambda pair: pair[0])
    votes = distances[:2]
    weights = [1 / (d + SMOOTHING) for d, _ in votes]
    expected = {}
    for method in document["methods"]:
        total = 0.0
        for w, (_, e) in zip(weights, votes, strict=True):
            best = max(s["test"] for s in e["scores"].values())
            total += w * e["scores"][method]["test"] / best
        expected[method.replace("[strong]", f"[{found.profile.strongest}]")] = total / sum(weights)
    ranking = sorted(expected, key=lambda m: -expected[m])[:2]
    assert [r["method"] for r in found.recommended] == ranking
    assert [r["score"] for r in found.recommended] == pytest.approx(
        [expected[m] for m in ranking], abs=1e-5
    )
    assert [e["name"] for e in found.nearest] == [e["name"] for _, e in votes]
    assert found.recommended[0]["method"] == "bilinear"
    assert any("synergy" in reason for reason in found.recommended[0]["reasons"])


def test_methods_that_do_not_apply_are_left_out_with_their_reason() -> None:
    base = make_interaction_dataset("synergistic", n=900, seed=5)
    rng = np.random.default_rng(0)
    data = MultimodalDataset(
        {"x1": base.modalities["x1"], "x2": base.modalities["x2"], "x3": rng.normal(size=(900, 4))},
        base.targets,
    )
    found = recommend(data, top=3, bank=parse_bank(small_bank()))
    methods = [r["method"] for r in found.recommended]
    assert "bilinear" not in methods
    assert any(
        i["method"] == "bilinear" and "two-modal" in i["reason"] for i in found.not_applicable
    )
    with pytest.raises(ValueError, match="top must be a positive"):
        recommend(data, top=0, bank=parse_bank(small_bank()))


def test_the_shipped_bank_recommends_interaction_capable_fusions_for_xor() -> None:
    found = recommend(make_interaction_dataset("synergistic", n=1500, seed=9))
    additive = {"early", "additive", "linear", "late-mean", "late-weighted", "late-learned"}
    assert not additive & {r["method"] for r in found.recommended}
    assert "unimodal" not in " ".join(r["method"] for r in found.recommended)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["recommend", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_the_same_in_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(capsys, "--dataset", "synthetic-mixed", "--top", "2")
    assert code == 0
    code, raw, _ = run(capsys, "--dataset", "synthetic-mixed", "--top", "2", "--json")
    assert code == 0
    found = json.loads(raw)
    assert describe(found) == text.rstrip("\n")
    assert len(found["recommended"]) == 2
    for item in found["recommended"]:
        assert item["method"] in text
    assert "Nearest bank entries" in text and "Recommended (top 2)" in text


def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["recommend", "--dataset", "synthetic-mixed", "--top", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--top" in err
    code, _, err = run(capsys, "--dataset", "synthetic-mixed", "--modalities", "x1")
    assert code == 2 and err.count("\n") == 1
    assert "nothing to fuse" in err and "unimodal,linear" in err
    code, _, err = run(capsys, "--dataset", "synthetic-mixed-regression")
    assert code == 2 and err.count("\n") == 1 and "classification" in err
    table = tmp_path / "one-class.csv"
    table.write_text("a.0,b.0,target\n" + "".join(f"{i},{-i},1\n" for i in range(30)))
    code, _, err = run(capsys, "--dataset", str(table))
    assert code == 2 and err.count("\n") == 1
