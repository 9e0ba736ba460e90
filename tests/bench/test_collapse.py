from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from intermodal.bench import register_method, run_benchmark, unregister_method
from intermodal.bench.collapse import RELATIVE_SPREAD, collapse
from intermodal.bench.methods import build_unimodal
from intermodal.data import MultimodalDataset
from intermodal.training import RunContext
from tests.helpers import blobs


def test_one_class_for_every_sample_is_collapsed() -> None:
    targets = torch.tensor([0, 1, 2, 1])
    logits = torch.tensor([[0.0, 2.0, 1.0]]).repeat(4, 1) + torch.randn(4, 3) * 0.1
    assert collapse("classification", logits, targets) == "one class (1) for every test sample"
    logits[2] = torch.tensor([3.0, 0.0, 0.0])  # one sample answered otherwise
    assert collapse("classification", logits, targets) is None
    # a test part of one class cannot tell a majority predictor from a right one
    assert collapse("classification", torch.ones(4, 3), torch.zeros(4, dtype=torch.long)) is None


def test_one_label_set_for_every_sample_is_collapsed() -> None:
    targets = torch.tensor([[1, 0], [0, 1], [1, 1]])
    same = torch.tensor([[2.0, -1.0], [1.0, -3.0], [0.5, -0.2]])  # {0} for all
    assert collapse("multilabel", same, targets) == "one label set for every test sample"
    assert (
        collapse("multilabel", torch.tensor([[2.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]), targets)
        is None
    )


def test_constant_values_relative_to_the_targets_spread() -> None:
    targets = torch.tensor([0.0, 10.0, 20.0, 30.0])
    scale = targets.std(correction=0).item()
    below = torch.full((4,), 15.0) + torch.tensor([0.0, 0.5, 0.0, 0.0]) * RELATIVE_SPREAD * scale
    above = torch.full((4,), 15.0) + torch.tensor([0.0, 2.0, 0.0, 0.0]) * RELATIVE_SPREAD * scale
    assert collapse("regression", below, targets) == "constant values for every test sample"
    assert collapse("regression", above, targets) is None
    # several targets: collapsed only when every output column is constant
    two = torch.stack([torch.full((4,), 1.0), torch.arange(4.0)], dim=1)
    assert collapse("regression", two, torch.stack([targets, targets], dim=1)) is None


def build_blind(dataset: MultimodalDataset, context: RunContext) -> torch.nn.Module:
    """A unimodal model whose first layer reads nothing: every sample gets the same output."""
    model = build_unimodal(dataset.select(dataset.modality_names[:1]), context)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        first.weight.zero_()
    first.weight.requires_grad_(False)
    return model


@pytest.fixture
def blind() -> Iterator[str]:
    register_method("blind", "unimodal", "reads nothing")(build_blind)
    yield "blind"
    unregister_method("blind")


def test_a_collapsed_method_is_listed_not_ranked_nor_chosen(blind: str) -> None:
    result = run_benchmark(
        blobs(), methods=f"early,{blind}", seeds=2, epochs=3, progress=False, report=False
    )
    runs = result.runs
    assert runs.loc[runs["method"] == blind, "collapsed"].all()
    assert not runs.loc[runs["method"] == "early", "collapsed"].any()
    board = result.leaderboard.set_index("method")
    assert list(result.leaderboard["method"]) == ["early", blind]  # last, whatever its score
    assert board.loc[blind, "collapsed"] == 2 and board.loc["early", "collapsed"] == 0
    assert not board.loc[blind, "tied_with_best"]
    assert board.loc[blind, ["ci_low", "ci_high", "p_vs_best"]].isna().all()
    assert result.chosen is not None and result.chosen.method == "early"
    assert blind not in result.chosen.scores
