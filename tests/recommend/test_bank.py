"""The bank: validation, clear errors, distance and nearest entries."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from intermodal.recommend import BANK_FORMAT, BANK_VERSION, BankError, load_bank, parse_bank
from intermodal.recommend.bank import BANK_PATH, distance, nearest, role_name


def small_bank() -> dict[str, Any]:
    def entry(name: str, vector: list[float], scores: dict[str, float]) -> dict[str, Any]:
        return {
            "name": name,
            "description": name,
            "normalized": dict(
                zip(("redundancy", "unique_strong", "unique_weak", "synergy"), vector, strict=True)
            ),
            "scores": {m: {"test": s, "val": s} for m, s in scores.items()},
        }

    return {
        "format": BANK_FORMAT,
        "version": BANK_VERSION,
        "metric": "accuracy",
        "methods": ["early", "bilinear", "unimodal[strong]"],
        "provenance": dict.fromkeys(
            ("command", "date", "package_version", "trials", "seeds", "samples", "epochs"), 0
        ),
        "entries": [
            entry(
                "redundant",
                [1, 0, 0, 0],
                {"early": 1.0, "bilinear": 0.98, "unimodal[strong]": 0.97},
            ),
            entry(
                "synergy", [0, 0, 0, 1], {"early": 0.5, "bilinear": 0.95, "unimodal[strong]": 0.5}
            ),
            entry(
                "unique", [0, 1, 0, 0], {"early": 0.9, "bilinear": 0.88, "unimodal[strong]": 0.92}
            ),
            entry(
                "half", [0.5, 0, 0, 0.5], {"early": 0.6, "bilinear": 0.9, "unimodal[strong]": 0.55}
            ),
        ],
    }


def test_the_shipped_bank_validates_and_states_its_provenance() -> None:
    bank = load_bank()
    assert bank.version == BANK_VERSION and bank.metric == "accuracy"
    assert len(bank.entries) >= 20
    for key in ("command", "date", "package_version", "trials", "seeds"):
        assert key in bank.provenance
    assert "unimodal[strong]" in bank.methods and "gbdt" in bank.methods
    for entry in bank.entries:
        assert sum(entry.normalized.values()) == pytest.approx(1.0, abs=1e-3)
        assert set(entry.scores) == set(bank.methods)
    document = json.loads(BANK_PATH.read_text())
    assert document["format"] == BANK_FORMAT


def test_distance_and_nearest_match_a_loop() -> None:
    bank = parse_bank(small_bank())
    query = np.array([0.3, 0.1, 0.0, 0.6])
    reference = []
    for e in small_bank()["entries"]:
        v = list(e["normalized"].values())
        squares = sum((a - b) ** 2 for a, b in zip(query, v, strict=True))
        reference.append((math.sqrt(squares), e["name"]))
    reference.sort()
    found = nearest(query, bank, k=3)
    assert [e.name for e, _ in found] == [name for _, name in reference[:3]]
    assert [d for _, d in found] == pytest.approx([d for d, _ in reference[:3]])
    assert distance([1, 0, 0, 0], [0, 0, 0, 1]) == pytest.approx(math.sqrt(2))


def test_role_names() -> None:
    assert role_name("unimodal[x2]", "x2", "x1") == "unimodal[strong]"
    assert role_name("linear[x1]", "x2", "x1") == "linear[weak]"
    assert role_name("tfn", "x2", "x1") == "tfn"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=99), "version 99; this intermodal reads version 1"),
        (lambda d: d.update(format="other"), "is not an interaction bank"),
        (lambda d: d.pop("provenance"), "lacks the field 'provenance'"),
        (lambda d: d["provenance"].pop("trials"), "lacks the field 'trials'"),
        (lambda d: d["entries"][0]["normalized"].update(synergy=0.5), "sum to one"),
        (lambda d: d["entries"][1]["scores"].pop("early"), "no scores of \\['early'\\]"),
        (lambda d: d["entries"][1]["scores"]["early"].update(test="high"), "finite number"),
        (lambda d: d.update(entries=[]), "no entries"),
    ],
)
def test_a_corrupt_bank_is_refused_clearly(change: Any, message: str) -> None:
    document = copy.deepcopy(small_bank())
    change(document)
    with pytest.raises(BankError, match=message):
        parse_bank(document)


def test_an_unreadable_bank_file_says_how_to_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "bank.json"
    path.write_text('{"format": "intermodal-interaction-bank", "version": 1, "entr')
    with pytest.raises(BankError, match=r"not valid JSON.*build_bank\.py"):
        load_bank(path)
    with pytest.raises(BankError, match="no bank at"):
        load_bank(tmp_path / "missing.json")
