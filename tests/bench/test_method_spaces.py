"""Every benchmark method declares a search space that its builder reads: the defaults build
today's model, and every declared setting changes what is built."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from intermodal.bench.methods import FEATURE_DIM, FUSED_DIM, encoders
from intermodal.bench.registry import METHODS, resolve_methods
from intermodal.data import MultimodalDataset
from intermodal.encoders import MLP
from intermodal.encoders.dropout import Dropout
from intermodal.fusion import ConcatFusion, LowRankFusion
from intermodal.models import FusionClassifier, UnimodalClassifier
from intermodal.models.protocols import TrainsItself
from intermodal.training import RunContext, seed_everything
from intermodal.tuning import Choice, Float, Int, override_spaces
from intermodal.tuning.space import CONTEXT_FIELDS

CONTEXT = RunContext(max_epochs=1, patience=1, threads=1, accelerator="cpu")


@pytest.fixture(scope="module")
def data() -> MultimodalDataset:
    """Two vector modalities wider than a coordinated space's largest default (10)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 25)
    a = rng.normal(size=(3, 16))[y] + rng.normal(size=(75, 16))
    b = rng.normal(size=(3, 12))[y] + rng.normal(size=(75, 12))
    return MultimodalDataset({"a": a, "b": b}, y, name="wide-blobs")


def view(name: str, data: MultimodalDataset) -> MultimodalDataset:
    return data.select(["a"]) if METHODS[name].per_modality else data


NEURAL = sorted(name for name, method in METHODS.items() if method.family != "classical")
"""Methods whose untrained model already computes outputs (a classical baseline's model is its
fitted estimator: its settings are checked in tests/baselines)."""


def build(name: str, data: MultimodalDataset, params: dict[str, Any]) -> nn.Module:
    seed_everything(0)
    return METHODS[name].build(view(name, data), CONTEXT.with_(params=params))


def fingerprint(model: nn.Module, data: MultimodalDataset) -> tuple[Any, ...]:
    """Parameter shapes, eval outputs, and train-mode outputs and training loss under a fixed
    seed (dropout and loss weights show there)."""
    batch = data.batch()
    shapes = tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())
    with torch.no_grad():
        model.eval()
        evaluated = model(batch.inputs, batch.mask)
        model.train()
        torch.manual_seed(1)
        trained = model(batch.inputs, batch.mask)
        loss = None
        if isinstance(model, TrainsItself):
            torch.manual_seed(1)
            loss = float(model.training_loss(batch.inputs, batch.target, batch.mask))
    return shapes, evaluated, trained, loss


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return (
        a[0] == b[0]
        and a[1].shape == b[1].shape
        and torch.equal(a[1], b[1])
        and torch.equal(a[2], b[2])
        and a[3] == b[3]
    )


def builder_params(name: str) -> dict[str, Any]:
    defaults = METHODS[name].space.defaults()
    return {k: v for k, v in defaults.items() if k not in CONTEXT_FIELDS}


def other_value(param: Float | Int | Choice) -> Any:
    """A value of ``param`` other than its default."""
    if isinstance(param, Choice):
        return next(o for o in param.options if o != param.default)
    if isinstance(param, Int):
        return param.default + 1 if param.default < param.high else param.default - 1
    return param.high if param.default != param.high else param.low


def test_every_method_has_a_space_with_lr_and_weight_decay() -> None:
    """Every gradient-trained method; a classical baseline ignores AdamW's settings, so its
    space holds only its own (gbdt's trees; none for linear, which chooses its penalty)."""
    for name, method in METHODS.items():
        if method.family == "classical":
            assert not {"lr", "weight_decay"} & set(method.space), name
            method.space.check(method.space.defaults())
            continue
        assert {"lr", "weight_decay"} <= set(method.space), name
        method.space.check(method.space.defaults())
        assert method.space.defaults()["lr"] == RunContext().lr
        assert method.space.defaults()["weight_decay"] == RunContext().weight_decay


def test_jobs_carry_their_methods_space(data: MultimodalDataset) -> None:
    jobs, _ = resolve_methods(["lmf", "unimodal"], data)
    assert [job.name for job in jobs] == ["lmf", "unimodal[a]", "unimodal[b]"]
    assert jobs[0].space == METHODS["lmf"].space and "rank" in jobs[0].space
    assert jobs[1].space == METHODS["unimodal"].space


@pytest.mark.parametrize("name", NEURAL)
def test_the_defaults_build_the_model_of_an_empty_context(
    name: str, data: MultimodalDataset
) -> None:
    if METHODS[name].applies and METHODS[name].applies(view(name, data)):  # type: ignore[misc]
        pytest.skip("does not apply to two vector modalities")
    empty = fingerprint(build(name, data, {}), data)
    assert same(empty, fingerprint(build(name, data, builder_params(name)), data))


@pytest.mark.parametrize("name", NEURAL)
def test_every_declared_setting_changes_the_model(name: str, data: MultimodalDataset) -> None:
    if METHODS[name].applies and METHODS[name].applies(view(name, data)):  # type: ignore[misc]
        pytest.skip("does not apply to two vector modalities")
    space = METHODS[name].space
    reference = fingerprint(build(name, data, builder_params(name)), data)
    for setting, param in space.items():
        if setting in CONTEXT_FIELDS:
            continue
        changed = {**builder_params(name), setting: other_value(param)}
        assert not same(reference, fingerprint(build(name, data, changed), data)), setting


def test_today_models_written_out(data: MultimodalDataset) -> None:
    """The builders with no params give the models the benchmark built before it had search
    spaces, constructed here in the same order."""
    dims = dict.fromkeys(data.modality_names, FEATURE_DIM)
    references = {
        "early": lambda: FusionClassifier(
            encoders(data), ConcatFusion(dims, FUSED_DIM), MLP(FUSED_DIM, data.output_dim)
        ),
        "lmf": lambda: FusionClassifier(
            encoders(data), LowRankFusion(dims, FUSED_DIM, rank=4), MLP(FUSED_DIM, 3)
        ),
        "unimodal": lambda: UnimodalClassifier(
            "a", encoders(data.select(["a"]))["a"], MLP(FEATURE_DIM, 3)
        ),
    }
    for name, make in references.items():
        seed_everything(0)
        expected = fingerprint(make(), data)
        assert same(expected, fingerprint(build(name, data, {}), data)), name


def test_builders_read_the_settings(data: MultimodalDataset) -> None:
    lmf = build("lmf", data, {"rank": 8, "width": 32})
    assert lmf.fusion.rank == 8 and lmf.fusion.input_dims == {"a": 32, "b": 32}
    ptp = build("ptp", data, {"rank": 6, "order": 3})
    assert (ptp.fusion.rank, ptp.fusion.order) == (6, 3)
    attention = build("attention", data, {"heads": 4, "model_dim": 32})
    assert (attention.fusion.num_heads, attention.fusion.model_dim) == (4, 32)
    early = build("early", data, {"dropout": 0.3})
    rates = {m.p for m in early.modules() if isinstance(m, nn.Dropout | Dropout)}
    assert rates == {0.3}
    mfm = build("mfm", data, {"reconstruction_weight": 2.0, "shared_dim": 16})
    assert mfm.reconstruction_weight == 2.0 and mfm.head.in_features == 16
    cca = build("coord-cca", data, {"dim": 2})
    assert cca.head.layers[0].in_features == 2 * 2


def test_a_yaml_override_of_a_registered_space() -> None:
    spaces = {name: method.space for name, method in METHODS.items()}
    result = override_spaces({"lmf": {"rank": [2, 8]}}, spaces)
    assert result["lmf"]["rank"] == Int(2, 8, 4, log=True)
    with pytest.raises(KeyError, match="lmf has no setting 'heads'; its settings are lr, "):
        override_spaces({"lmf": {"heads": [1, 2]}}, spaces)
