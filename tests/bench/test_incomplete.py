"""Every analysis on test data with absent modalities: each works on the samples it says it
used (checked against the metric computed directly on those samples), or is skipped with the
reason, and a benchmark of such a CSV completes with a report that states the counts."""

from __future__ import annotations

import html
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.analysis import corrupt, emap, emap_projection, interaction_types, pid
from intermodal.analysis.profile import probe_accuracy, profile
from intermodal.analysis.robustness import robustness_curve
from intermodal.bench.analyses import (
    ANALYSES,
    AnalysisInput,
    AnalysisSettings,
    PidTable,
    Skipped,
    compute_interaction_types,
    compute_missing_rate,
    compute_pid,
    compute_robustness,
    compute_subsets,
    run_analyses,
    samples_used,
    to_json,
)
from intermodal.cli import main
from intermodal.data import MultimodalDataset, load_mfeat
from intermodal.data.splits import holdout_split
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier, UnimodalClassifier

pytestmark = pytest.mark.usefixtures("cwd")  # an empty working directory that must stay empty


def with_patterns(
    modalities: dict[str, np.ndarray], y: np.ndarray, patterns: np.ndarray
) -> MultimodalDataset:
    """A data set whose sample i has the modalities ``patterns[i]`` (bool per modality, in
    sorted name order) present; absent values are zero-filled."""
    names = sorted(modalities)
    masks = {m: patterns[:, i] for i, m in enumerate(names)}
    values = {m: np.where(masks[m][:, None], modalities[m], 0.0) for m in names}
    return MultimodalDataset(values, y, masks=masks, name="incomplete")


def incomplete(n: int = 240, sizes: tuple[int, ...] = (5, 3), seed: int = 0) -> MultimodalDataset:
    """Modalities ``a``, ``b``, ... whose class means differ (3 classes); each sample has a
    random non-empty pattern of present modalities, a third or so complete."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    names = "abcdefghijklmnop"[: len(sizes)]
    modalities = {
        m: rng.normal(size=(3, d))[y] * 2 + rng.normal(size=(n, d))
        for m, d in zip(names, sizes, strict=True)
    }
    every = [p for p in itertools.product([False, True], repeat=len(sizes)) if any(p)]
    complete = rng.random(n) < 1 / 3
    drawn = np.array(every[:-1])[rng.integers(0, len(every) - 1, n)]
    patterns = np.where(complete[:, None], True, drawn)
    return with_patterns(modalities, y, patterns)


def fusion_model(data: MultimodalDataset, seed: int = 0) -> FusionClassifier:
    torch.manual_seed(seed)
    encoders = {m: MLP(data.shapes[m][0], 4) for m in data.modality_names}
    fusion = ConcatFusion(dict.fromkeys(data.modality_names, 4), 3)
    return FusionClassifier(encoders, fusion).eval()


def unimodal_model(data: MultimodalDataset, modality: str, seed: int = 0) -> UnimodalClassifier:
    torch.manual_seed(seed)
    return UnimodalClassifier(modality, MLP(data.shapes[modality][0], 4), MLP(4, 3)).eval()


def accuracy(
    model: torch.nn.Module, data: MultimodalDataset, rows: np.ndarray, masks: dict[str, np.ndarray]
) -> float:
    """Accuracy of ``model`` called directly on ``rows`` of ``data`` with the presence
    ``masks`` (one bool per row)."""
    inputs = {m: data.modalities[m][rows] for m in data.modality_names}
    mask = {m: torch.as_tensor(masks[m]) for m in data.modality_names}
    with torch.no_grad():
        predicted = model(inputs, mask).argmax(1).numpy()
    return float(np.mean(predicted == data.targets.numpy()[rows]))


def present(data: MultimodalDataset) -> np.ndarray:
    """``(N, M)`` bool, sorted modality order."""
    return np.stack([data.masks[m].numpy() for m in data.modality_names], axis=1)


# --- the hiding corruptions ----------------------------------------------------------------------
def test_missing_never_hides_the_last_present_modality_and_keeps_absent_ones_absent() -> None:
    data = incomplete(600, sizes=(4, 3, 2))
    before = present(data)
    for i, m in enumerate(data.modality_names):
        others = np.delete(before, i, axis=1).any(axis=1)
        everywhere = corrupt(data, m, "missing", 1.0, seed=1)
        after = present(everywhere)
        # at level 1 the modality is hidden wherever another modality is present, nowhere else
        assert np.array_equal(after[:, i], before[:, i] & ~others)
        assert np.array_equal(np.delete(after, i, axis=1), np.delete(before, i, axis=1))
        half = present(corrupt(data, m, "missing", 0.5, seed=1))
        assert not (half[:, i] & ~before[:, i]).any()  # an absent modality stays absent
        assert half[:, i][before[:, i] & ~others].all()  # the only present one stays
        hidden = before[:, i] & ~half[:, i]
        assert 0.4 < hidden.sum() / (before[:, i] & others).sum() < 0.6
        # noise and dropout change the modality only where it is present
        for corruption in ("noise", "dropout"):
            values = corrupt(data, m, corruption, 1.0, seed=2).modalities[m].numpy()
            original = data.modalities[m].numpy()
            assert np.array_equal(values[~before[:, i]], original[~before[:, i]])
            assert not np.array_equal(values[before[:, i]], original[before[:, i]])


def test_robustness_curves_say_where_each_modality_was_present_and_hideable() -> None:
    data = incomplete(300)
    model = fusion_model(data)
    curve = robustness_curve(model, data, "a", "missing", levels=[0.0, 1.0], seed=0)
    mask_a, mask_b = data.masks["a"].numpy(), data.masks["b"].numpy()
    assert curve.attrs["present"] == mask_a.sum() and curve.attrs["samples"] == len(data)
    assert curve.attrs["hideable"] == (mask_a & mask_b).sum()
    assert curve["absent"].tolist() == pytest.approx(
        [1 - mask_a.mean(), 1 - (mask_a & ~mask_b).mean()]
    )
    # at level 1, a is left only where it is the only modality: the model on those masks
    rows = np.arange(len(data))
    expected = accuracy(model, data, rows, {"a": mask_a & ~mask_b, "b": mask_b})
    assert curve["score"].iloc[1] == pytest.approx(expected)
    inputs = AnalysisInput(data, data, {"m": model}, {"m": "fusion"}, {"m": 0.0})
    result = compute_robustness(inputs, AnalysisSettings())
    assert result is not None and result.samples == len(data)
    by_modality = {(r["modality"], r["corruption"]): r for r in result.curves}
    assert by_modality["b", "missing"]["present"] == mask_b.sum()
    assert by_modality["b", "noise"]["hideable"] == (mask_a & mask_b).sum()


# --- the subset table ----------------------------------------------------------------------------
def test_the_subset_table_scores_each_subset_on_the_samples_it_says_it_used() -> None:
    data = incomplete(300, sizes=(4, 3, 2))
    model = fusion_model(data)
    inputs = AnalysisInput(data, data, {"m": model}, {"m": "fusion"}, {"m": 0.0})
    table = compute_subsets(inputs, AnalysisSettings())
    assert table is not None and table.test_samples == len(data)
    masks = {m: data.masks[m].numpy() for m in data.modality_names}
    for i, subset in enumerate(table.subsets):
        kept = subset.split(" + ")
        rows = np.flatnonzero(np.any([masks[m] for m in kept], axis=0))
        assert table.samples[i] == len(rows)
        shown = {m: masks[m][rows] if m in kept else np.zeros(len(rows), bool) for m in masks}
        assert table.scores["m"][i] == pytest.approx(accuracy(model, data, rows, shown))
    assert table.samples[-1] == len(data)  # the full set: every sample as it is


@pytest.mark.parametrize("complete", [False, True])
def test_a_model_of_some_modalities_scores_each_subset_as_if_called_directly(
    complete: bool,
) -> None:
    # the table computes each distinct (modalities of the model, samples) once: its scores
    # must equal the model called directly on each subset's samples with its masks
    data = incomplete(300, sizes=(4, 3, 2))
    if complete:
        data = data.with_masks(dict.fromkeys(data.modality_names, torch.ones(300, dtype=bool)))
    model = unimodal_model(data, "b")
    inputs = AnalysisInput(data, data, {"u": model}, {"u": "unimodal"}, {"u": 0.0})
    table = compute_subsets(inputs, AnalysisSettings())
    assert table is not None
    masks = {m: data.masks[m].numpy() for m in data.modality_names}
    for i, subset in enumerate(table.subsets):
        kept = subset.split(" + ")
        if "b" not in kept:
            assert table.scores["u"][i] is None
            continue
        rows = np.flatnonzero(np.any([masks[m] for m in kept], axis=0))
        shown = {m: masks[m][rows] if m in kept else np.zeros(len(rows), bool) for m in masks}
        assert table.scores["u"][i] == pytest.approx(accuracy(model, data, rows, shown))


def test_outputs_keeping_a_subset_equal_the_model_on_the_kept_data_set() -> None:
    from intermodal.bench.analyses import outputs_keeping
    from intermodal.data.missing import keep_only
    from intermodal.metrics import predict_outputs

    data = incomplete(300, sizes=(4, 3, 2))
    model = fusion_model(data)
    for subset in [("a",), ("b", "c"), ("a", "b", "c")]:
        view = keep_only(data, subset)
        outputs, targets = outputs_keeping(model, data, subset, batch_size=64)
        torch.testing.assert_close(outputs, predict_outputs(model, view), rtol=0, atol=0)
        assert torch.equal(targets, view.targets)


# --- EMAP ----------------------------------------------------------------------------------------
def test_emap_on_incomplete_data_scores_the_complete_samples_against_a_direct_grid() -> None:
    data = incomplete(150)
    model = fusion_model(data)
    complete = np.flatnonzero(data.masks["a"].numpy() & data.masks["b"].numpy())
    found = emap(model, data)
    assert found.samples == len(complete) and found.left_out == len(data) - len(complete)
    # reference: the N x N grid of the model on the complete samples, projected by hand
    with torch.no_grad():
        a = model.encoders["a"](data.modalities["a"][complete])
        b = model.encoders["b"](data.modalities["b"][complete])
        grid = torch.stack(
            [model.classify({"a": a[i].expand(len(b), -1), "b": b}) for i in range(len(a))]
        )
    y = data.targets.numpy()[complete]
    projected = emap_projection(grid.numpy()).argmax(1)
    assert found.emap_score == pytest.approx(float(np.mean(projected == y)))
    assert found.model_score == pytest.approx(
        float(np.mean(grid.diagonal().T.argmax(1).numpy() == y))
    )
    one = np.arange(len(data)) % 2 == 0  # each sample has exactly one of the two
    split = data.with_masks({"a": torch.as_tensor(one), "b": torch.as_tensor(~one)})
    with pytest.raises(ValueError, match=r"none of the 150 samples.*complete samples"):
        emap(model, split)


# --- interaction types ---------------------------------------------------------------------------
def test_interaction_types_use_the_samples_with_both_modalities_present() -> None:
    data = incomplete(300)
    models = {
        "fused": fusion_model(data),
        "unimodal[a]": unimodal_model(data, "a", 1),
        "unimodal[b]": unimodal_model(data, "b", 2),
    }
    families = {"fused": "fusion", "unimodal[a]": "unimodal", "unimodal[b]": "unimodal"}
    scores = {"fused": 0.9, "unimodal[a]": 0.8, "unimodal[b]": 0.7}
    inputs = AnalysisInput(data, data, models, families, scores)
    result = compute_interaction_types(inputs, AnalysisSettings())
    assert not isinstance(result, Skipped) and result is not None
    rows = np.flatnonzero(data.masks["a"].numpy() & data.masks["b"].numpy())
    assert result.samples == len(rows) and result.test_samples == len(data)
    full = {m: np.ones(len(rows), bool) for m in data.modality_names}
    with torch.no_grad():
        inputs_ = {m: data.modalities[m][rows] for m in data.modality_names}
        p = [
            torch.softmax(models[k](inputs_, {m: torch.as_tensor(v) for m, v in full.items()}), 1)
            for k in ("unimodal[a]", "unimodal[b]", "fused")
        ]
    expected = interaction_types(*(q.numpy() for q in p), data.targets.numpy()[rows])
    for row, reference in zip(result.summary, expected.summary.to_dict("records"), strict=True):
        assert row["count"] == reference["count"]
        # examples are positions in the test split: complete samples, mapped back
        assert row["examples"] == [int(rows[i]) for i in reference["examples"]]


# --- missing-rate curves and PID -----------------------------------------------------------------
def test_missing_rate_curves_and_pid_state_their_samples() -> None:
    data = incomplete(400)
    model = fusion_model(data)
    inputs = AnalysisInput(data, data, {"m": model}, {"m": "fusion"}, {"m": 0.0})
    settings = AnalysisSettings(missing_rates=(0.0, 0.5))
    curves = compute_missing_rate(inputs, settings)
    assert curves is not None
    mask = present(data)
    assert curves.incomplete == int((~mask.all(axis=1)).sum()) and curves.test_samples == 400
    assert curves.absent_fraction[0] == pytest.approx(float((~mask).mean()))
    assert curves.absent_fraction[1] > curves.absent_fraction[0]
    masks = {m: data.masks[m].numpy() for m in data.modality_names}
    assert curves.scores["m"][0] == pytest.approx(accuracy(model, data, np.arange(400), masks))
    table = compute_pid(inputs, AnalysisSettings())
    assert isinstance(table, PidTable) and table.data_samples == 400
    both = mask.all(axis=1)
    (row,) = table.pairs
    assert row["samples"] == both.sum()
    x = {m: data.modalities[m].numpy()[both] for m in data.modality_names}
    reference = pid(x["a"], x["b"], data.targets.numpy()[both], n_clusters=row["clusters"])
    assert row["synergy"] == pytest.approx(reference.synergy)
    assert f"a / b {both.sum()}" in samples_used({"pid": table})["pid"]


def test_analyses_without_any_complete_sample_are_skipped_with_the_reason() -> None:
    data = incomplete(240)
    one = np.random.default_rng(3).integers(0, 2, len(data)).astype(bool)
    split = data.with_masks({"a": torch.as_tensor(one), "b": torch.as_tensor(~one)})
    models = {
        "fused": fusion_model(data),
        "unimodal[a]": unimodal_model(data, "a"),
        "unimodal[b]": unimodal_model(data, "b"),
    }
    families = {"fused": "fusion", "unimodal[a]": "unimodal", "unimodal[b]": "unimodal"}
    inputs = AnalysisInput(data, split, models, families, dict.fromkeys(models, 0.5))
    results = run_analyses(inputs, AnalysisSettings(missing_rates=(0.0, 0.5)))
    assert isinstance(results["emap"], Skipped) and "0 of the 240" in results["emap"].reason
    assert isinstance(results["interaction_types"], Skipped)
    assert "no test sample" in results["interaction_types"].reason
    for name in ("robustness", "missing_subsets", "missing_rate"):
        assert not isinstance(results[name], Skipped), name
    document = json.loads(json.dumps(to_json(results, AnalysisSettings())))
    assert document["emap"] == {"skipped": results["emap"].reason}


def test_the_profile_probes_each_modality_on_the_samples_where_it_is_present() -> None:
    data = incomplete(300)
    found = profile(data, seed=0).modalities.set_index("modality")
    for m in data.modality_names:
        rows = data.masks[m].nonzero().flatten()
        train, test = holdout_split(data.subset(rows), size=0.3, seed=0)
        expected = probe_accuracy(
            train.modalities[m], train.targets, test.modalities[m], test.targets
        )
        assert found.loc[m, "probe_accuracy"] == pytest.approx(expected)


# --- end to end ----------------------------------------------------------------------------------
def write_incomplete_mfeat(path: Path, n: int = 600, seed: int = 0) -> pd.DataFrame:
    """mfeat's fou and pix views as a CSV (``fou.0`` .. ``fou.75``, ``pix.0`` .. ``pix.239``,
    ``target``, ``split``) of ``n`` random digits: the training rows complete; in two thirds of
    the test rows one of the two modalities blanked (all its cells empty), never both."""
    data = load_mfeat(["fou", "pix"])
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(data), n, replace=False))
    columns = {
        f"{m}.{j}": data.modalities[m].numpy()[rows, j]
        for m in ("fou", "pix")
        for j in range(data.shapes[m][0])
    }
    frame = pd.DataFrame(columns)
    frame["target"] = np.asarray(data.classes)[data.targets.numpy()[rows]]
    frame["split"] = np.where(rng.random(n) < 0.75, "train", "test")
    test = np.flatnonzero(frame["split"] == "test")
    blanked = rng.choice(test, round(len(test) * 2 / 3), replace=False)
    for m, part in zip(("fou", "pix"), np.array_split(rng.permutation(blanked), 2), strict=True):
        frame.loc[part, [c for c in frame if c.startswith(f"{m}.")]] = np.nan
    frame.to_csv(path, index=False)
    return frame


def test_a_benchmark_of_incomplete_test_rows_reports_the_samples_of_each_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "incomplete.csv"
    frame = write_incomplete_mfeat(csv)
    test = frame[frame["split"] == "test"]
    has = {m: test[f"{m}.0"].notna().to_numpy() for m in ("fou", "pix")}
    n_test, complete = len(test), int((has["fou"] & has["pix"]).sum())
    assert complete < n_test
    out = tmp_path / "results"
    code = main(
        [
            "bench",
            *("--dataset", str(csv), "--methods", "early,late-mean,unimodal"),
            *("--missing-strategy", "zero", "--seeds", "1", "--epochs", "2", "--jobs", "1"),
            *("--output", str(out), "--quiet"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "results.csv").is_file() and (out / "report.html").is_file()
    analysis = json.loads((out / "analysis.json").read_text())
    assert set(ANALYSES) <= set(analysis)
    assert not [name for name in ANALYSES if "skipped" in analysis[name]]
    used = analysis["samples"]
    assert used["emap"] == (
        f"EMAP on the {complete} test samples with every modality present (of {n_test})"
    )
    assert analysis["emap"]["models"]["early"]["samples"] == complete
    assert analysis["interaction_types"]["samples"] == complete
    subsets = analysis["missing_subsets"]
    assert subsets["subsets"] == ["fou", "pix", "fou + pix"]
    assert subsets["samples"] == [int(has["fou"].sum()), int(has["pix"].sum()), n_test]
    assert analysis["missing_rate"]["incomplete"] == n_test - complete
    assert analysis["pid"]["pairs"][0]["samples"] == len(frame) - (n_test - complete)
    curves = {(r["modality"], r["corruption"]): r for r in analysis["robustness"]["curves"]}
    assert curves["fou", "missing"]["present"] == has["fou"].sum()
    assert curves["fou", "missing"]["hideable"] == complete
    page = (out / "report.html").read_text()
    for sentence in used.values():
        assert html.escape(sentence) in page
    # diagnose prints and writes the same statements
    written = tmp_path / "diagnosis.json"
    argv = ["diagnose", "--dataset", str(csv), "--epochs", "2", "--jobs", "1", "--quiet"]
    assert main([*argv, "--output", str(written)]) == 0
    printed = capsys.readouterr().out
    assert f"EMAP on the {complete} test samples with every modality present" in printed
    assert f"interaction types on the {complete} test samples" in printed
    diagnosis = json.loads(written.read_text())
    assert diagnosis["samples"]["emap"] == used["emap"]
    assert (
        "pid_of_predictions" in diagnosis["samples"]
        or "skipped" in (diagnosis["pid_of_predictions"])
    )
