"""Many modalities: the subset table scores a bounded, documented choice of subsets (every
single modality, every leave-one-out subset and the full set, then a seeded sample), says so,
and the PID samples its pairs beyond ``max_pid_pairs``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from intermodal.bench.analyses import (
    AnalysisInput,
    AnalysisSettings,
    PidTable,
    SubsetTable,
    compute_pid,
    compute_subsets,
    describe,
    pid_pairs,
    run_analyses,
    table_subsets,
)
from intermodal.data import MultimodalDataset
from intermodal.data.missing import MAX_SUBSETS, keep_only
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.metrics import predict_outputs
from intermodal.models import FusionClassifier

VIEWS = [f"view{i:02d}" for i in range(12)]


def twelve_views(n: int = 90, seed: int = 0) -> MultimodalDataset:
    """12 vector modalities of 2 features each; the class (3) shifts every view's mean."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return MultimodalDataset(
        {m: rng.normal(size=(3, 2))[y] + rng.normal(size=(n, 2)) for m in VIEWS}, y
    )


def model_of(data: MultimodalDataset) -> FusionClassifier:
    torch.manual_seed(0)
    encoders = {m: MLP(2, 2) for m in data.modality_names}
    return FusionClassifier(encoders, ConcatFusion(dict.fromkeys(data.modality_names, 2), 3))


def test_the_subset_table_of_twelve_modalities_is_bounded_and_says_so() -> None:
    data = twelve_views()
    model = model_of(data).eval()
    inputs = AnalysisInput(data, data, {"m": model}, {"m": "fusion"}, {"m": 0.0})
    table = compute_subsets(inputs, AnalysisSettings())
    assert isinstance(table, SubsetTable)
    chosen = [tuple(s.split(" + ")) for s in table.subsets]
    assert len(chosen) == len(set(chosen)) == MAX_SUBSETS
    for m in VIEWS:
        assert (m,) in chosen and tuple(v for v in VIEWS if v != m) in chosen
    assert tuple(VIEWS) in chosen
    assert table.note.startswith(f"{MAX_SUBSETS} of the 4095 subsets")
    assert "leave-one-out" in table.note and "seed 0" in table.note
    assert any(table.note in line for line in describe("missing_subsets", table))
    assert table.note in table_subsets(table)
    # each score is the model's on the data with only that subset present
    scores = table.scores["m"]
    assert len(scores) == len(chosen)
    for i in (0, 13, 40, len(chosen) - 1):
        view = keep_only(data, chosen[i])
        correct = predict_outputs(model, view).argmax(1) == view.targets
        assert scores[i] == pytest.approx(float(correct.double().mean()))
    # the other analyses run on the 12 modalities too, and the PID says which pairs it took
    settings = AnalysisSettings(missing_rates=(0.0, 0.5), emap_draws=4)
    results = run_analyses(inputs, settings)
    assert {"robustness", "emap", "missing_subsets", "missing_rate", "pid"} <= set(results)
    assert len(results["robustness"].curves) == 12 * 2


def test_the_pid_beyond_max_pid_pairs_takes_a_seeded_sample_and_says_so() -> None:
    every = list(itertools.combinations(VIEWS, 2))
    assert pid_pairs(VIEWS[:6], 15, seed=0) == list(itertools.combinations(VIEWS[:6], 2))
    chosen = pid_pairs(VIEWS, 15, seed=0)
    assert len(chosen) == len(set(chosen)) == 15 and set(chosen) <= set(every)
    assert chosen == sorted(chosen, key=every.index) and chosen == pid_pairs(VIEWS, 15, seed=0)
    assert {a for pair in chosen for a in pair} > {"view00", "view01"}  # not only the first ones
    data = twelve_views(300)
    inputs = AnalysisInput(data, data, {}, {}, {})
    table = compute_pid(inputs, AnalysisSettings(max_pid_pairs=3))
    assert isinstance(table, PidTable)
    assert [row["pair"] for row in table.pairs] == [
        f"{a} / {b}" for a, b in pid_pairs(VIEWS, 3, seed=0)
    ]
    assert table.note.startswith("3 of the 66 pairs")
