"""Search spaces: settings, sampling within bounds, architecture keys, grids, YAML overrides, and
the run context's params."""

from __future__ import annotations

import math
import pickle

import optuna
import pytest
import yaml

from intermodal.errors import UnknownNameError
from intermodal.training import RunContext
from intermodal.tuning import (
    Choice,
    Float,
    Int,
    SearchSpace,
    apply_params,
    override_space,
    override_spaces,
    training_space,
)


def space() -> SearchSpace:
    return SearchSpace(
        lr=Float(1e-4, 1e-2, 1e-3, log=True),
        dropout=Float(0.0, 0.5, 0.1),
        rank=Int(2, 16, 4, log=True),
        order=Int(2, 3, 2),
        width=Choice((32, 64, 128), 64),
        combine=Choice(("mean", "max"), "mean", stackable=True),
    )


def test_defaults_and_stackable_flags() -> None:
    s = space()
    assert s.defaults() == {
        "lr": 1e-3,
        "dropout": 0.1,
        "rank": 4,
        "order": 2,
        "width": 64,
        "combine": "mean",
    }
    assert list(s) == ["lr", "dropout", "rank", "order", "width", "combine"]
    # floats are stackable by default, integers and choices architectural
    stackable = [name for name, p in s.items() if p.stackable]
    assert stackable == ["lr", "dropout", "combine"]
    s.check(s.defaults())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Float(1.0, 1.0, 1.0), "below high"),
        (lambda: Float(0.0, 1.0, 0.5, log=True), "low > 0"),
        (lambda: Float(0.0, 1.0, 2.0), "outside"),
        (lambda: Float(0.0, math.inf, 1.0), "finite"),
        (lambda: Int(1, 4, 2.5), "integers"),  # type: ignore[arg-type]
        (lambda: Int(0, 4, 1, log=True), "low >= 1"),
        (lambda: Choice((), None), "at least one"),
        (lambda: Choice((1, 2), 3), "not among"),
        (lambda: Choice((1, 1), 1), "repeat"),
        (lambda: Choice(([1], 2), 2), "numbers, strings"),  # type: ignore[arg-type]
    ],
)
def test_bad_settings(make, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_sampled_values_are_within_bounds_and_typed() -> None:
    s = space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_log = []
    for _ in range(200):
        trial = study.ask(s.distributions())
        params = trial.params
        s.check(params)  # raises outside the bounds
        assert isinstance(params["lr"], float) and 1e-4 <= params["lr"] <= 1e-2
        assert isinstance(params["rank"], int) and not isinstance(params["rank"], bool)
        assert 2 <= params["rank"] <= 16 and params["order"] in (2, 3)
        assert params["width"] in (32, 64, 128) and params["combine"] in ("mean", "max")
        seen_log.append(math.log10(params["lr"]))
        study.tell(trial, 0.0)
    # log-uniform: about a third of the draws in each decade-and-a-half third of [-4, -2]
    below = sum(v < -10 / 3 for v in seen_log) / len(seen_log)
    assert 0.2 < below < 0.47


def test_check_rejects_outside_and_unknown() -> None:
    s = space()
    with pytest.raises(ValueError, match="rank=17"):
        s.check({"rank": 17})
    with pytest.raises(ValueError, match="width=48"):
        s.check({"width": 48})
    with pytest.raises(UnknownNameError, match="unknown settings"):
        s.check({"heads": 2})


def test_architecture_keeps_only_architectural_values() -> None:
    s = space()
    a = {**s.defaults(), "lr": 0.005, "dropout": 0.3, "combine": "max"}
    b = {**s.defaults(), "rank": 8}
    assert s.architecture(a) == s.architecture(s.defaults())
    assert s.architecture(b) != s.architecture(s.defaults())
    assert dict(s.architecture(b)) == {"rank": 8, "order": 2, "width": 64}


def test_grid_of_a_discrete_space_starts_with_the_defaults() -> None:
    s = SearchSpace(rank=Int(2, 4, 3), width=Choice((32, 64), 64))
    assert s.size() == 6
    grid = s.grid()
    assert grid[0] == {"rank": 3, "width": 64}
    assert len(grid) == 6 and len({tuple(p.items()) for p in grid}) == 6
    assert space().size() is None
    with pytest.raises(ValueError, match="no finite grid"):
        space().grid()


def test_joined_spaces_and_the_training_space() -> None:
    joined = training_space() | SearchSpace(rank=Int(2, 16, 4))
    assert list(joined) == ["lr", "weight_decay", "rank"]
    assert joined.defaults()["weight_decay"] == 1e-4
    assert pickle.loads(pickle.dumps(joined)) == joined


def test_apply_params_sets_the_optimizer_fields_and_the_builder_params() -> None:
    context = apply_params(RunContext(seed=3), {"lr": 0.02, "weight_decay": 0.0, "rank": 8})
    assert (context.lr, context.weight_decay, context.seed) == (0.02, 0.0, 3)
    assert dict(context.params) == {"rank": 8}
    assert context.param("rank", 4) == 8 and context.param("width", 64) == 64


def test_run_context_params_are_immutable_hashable_and_picklable() -> None:
    context = RunContext(params={"rank": 8, "kind": "a"})
    assert hash(context) == hash(RunContext(params={"kind": "a", "rank": 8}))
    assert pickle.loads(pickle.dumps(context)) == context
    with pytest.raises(TypeError):
        context.params["rank"] = 2  # type: ignore[index]
    assert context.as_dict()["params"] == {"kind": "a", "rank": 8}
    with pytest.raises(ValueError, match="JSON scalars"):
        RunContext(params={"widths": [1, 2]})
    assert RunContext().params == {}


# ----------------------------------------------------------------------------------------------
# Overrides from YAML


def test_override_ranges_fixed_values_and_options() -> None:
    s = override_space(
        "lmf",
        space(),
        {
            "rank": [8, 32],  # default 4 moves to the nearest bound
            "lr": {"low": 1e-5, "high": 1e-3, "log": True},
            "dropout": 0.25,  # fixed
            "width": [16, 64],  # options; default 64 kept
            "combine": {"options": ["max"]},
        },
    )
    assert s["rank"] == Int(8, 32, 8, log=True)
    assert s["lr"] == Float(1e-5, 1e-3, 1e-3, log=True)
    assert s["dropout"] == Choice((0.25,), 0.25, stackable=True)
    assert s["width"] == Choice((16, 64), 64)
    assert s["combine"] == Choice(("max",), "max", stackable=True)
    assert list(s) == list(space())  # the order is kept


def test_override_reads_numbers_that_yaml_leaves_as_text() -> None:
    document = yaml.safe_load("lmf: {lr: [1e-5, 1e-3], dropout: 5e-2}")
    assert document["lmf"]["lr"] == ["1e-5", "1e-3"]  # YAML 1.1 needs a dot for a float
    s = override_spaces(document, {"lmf": space()})["lmf"]
    assert s["lr"] == Float(1e-5, 1e-3, 1e-3, log=True)
    assert s["dropout"] == Choice((0.05,), 0.05, stackable=True)


def test_override_spaces_leaves_other_methods_alone() -> None:
    spaces = {"lmf": space(), "early": training_space()}
    result = override_spaces({"lmf": {"rank": [2, 8]}}, spaces)
    assert result["early"] == training_space()
    assert result["lmf"]["rank"] == Int(2, 8, 4, log=True)
    assert override_spaces(None, spaces) == spaces


def test_override_unknown_setting_names_the_methods_settings() -> None:
    with pytest.raises(UnknownNameError) as error:
        override_spaces({"lmf": {"rnk": [2, 8]}}, {"lmf": space()})
    message = str(error.value)
    assert "lmf has no setting 'rnk'" in message
    assert "lr, dropout, rank, order, width, combine" in message


def test_override_unknown_method_names_the_methods() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown methods \['lmff'\].*\['early', 'lmf'\]"):
        override_spaces({"lmff": {"rank": 2}}, {"lmf": space(), "early": training_space()})


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"rank": [8, 2]}, r"search_space\.lmf\.rank: low must be below high"),
        ({"rank": [2.5, 8]}, "integers"),
        ({"rank": [2, 4, 8]}, r"give \[low, high\]"),
        ({"lr": [0, 1e-2]}, "low > 0"),
        ({"lr": ["a", 1]}, "numbers"),
        ({"lr": "fast"}, "takes numbers"),
        ({"width": []}, "must not be empty"),
        ({"width": {"low": 1, "high": 2}}, "list of options"),
        ({"rank": {"low": 2, "step": 2}}, "unknown keys"),
        ({"rank": {"log": "yes"}}, "true or false"),
    ],
)
def test_override_bad_values(spec, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, UnknownNameError), match=message):
        override_space("lmf", space(), spec)


def test_override_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="map method names"):
        override_spaces(["lmf"], {"lmf": space()})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"search_space\.lmf must map setting names"):
        override_spaces({"lmf": [2, 8]}, {"lmf": space()})
