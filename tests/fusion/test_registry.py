"""Adding a fusion method is its own file plus one registration line: this test is that change.

``MaxFusion`` below is what such a file holds, and the fixture applies the one line; the
benchmark, the architecture search, the speed benchmark and the save format pick the new fusion
up from the one list of fusions.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from intermodal.bench import METHODS, run_benchmark, unregister_method
from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import FUSIONS, register_fusion, unregister_fusion
from intermodal.saving import load_model, register_module, save_model
from intermodal.search import FusionSearch, search_space
from tests.helpers import blobs


@register_module
class MaxFusion(Fusion):
    """``z = max_m W_m x_m``; an absent modality is left out of the maximum."""

    absent = "left out of the maximum"

    def __init__(self, input_dims: Mapping[str, int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        tensors = self.check(features)
        present = self.presence(mask, tensors[0]).bool()
        projected = torch.stack(
            [self.projections[k](x) for k, x in zip(self.input_dims, tensors, strict=True)]
        )
        return projected.masked_fill(~present.unsqueeze(-1), -torch.inf).amax(dim=0)


@pytest.fixture
def max_fusion() -> Iterator[type[Fusion]]:
    """The registration line (in a fusion's file it decorates the class, above
    ``@register_module``); undone after the test so that tests stay independent."""
    register_fusion("test-max", "element-wise maximum of per-modality projections")(MaxFusion)
    yield MaxFusion
    unregister_fusion("test-max")
    unregister_method("test-max")


def test_a_registered_fusion_reaches_the_bench_the_search_and_saving(
    max_fusion: type[Fusion], tmp_path: Path
) -> None:
    assert FUSIONS["test-max"].cls is max_fusion
    assert METHODS["test-max"].family == "fusion"
    assert "test-max" in search_space()
    result = run_benchmark(
        blobs(), methods="test-max,early", seeds=1, epochs=3, progress=False, report=False
    )
    assert set(result.runs["method"]) == {"test-max", "early"}
    model = result.models["test-max"]
    save_model(model, tmp_path / "model")
    x = {"a": torch.randn(4, 5), "b": torch.randn(4, 3)}
    torch.testing.assert_close(load_model(tmp_path / "model")(x), model.eval()(x))
    search = FusionSearch(fusions=["test-max"], depths=(0,), trials=1)
    assert search.candidates(["a", "b"]) == [{"fusion": "test-max", "depths": {"a": 0, "b": 0}}]


def test_the_speed_benchmark_lists_the_registered_fusions(max_fusion: type[Fusion]) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fusion_speed.py"
    spec = importlib.util.spec_from_file_location("fusion_speed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "test-max" in module.layers() and "tfn" in module.layers()


def test_a_name_is_registered_once(max_fusion: type[Fusion]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_fusion("test-max", "again")(max_fusion)
