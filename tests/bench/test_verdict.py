"""The verdict ("does fusion help here?") and the reliability checklist: sentences for
constructed results, the paired test between two methods against references written here, and
the checklist, the small-test warning and the report from a real benchmark."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score
from torch import Tensor

from intermodal.bench import verdict
from intermodal.bench.significance import paired_difference, significance
from intermodal.cli import main
from intermodal.data import read_path, split_dataset
from intermodal.metrics import metric_info
from intermodal.tuning import Selection, TrialRecord, TuningResult

ACCURACY = metric_info("classification", "accuracy")
MAE = metric_info("regression", "mae")
MICRO_F1 = metric_info("multilabel", "micro_f1")
CLASSES = 4
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# --- constructed results -------------------------------------------------------------------------
def _logits(correct: np.ndarray, targets: Tensor) -> Tensor:
    """One-hot logits: the target where ``correct``, the next class elsewhere."""
    wrong = (targets + 1) % CLASSES
    predicted = torch.where(torch.from_numpy(correct), targets, wrong)
    return torch.nn.functional.one_hot(predicted, CLASSES).float()


def constructed(
    methods: dict[str, tuple[str, Any, float]],
    seeds: int = 3,
    n: int = 200,
    seed: int = 0,
    collapsed: dict[str, list[int]] | None = None,
) -> tuple[pd.DataFrame, dict[str, list[Tensor]], list[Tensor]]:
    """Runs, test outputs and targets of a classification benchmark built by hand.

    ``methods``: name -> (family, correctness, validation accuracy), the correctness either a
    rate (each test sample correct with that probability, independently per method) or
    ``(other, k)``: another (earlier) method's answers with k of its right answers made wrong
    and k of its wrong ones right (the same accuracy, a few different errors)."""
    rng = np.random.default_rng(seed)
    targets = [torch.from_numpy(rng.integers(0, CLASSES, size=n + s)) for s in range(seeds)]
    masks: dict[str, list[np.ndarray]] = {}
    for name, (_, correctness, _) in methods.items():
        if isinstance(correctness, tuple):
            base, flips = correctness
            masks[name] = []
            for mask in masks[base]:
                changed = mask.copy()
                changed[np.flatnonzero(mask)[:flips]] = False
                changed[np.flatnonzero(~mask)[:flips]] = True
                masks[name].append(changed)
        else:
            masks[name] = [rng.random(len(y)) < correctness for y in targets]
    outputs = {
        name: [_logits(m, y) for m, y in zip(masks[name], targets, strict=True)] for name in methods
    }
    rows = []
    for s in range(seeds):
        for name, (family, _, val) in methods.items():
            row = {
                "method": name,
                "family": family,
                "seed": s,
                "accuracy": accuracy_score(targets[s].numpy(), outputs[name][s].argmax(1).numpy()),
                "val_accuracy": val,
            }
            if collapsed is not None:
                row["collapsed"] = s in collapsed.get(name, [])
            rows.append(row)
    return pd.DataFrame(rows), outputs, targets


def said(
    methods: dict[str, tuple[str, Any, float]],
    modalities: tuple[str, ...] = ("a", "b"),
    **options: Any,
) -> tuple[list[str], dict[str, Any]]:
    runs, outputs, targets = constructed(methods, **options)
    record = verdict.decide(runs, outputs, targets, ACCURACY, modalities)
    return verdict.sentences(record), record


def test_fusion_helps() -> None:
    sentences, record = said(
        {
            "gmu": ("fusion", 0.95, 0.96),
            "unimodal[a]": ("unimodal", 0.70, 0.71),
            "unimodal[b]": ("unimodal", 0.60, 0.62),
            "linear[b]": ("classical", 0.65, 0.72),
            "linear": ("classical", 0.75, 0.74),
        }
    )
    chosen = record["chosen"]
    assert chosen["method"] == "gmu" and record["unimodal"]["method"] == "linear[b]"
    assert record["unimodal"]["among"] == ["unimodal[a]", "unimodal[b]", "linear[b]"]
    fusion, classical, selection = sentences
    assert fusion.startswith(
        f"Fusion helps: gmu (chosen on validation) scores {chosen['test']:.3f} "
        f"[{chosen['low']:.3f}, {chosen['high']:.3f}] on test, "
    )
    assert "above the best unimodal model (chosen on validation among unimodal[a]" in fusion
    assert "linear[b] at" in fusion and "p <= 0.002" in fusion
    assert classical.startswith("The classical baselines are beaten: the only classical baseline")
    assert selection.startswith("Selection: gmu, chosen on validation, also has the highest")


def test_fusion_does_not_help_where_the_unimodal_model_is_as_good() -> None:
    sentences, record = said(
        {
            "unimodal[a]": ("unimodal", 0.8, 0.80),
            "gmu": ("fusion", ("unimodal[a]", 3), 0.90),  # as accurate, other errors
            "linear": ("classical", 0.5, 0.6),
        }
    )
    assert sentences[0].startswith("Fusion does not help here: gmu (chosen on validation) scores")
    assert "not distinguishable from the only unimodal model, unimodal[a]" in sentences[0]
    assert record["unimodal"]["difference"]["p_value"] >= 0.05


def test_a_classical_baseline_is_as_good() -> None:
    sentences, _ = said(
        {
            "gmu": ("fusion", 0.9, 0.95),
            "linear": ("classical", ("gmu", 1), 0.93),
            "unimodal[a]": ("unimodal", 0.5, 0.5),
        }
    )
    assert sentences[1].startswith(
        "A classical baseline is as good: the only classical baseline on all modalities, linear, "
        "scores "
    )
    assert "not distinguishable from gmu (difference gmu - linear +" in sentences[1]


def test_the_chosen_method_reads_one_modality() -> None:
    sentences, record = said(
        {
            "unimodal[a]": ("unimodal", 0.95, 0.97),
            "gmu": ("fusion", 0.7, 0.9),
            "early": ("fusion", 0.6, 0.8),
            "gbdt": ("classical", 0.65, 0.7),
        }
    )
    assert record["multimodal"]["method"] == "gmu" and record["unimodal"] is None
    assert sentences[0].startswith(
        "Fusion does not help here: the model chosen on validation, unimodal[a], reads one "
        "modality (a) and scores "
    )
    assert (
        "above the best model that reads several (chosen on validation among gmu, early"
        in (sentences[0])
    )
    assert sentences[1].startswith("The classical baselines are beaten: the only classical")


def test_the_chosen_method_is_a_classical_baseline() -> None:
    sentences, record = said(
        {
            "gbdt": ("classical", 0.9, 0.95),
            "gmu": ("fusion", ("gbdt", 1), 0.9),
            "unimodal[a]": ("unimodal", 0.5, 0.5),
        }
    )
    assert record["neural"]["method"] == "gmu" and record["classical"] is None
    assert sentences[0].startswith(
        "Fusion helps: gbdt (chosen on validation; a classical baseline on all modalities) scores"
    )
    assert sentences[1].startswith(
        "A classical baseline is as good: gbdt (chosen on validation) is not distinguishable "
        "from the only neural model, gmu at "
    )


def test_without_unimodal_or_classical_models_it_says_what_is_missing() -> None:
    sentences, _ = said({"gmu": ("fusion", 0.9, 0.9), "early": ("fusion", 0.8, 0.8)})
    assert sentences[0].startswith("Whether fusion helps cannot be judged: no model that reads")
    assert (
        sentences[1]
        == "No classical baseline on all modalities ran (add linear or gbdt to --methods)."
    )
    runs, outputs, targets = constructed({"gmu": ("fusion", 0.9, 0.9)})
    record = verdict.decide(runs, outputs, targets, ACCURACY, ("a", "b"))
    skipped = [{"method": "gbdt", "reason": "LightGBM is not installed"}]
    assert "(gbdt: LightGBM is not installed)" in verdict.sentences(record, skipped)[1]
    one, _ = said({"gmu": ("fusion", 0.9, 0.9), "linear": ("classical", 0.8, 0.8)}, ("a",))
    assert one[0].startswith("There is nothing to fuse: the data set has one modality (a)")


def test_the_test_maximum_is_named_and_the_validation_choice_is_kept() -> None:
    sentences, record = said(
        {
            "gmu": ("fusion", 0.80, 0.95),
            "tfn": ("fusion", 0.97, 0.90),
            "unimodal[a]": ("unimodal", 0.6, 0.6),
        }
    )
    top = record["test_maximum"]
    assert top["method"] == "tfn" and top["of"] == 3 and record["chosen"]["method"] == "gmu"
    assert sentences[-1] == (
        f"Selection: the highest test accuracy, {top['test']:.3f} by tfn, is the best of 3 "
        "methods on the test part itself, so it is optimistic; the verdict uses the method "
        "chosen on validation, gmu."
    )


def test_ties_on_validation_are_said() -> None:
    sentences, record = said(
        {"late-mean": ("fusion", 0.9, 0.9), "gmu": ("fusion", 0.9, 0.9)}, ("a", "b")
    )
    assert record["chosen"]["method"] == "late-mean"
    assert record["chosen"]["tied_on_validation"] == ["gmu"]
    assert "late-mean is tied on validation with gmu (validation accuracy 0.900)" in sentences[2]


def test_collapsed_runs_are_not_counted() -> None:
    runs, outputs, targets = constructed(
        {
            "gmu": ("fusion", 0.9, 0.99),
            "early": ("fusion", 0.85, 0.9),
            "unimodal[a]": ("unimodal", 0.5, 0.5),
        },
        collapsed={"gmu": [1]},
    )
    record = verdict.decide(runs, outputs, targets, ACCURACY, ("a", "b"))
    assert record["chosen"]["method"] == "early"
    assert record["not_counted"][0]["method"] == "gmu"
    assert verdict.sentences(record)[-1].startswith("Not counted: gmu, collapsed")
    results = {"config": {"seeds": 3}, "runs": runs.to_dict(orient="records")}
    statistics = dict(verdict.checklist(results))["Statistics"]
    assert "1 collapsed run not counted" in statistics


def test_a_lower_is_better_metric() -> None:
    rng = np.random.default_rng(1)
    targets = [torch.from_numpy(rng.normal(size=150)) for _ in range(2)]
    spread = {"nonlinear": 0.2, "unimodal[x1]": 0.8, "unimodal[x2]": 0.9, "linear": 0.85}
    outputs = {
        name: [
            (y + torch.from_numpy(rng.normal(scale=scale, size=len(y)))).reshape(-1, 1)
            for y in targets
        ]
        for name, scale in spread.items()
    }
    rows = [
        {
            "method": name,
            "family": "fusion"
            if name == "nonlinear"
            else "classical"
            if name == "linear"
            else "unimodal",
            "seed": s,
            "mae": float((outputs[name][s].reshape(-1) - targets[s]).abs().mean()),
            "val_mae": spread[name],
        }
        for s in range(2)
        for name in spread
    ]
    record = verdict.decide(pd.DataFrame(rows), outputs, targets, MAE, ("x1", "x2"))
    fusion, classical, selection = verdict.sentences(record)
    assert record["unimodal"]["method"] == "unimodal[x1]"  # the lower validation error
    difference = record["unimodal"]["difference"]["estimate"]
    assert difference < 0
    assert fusion.startswith("Fusion helps: nonlinear (chosen on validation)")
    assert f"{-difference:.3f} lower (better) than the best unimodal model" in fusion
    assert "higher (worse) than nonlinear" in classical
    assert "also has the lowest test mae" in selection


def test_a_multilabel_benchmark() -> None:
    rng = np.random.default_rng(2)
    targets = [torch.from_numpy(rng.random((40, 3)) < 0.4).float() for _ in range(2)]

    def guess(rate: float) -> list[Tensor]:  # logits agreeing with each label at a rate
        return [
            torch.where(torch.from_numpy(rng.random(y.shape) < rate), y, 1 - y) * 4 - 2
            for y in targets
        ]

    outputs = {"gmu": guess(0.95), "unimodal[a]": guess(0.6), "linear": guess(0.6)}
    rows = [
        {
            "method": name,
            "family": {"gmu": "fusion", "linear": "classical"}.get(name, "unimodal"),
            "seed": s,
            "micro_f1": MICRO_F1.compute(outputs[name][s], targets[s]),
            "val_micro_f1": 0.9 if name == "gmu" else 0.5,
        }
        for s in range(2)
        for name in outputs
    ]
    record = verdict.decide(pd.DataFrame(rows), outputs, targets, MICRO_F1, ("a", "b"))
    assert verdict.sentences(record)[0].startswith("Fusion helps: gmu (chosen on validation)")
    reference = np.mean(
        [
            f1_score(y.numpy(), (a.numpy() >= 0), average="micro")
            - f1_score(y.numpy(), (b.numpy() >= 0), average="micro")
            for a, b, y in zip(outputs["gmu"], outputs["unimodal[a]"], targets, strict=True)
        ]
    )
    assert record["unimodal"]["difference"]["estimate"] == pytest.approx(reference, abs=1e-6)


# --- the paired test between two methods ---------------------------------------------------------
def _outputs(rng: np.random.Generator, targets: list[Tensor], rate: float) -> list[Tensor]:
    return [_logits(rng.random(len(y)) < rate, y) for y in targets]


def test_the_paired_bootstrap_equals_one_written_out() -> None:
    rng = np.random.default_rng(3)
    targets = [torch.from_numpy(rng.integers(0, CLASSES, size=n)) for n in (50, 61, 57)]
    a, b = _outputs(rng, targets, 0.8), _outputs(rng, targets, 0.7)
    found = paired_difference(a, b, targets, ACCURACY, replicates=500, seed=7)
    draw = np.random.default_rng(7)  # the same draws: one index matrix per seed, in seed order
    indices = [draw.integers(0, len(y), size=(500, len(y))) for y in targets]
    replicate = np.zeros(500)
    for out_a, out_b, y, index in zip(a, b, targets, indices, strict=True):
        right_a = (out_a.argmax(1) == y).numpy().astype(float)
        right_b = (out_b.argmax(1) == y).numpy().astype(float)
        replicate += np.array([right_a[i].mean() - right_b[i].mean() for i in index]) / 3
    tail = min(np.sum(replicate <= 0), np.sum(replicate >= 0))
    assert found.method == "bootstrap over test samples"
    assert found.low == pytest.approx(np.quantile(replicate, 0.025), abs=1e-12)
    assert found.high == pytest.approx(np.quantile(replicate, 0.975), abs=1e-12)
    assert found.p_value == pytest.approx(min(1.0, 2 * (tail + 1) / 501), abs=1e-12)
    scores = [
        accuracy_score(y, x.argmax(1)) - accuracy_score(y, z.argmax(1))
        for x, z, y in zip(a, b, targets, strict=True)
    ]
    assert found.estimate == pytest.approx(np.mean(scores), abs=1e-12)


def test_the_paired_t_test_over_five_seeds_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    targets = [torch.from_numpy(rng.integers(0, CLASSES, size=80)) for _ in range(5)]
    a, b = _outputs(rng, targets, 0.8), _outputs(rng, targets, 0.72)
    found = paired_difference(a, b, targets, ACCURACY)
    score_a = np.array([accuracy_score(y, x.argmax(1)) for x, y in zip(a, targets, strict=True)])
    score_b = np.array([accuracy_score(y, x.argmax(1)) for x, y in zip(b, targets, strict=True)])
    difference = score_a - score_b
    half = stats.t.ppf(0.975, df=4) * difference.std(ddof=1) / np.sqrt(5)
    assert found.method == "t over seeds"
    assert found.p_value == pytest.approx(stats.ttest_rel(score_a, score_b).pvalue, rel=1e-12)
    assert (found.low, found.high) == pytest.approx(
        (difference.mean() - half, difference.mean() + half), rel=1e-12
    )


def test_against_the_best_method_the_paired_p_is_p_vs_best() -> None:
    rng = np.random.default_rng(5)
    targets = [torch.from_numpy(rng.integers(0, CLASSES, size=60)) for _ in range(2)]
    outputs = {"a": _outputs(rng, targets, 0.9), "b": _outputs(rng, targets, 0.85)}
    outputs["c"] = _outputs(rng, targets, 0.6)
    tests = significance(outputs, targets, ACCURACY)
    assert tests.best == "a"
    for other in ("b", "c"):
        pair = paired_difference(outputs["a"], outputs[other], targets, ACCURACY)
        assert pair.p_value == tests.p_value[other]
    between = paired_difference(outputs["b"], outputs["c"], targets, ACCURACY)
    assert between.p_value != tests.p_value["c"]  # b against c is another question


def test_the_wilson_interval() -> None:
    for k, n in ((26, 26), (20, 26), (0, 18), (85, 99)):
        reference = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert verdict.wilson(k / n, n) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_the_tuning_record_fills_the_checklist() -> None:
    def trial(number: int, state: str, lr: float) -> TrialRecord:
        return TrialRecord(number, {"lr": lr}, (0.9,), 0.9, float("nan"), state, (5,), 1.0, 0, 0)

    tuned = TuningResult(
        {"lr": 0.01},
        {"lr": 0.001},
        (trial(0, "complete", 0.001), trial(1, "pruned", 0.1), trial(2, "complete", 0.01)),
        Selection(2, 2, 0.02, 0.005, 1.0, "trial 2 beats the defaults"),
        "accuracy",
        True,
        folds=5,
        budget=3,
        time_s=12.0,
    )
    kept = dataclasses.replace(tuned, params={"lr": 0.001}, selection=None)
    runs = [{"method": m, "family": "fusion", "seed": 0, "train_time_s": 1.0} for m in "gx"]
    results = {
        "config": {"seeds": 1},
        "runs": runs,
        "tuning": {"g": tuned.as_dict(), "x": kept.as_dict()},
    }
    items = dict(verdict.checklist(results))
    assert items["Tuning budget"] == (
        "equal budgets of 3 trials for 2 methods (trial 0 their defaults), scored on "
        "cross-validated over 5 folds; 6 trials, 2 pruned, 0 failed; 1 chose a setting other "
        "than the defaults (g; the leaderboard's params column)."
    )
    # under --cv each fold has its own record, counted under its method
    folds = {**results, "tuning": {"g__fold0": tuned.as_dict(), "g__fold1": kept.as_dict()}}
    items = dict(verdict.checklist(folds))
    assert "for 1 method " in items["Tuning budget"] and "untuned: x" in items["Tuning budget"]
    assert "tuning 24 s" in items["Compute"]
    untuned = dict(verdict.checklist({"config": {"seeds": 1}, "runs": runs}))
    assert untuned["Tuning budget"].startswith("untuned: every method at its default setting")


def test_cross_validation_replaces_the_small_test_warning() -> None:
    part = {"seed": 0, "train": 84, "val": 18, "test": 18, "test_incomplete": 0}
    protocol = {"samples": 120, "split": "a split", "parts": [part]}
    assert verdict.small_test({"chosen": None}, protocol).startswith("Small test part: each seed")
    assert verdict.small_test({"chosen": None}, protocol, folds=5) is None
    results = {"config": {"seeds": 1, "cv": 5}, "verdict": {"protocol": protocol}}
    splits = dict(verdict.checklist(results))["Seeds and splits"]
    assert splits.endswith("; 5-fold cross-validation, each sample tested once per seed.")
    runs = [{"method": "gmu", "seed": 0, "fold": k} for k in range(3)]
    assert verdict.cv_folds({"config": {}, "runs": runs}) == 3
    assert verdict.cv_folds({"config": {}, "runs": [{"method": "gmu", "seed": 0}]}) is None


def test_results_without_a_verdict_say_so() -> None:
    assert verdict.paragraphs({"config": {}})[0].startswith("No verdict recorded")


# --- a real benchmark ----------------------------------------------------------------------------
def write_blobs(path: Path, per_class: int = 40, seed: int = 0) -> Path:
    """A CSV of three classes with two vector modalities ``a`` (4 features) and ``b`` (3)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), per_class)
    frame = pd.DataFrame({"target": y})
    for name, width in (("a", 4), ("b", 3)):
        values = rng.normal(size=(3, width))[y] * 2 + rng.normal(size=(len(y), width))
        for i in range(width):
            frame[f"{name}.{i}"] = values[:, i]
    frame.to_csv(path, index=False)
    return path


BENCH = ["--methods", "early,unimodal,linear", "--seeds", "2", "--epochs", "3", "--jobs", "1"]
BENCH += ["--threads", "1", "--quiet", "--trials", "0"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One small benchmark (120 samples, so 18 test samples per seed): its data, results folder
    and what it printed."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("verdict")
    data = write_blobs(folder / "blobs.csv")
    out = folder / "results"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["bench", "--dataset", str(data), *BENCH, "--output", str(out)]) == 0
    return data, out, printed.getvalue()


def _section(summary: str, title: str) -> str:
    return summary.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_checklist_of_a_real_run(bench: tuple[Path, Path, str]) -> None:
    data, out, _ = bench
    dataset = read_path(data)
    sizes = {seed: [len(part) for part in split_dataset(dataset, seed=seed)] for seed in (0, 1)}
    assert sizes[0] == sizes[1]
    train, val, test = sizes[0]
    runs = pd.read_csv(out / "results.csv")
    summary = (out / "summary.md").read_text()
    items = dict(
        re.findall(r"^- \*\*(.+?)\*\*: (.*)$", _section(summary, "Reliability checklist"), re.M)
    )
    assert list(items) == list(verdict.CHECKLIST)
    assert items["Tuning budget"].startswith("untuned: every method at its default setting")
    assert items["Seeds and splits"] == (
        "2 seeds (0, 1), the same split for every method; a 70/15/15 train/validation/test split "
        f"stratified by class, drawn by each seed, of {len(dataset)} samples: train {train}, "
        f"validation {val}, test {test} samples per seed; one held-out test part per seed (no "
        "cross-validation)."
    )
    assert "bootstrap over test samples (1000 replicates" in items["Statistics"]
    assert "alpha 0.05" in items["Statistics"]
    assert f"{runs['method'].nunique()} methods on the leaderboard" in items["Statistics"]
    assert items["Statistics"].endswith(
        "no run collapsed (one class or constant output for every test sample)."
    )
    assert items["Missing modalities"].startswith(
        "the test part is complete (every modality present); no modality hidden in training "
        "(--train-missing 0); absent modalities: the zero strategy (--missing-strategy); analyses: "
        "every model's score on "
        "each subset of the modalities"
    )
    total = runs["train_time_s"].sum()
    assert (
        f"summed training time {verdict.format_seconds(total)} over {len(runs)} runs"
        in (items["Compute"])
    )
    assert "1 job x 1 thread per run, backend local, on CPU" in items["Compute"]
    assert items["Baselines"] == (
        "2 models that read one modality (unimodal[a], unimodal[b]); classical baselines on all "
        "modalities: linear; SimBaMM (the late-fusion Transformer baseline): not run."
    )


def test_the_verdict_of_a_real_run(bench: tuple[Path, Path, str]) -> None:
    _, out, printed = bench
    board = json.loads((out / "results.json").read_text())["leaderboard"]
    board = pd.DataFrame(board).set_index("method")
    runs = pd.read_csv(out / "results.csv")
    chosen = runs.groupby("method", sort=False)["val_accuracy"].mean().idxmax()
    summary = (out / "summary.md").read_text()
    question = _section(summary, "Does fusion help here?")
    row = board.loc[chosen]
    scored = f"{row['accuracy_mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] on test"
    kind = "; a classical baseline on all modalities" if chosen == "linear" else ""
    assert f"{chosen} (chosen on validation{kind}) scores {scored}" in question
    assert "Does fusion help here?" in printed and "Reliability checklist" in printed
    assert printed.index("Does fusion help here?") > printed.index("Leaderboard on blobs")


def test_a_small_test_part_is_said_everywhere(bench: tuple[Path, Path, str]) -> None:
    _, out, printed = bench
    summary = (out / "summary.md").read_text()
    page = html.unescape((out / "report.html").read_text())
    flat = " ".join(printed.split())
    for text in (summary, page, flat):
        assert "Small test part: each seed tests on 18 samples (fewer than 100)" in text
        assert (
            "Run with --cv K (e.g. --cv 5): K-fold cross-validation tests every sample (all 120 "
            "samples) once per seed" in text
        )
    assert re.search(
        r"has a 95% \(Wilson\) interval of \[0\.\d{3}, [01]\.\d{3}\] for one seed", summary
    )


def _paragraphs(page: str, section: str) -> list[str]:
    found = re.search(rf'<section id="{section}">(.*?)</section>', page, re.S)
    assert found is not None
    return [html.unescape(p) for p in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", found.group(1))]


def test_the_report_rebuilds_the_same_verdict(
    bench: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, out, _ = bench
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    before = (copy / "report.html").read_text()
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    page = (copy / "report.html").read_text()
    assert page == before
    summary = (copy / "summary.md").read_text()
    expected = [p for p in _section(summary, "Does fusion help here?").split("\n") if p]
    assert _paragraphs(page, "verdict") == expected
    items = re.findall(r"^- (.*)$", _section(summary, "Reliability checklist"), re.M)
    source, *listed = _paragraphs(page, "checklist")
    assert source.startswith('After Rheude, Eils & Wild, "Fusion or Confusion? Multimodal')
    shown = [re.sub(r"</?strong>", "**", item) for item in listed]
    assert shown == items
    assert (
        page.index('id="verdict"') < page.index('id="leaderboard"') < page.index('id="checklist"')
    )


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_the_report_shows_the_verdict_in_chromium(
    bench: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, out, _ = bench
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    summary = (out / "summary.md").read_text()
    first = _section(summary, "Does fusion help here?").strip().split("\n")[0]
    assert html.escape(first, quote=False) in dom
    assert "<h2>Does fusion help here?</h2>" in dom and "<h2>Reliability checklist</h2>" in dom
