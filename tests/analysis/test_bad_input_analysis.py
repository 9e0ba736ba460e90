"""Bad input to the analyses and to ``align``: clear errors that say what was wrong and what to
do, and the bench analyses keep the PID estimate within its own guidance on samples per cell."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from intermodal.analysis import (
    additive_projection,
    clusters_for,
    emap,
    emap_projection,
    interaction_types,
    pid,
)
from intermodal.bench.align import align
from intermodal.bench.analyses import (
    ANALYSES,
    AnalysisInput,
    AnalysisSettings,
    Skipped,
    describe,
)
from intermodal.cli import main
from intermodal.data import MultimodalDataset
from intermodal.encoders import MLP
from intermodal.errors import DataTypeError
from intermodal.fusion import NonlinearFusion
from intermodal.models import FusionClassifier
from tests.helpers import blobs


def features(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(n, 4)), rng.normal(size=(n, 3))
    return x1, x2, (x1[:, 0] > 0).astype(int) + 2 * (x2[:, 0] > 0)


# --- pid -----------------------------------------------------------------------------------------
def test_pid_refuses_a_continuous_target_and_says_to_discretize() -> None:
    x1, x2, _ = features()
    noise = np.random.default_rng(1).normal(size=len(x1))
    with pytest.raises(ValueError, match=r"continuous.*discretize"):
        pid(x1, x2, noise)
    # continuous values stored as integers, and few samples per value, are refused too
    for target in (np.round(50 * noise).astype(int), np.arange(len(x1)) % 41):
        with pytest.raises(ValueError, match=r"too many to be read as classes"):
            pid(x1, x2, target)


def test_pid_warns_when_its_table_has_fewer_than_ten_samples_per_cell() -> None:
    x1, x2, y = features()
    with pytest.warns(UserWarning, match=r"400 cells for 400 samples.*clusters_for\(400, 4\)"):
        pid(x1, x2, y, n_clusters=10)
    cells = clusters_for(400, 4)
    assert cells**2 * 4 * 10 <= 400 < (cells + 1) ** 2 * 4 * 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pid(x1, x2, y, n_clusters=cells)


def test_pid_reads_few_float_levels_and_text_labels_as_classes() -> None:
    x1, x2, y = features()
    expected = pid(x1, x2, y, n_clusters=3)
    assert pid(x1, x2, y + 0.5, n_clusters=3) == expected  # four float levels: classes
    assert pid(x1, x2, y.astype(float), n_clusters=3) == expected
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    assert pid(x1, x2, names, n_clusters=3) == expected
    assert pid(x1, x2, names.astype(object), n_clusters=3) == expected
    # a column of text categories as a modality: the same cells as its integer codes
    colour = np.array(["red", "green"])[(x1[:, 0] > 0).astype(int)]
    coded = pid((colour == "red").astype(int), x2, y, n_clusters=3)
    assert pid(colour, x2, y, n_clusters=3) == coded


def test_pid_refuses_empty_input_and_values_that_are_not_numbers() -> None:
    with pytest.raises(ValueError, match="empty"):
        pid(np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0, dtype=int))
    x1, x2, y = features(20)
    with pytest.raises(DataTypeError, match="x1"):
        pid(np.array(["a", 1.0] * 10, dtype=object), x2, y)  # text mixed with numbers
    with pytest.raises(ValueError, match="one label per sample"):
        pid(x1, x2, np.stack([y, y], axis=1))
    with pytest.raises(ValueError, match="n_clusters"):
        pid(x1, x2, y, n_clusters=0)


@pytest.mark.parametrize("name", ["x1", "x2", "y"])
def test_pid_names_the_argument_that_holds_nan(name: str) -> None:
    arrays = dict(zip(("x1", "x2", "y"), features(20), strict=True))
    arrays = {k: v.astype(float) for k, v in arrays.items()}
    arrays[name][3] = np.inf if name == "y" else np.nan
    with pytest.raises(ValueError, match=rf"^{name} holds NaN or infinite values.*row 3"):
        pid(**arrays)


# --- emap and interaction types ------------------------------------------------------------------
@pytest.mark.parametrize("to", [np.asarray, torch.as_tensor])
def test_emap_projection_refuses_nan_and_text(to) -> None:
    grid = np.random.default_rng(0).normal(size=(4, 4, 2))
    grid[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"grid holds NaN or infinite values \(1 of 32"):
        emap_projection(to(grid))
    with pytest.raises(ValueError, match="empty"):
        emap_projection(to(np.zeros((0, 0, 2))))
    with pytest.raises(DataTypeError, match="numbers"):
        emap_projection(np.array([["a", "b"], ["c", "d"]]))


def test_additive_projection_names_the_modality_with_nan_and_refuses_nan_outputs() -> None:
    inputs = {"a": torch.randn(5, 2), "b": torch.randn(5, 3)}
    inputs["b"][2, 1] = float("nan")
    with pytest.raises(ValueError, match="modality 'b' holds NaN"):
        additive_projection(lambda x: x["a"].sum(1, keepdim=True), inputs)
    inputs["b"][2, 1] = 0.0

    def diverged(x: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.full((len(x["a"]), 2), float("nan"))

    with pytest.raises(ValueError, match="outputs hold NaN or infinite"):
        additive_projection(diverged, inputs)


def nan_model(data: MultimodalDataset) -> FusionClassifier:
    encoders = {k: MLP(data.shapes[k][0], 4, (8,)) for k in data.modality_names}
    model = FusionClassifier(encoders, NonlinearFusion(dict.fromkeys(data.modality_names, 4), 3))
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    return model.eval()


def test_emap_of_a_model_with_nan_outputs_is_refused() -> None:
    data = blobs(n_per_class=4)
    with pytest.raises(ValueError, match="NaN or infinite"):
        emap(nan_model(data), data)


@pytest.mark.parametrize(("name", "value"), [("p1", np.nan), ("p2", np.inf), ("p12", np.nan)])
def test_interaction_types_names_the_probabilities_with_nan(name: str, value: float) -> None:
    p = dict.fromkeys(("p1", "p2", "p12"), np.full((6, 3), 1 / 3))
    p = {k: v.copy() for k, v in p.items()}
    p[name][4, 1] = value
    with pytest.raises(ValueError, match=rf"^{name} holds NaN or infinite values.*row 4"):
        interaction_types(**p)


def test_interaction_types_refuses_empty_input_text_and_a_target_of_another_length() -> None:
    p = np.full((6, 3), 1 / 3)
    with pytest.raises(ValueError, match="no samples"):
        interaction_types(p[:0], p[:0], p[:0])
    with pytest.raises(DataTypeError, match="p2"):
        interaction_types(p, p.astype(str), p)
    with pytest.raises(ValueError, match="target has 5 labels for 6 samples"):
        interaction_types(p, p, p, target=np.zeros(5, int))
    target = np.zeros(6)
    target[2] = np.nan
    with pytest.raises(ValueError, match=r"^target holds NaN or infinite values.*row 2"):
        interaction_types(p, p, p, target=target)


def test_bench_analyses_leave_out_a_model_whose_outputs_are_nan() -> None:
    data = blobs(n_per_class=5)
    inputs = AnalysisInput(data, data, {"broken": nan_model(data)}, {"broken": "fusion"}, {})
    result = ANALYSES["emap"].compute(inputs, AnalysisSettings())
    assert isinstance(result, Skipped) and "broken" in result.reason


# --- the number of PID cells in the bench analyses -----------------------------------------------
def test_clusters_for_leaves_the_samples_per_cell_it_promises() -> None:
    for n, classes, per_cell in [(300, 10, 10), (1000, 10, 10), (500, 3, 10), (99, 2, 5)]:
        k = clusters_for(n, classes, per_cell)
        assert k**2 * classes * per_cell <= n < (k + 1) ** 2 * classes * per_cell
    assert clusters_for(10**6, 2, 10, max_clusters=5) == 5
    with pytest.raises(ValueError, match="at least 1"):
        clusters_for(100, 0)


def pid_of(data: MultimodalDataset, settings: AnalysisSettings | None = None):
    inputs = AnalysisInput(data, data, {}, {}, {})
    return ANALYSES["pid"].compute(inputs, settings or AnalysisSettings())


def labelled(n: int, classes: int, seed: int = 0) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    a = y[:, None] + rng.normal(size=(n, 3))
    b = y[:, None] + rng.normal(size=(n, 2))
    return MultimodalDataset({"a": a, "b": b}, y, name="labelled")


def test_bench_pid_chooses_its_cells_from_the_samples() -> None:
    """300 samples of 10 classes cannot hold 5 x 5 x 10 = 250 cells (the default most cells):
    not even 2 x 2 x 10 cells leave 10 samples each, so the PID is not estimated."""
    small = pid_of(labelled(300, 10))
    assert isinstance(small, Skipped)
    assert "a / b (300 samples)" in small.reason
    assert "pid: not computed" in describe("pid", small)[0]

    data = labelled(500, 3)  # 4 x 4 x 3 cells leave 10 samples each, 5 x 5 x 3 would not
    table = pid_of(data)
    row = table.pairs[0]
    assert (row["clusters"], row["samples"]) == (4, 500)
    a, b = (data.modalities[k].numpy() for k in ("a", "b"))
    expected = pid(a, b, data.targets.numpy(), n_clusters=4, seed=0)
    assert {k: row[k] for k in expected.as_dict()} == expected.as_dict()
    assert "4 cells per modality, 500 samples" in describe("pid", table)[0]
    # a looser requirement allows more cells, up to the most the settings allow
    loose = pid_of(data, AnalysisSettings(pid_samples_per_cell=2))
    assert loose.pairs[0]["clusters"] == 5


def test_bench_pid_counts_only_the_samples_where_both_modalities_are_present() -> None:
    data = labelled(500, 3)
    present = torch.arange(500) < 200  # 200 samples with both: 2 x 2 x 3 cells of 16
    masked = MultimodalDataset(
        data.modalities, data.targets, masks={"a": present, "b": torch.ones(500, dtype=bool)}
    )
    row = pid_of(masked).pairs[0]
    assert (row["clusters"], row["samples"]) == (2, 200)


# --- align ---------------------------------------------------------------------------------------
def test_align_refuses_the_same_view_twice_and_lists_the_views() -> None:
    data = blobs(n_per_class=5)
    with pytest.raises(ValueError, match=r"two different views, got 'a' twice.*\['a', 'b'\]"):
        align(data, ["a", "a"], "cca")
    with pytest.raises(KeyError, match=r"unknown view 'c'; the views of blobs are \['a', 'b'\]"):
        align(data, ["a", "c"], "cca")


def test_align_command_reports_a_repeated_view_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["align", "--dataset", "synthetic-mixed", "--views", "x1", "x1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("intermodal align: error: ") and "\n" not in error
    assert "x1" in error and "twice" in error and "different views" in error
    assert main(["align", "--dataset", "synthetic-mixed", "--views", "x1", "x3"]) == 2
    assert "unknown view 'x3'; the views of synthetic-mixed are ['x1', 'x2']" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
