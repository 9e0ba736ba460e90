"""K-fold cross-validation as the benchmark's protocol (``intermodal bench --cv K``): the folds
(a partition, stratified, of whole groups, an inner validation part apart from the test fold),
the corrected resampled t-test against its closed form, a small benchmark with its runs, its
leaderboard and its verdict checked against formulas written here, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import stats

from intermodal.bench import crossval, verdict
from intermodal.bench.config import BenchConfig, load_grid
from intermodal.bench.results import ResultsFolder
from intermodal.bench.runner import run_benchmark
from intermodal.bench.significance import (
    CORRECTED,
    corrected_t,
    paired_difference,
    significance,
)
from intermodal.cli import main
from intermodal.data import MultimodalDataset, load_mfeat
from intermodal.metrics import metric_info
from intermodal.tuning.folds import cv_splits
from tests.bench.test_bad_input_bench import error_of, started_runs, tree

ACCURACY = metric_info("classification", "accuracy")


def labelled(counts: list[int], seed: int = 0, groups: int | None = None) -> MultimodalDataset:
    """Two vector modalities with class c repeated ``counts[c]`` times, a ``row`` column
    holding each sample's position, and optionally ``groups`` groups."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    metadata: dict[str, np.ndarray] = {"row": np.arange(len(y))}
    if groups is not None:
        metadata["group"] = rng.integers(0, groups, size=len(y)).astype(str)
    return MultimodalDataset(
        {"a": rng.normal(size=(len(y), 3)) + y[:, None], "b": rng.normal(size=(len(y), 2))},
        y,
        metadata=metadata,
    )


def rows(part: MultimodalDataset) -> set[int]:
    return {int(r) for r in part.metadata["row"]}


# --- the folds -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
def test_folds_partition_the_samples_and_are_stratified(seed: int) -> None:
    counts = [31, 20, 13]
    data = labelled(counts)
    k = 4
    splits = [crossval.fold_split(data, k, seed, fold) for fold in range(k)]
    tested = [rows(s.test) for s in splits]
    assert sorted(r for part in tested for r in part) == list(range(len(data)))  # once each
    y = data.targets.numpy()
    for c, count in enumerate(counts):
        per_fold = [int((s.test.targets.numpy() == c).sum()) for s in splits]
        assert sum(per_fold) == count and max(per_fold) - min(per_fold) <= 1
    for split in splits:
        train, val, test = (rows(p) for p in split)
        assert not (val & test) and not (train & test) and not (train & val)
        assert train | val | test == set(range(len(data)))
        assert 0.15 < len(val) / (len(train) + len(val)) < 0.25
        # the inner validation part is stratified too: every class in it
        assert set(split.val.targets.tolist()) == set(np.unique(y))


def test_the_folds_are_those_of_the_tuning_folds_and_each_seed_shuffles_them() -> None:
    data = labelled([20, 16])
    reference = cv_splits(data, 3, seed=5, standardized=False)
    for fold, expected in enumerate(reference):
        got = crossval.fold_split(data, 3, 5, fold)
        for part, other in zip(got, expected, strict=True):
            assert rows(part) == rows(other)
    first = [rows(crossval.fold_split(data, 3, 0, f).test) for f in range(3)]
    second = [rows(crossval.fold_split(data, 3, 1, f).test) for f in range(3)]
    assert first != second
    assert crossval.replicates([0, 1], 3) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert crossval.replicates([4], None) == [(4, None)]
    with pytest.raises(ValueError, match="fold 3 is not one of the 3 folds"):
        crossval.fold_split(data, 3, 0, 3)


def test_folds_respect_groups() -> None:
    data = labelled([40, 40], groups=12)
    groups = np.asarray(data.metadata["group"])

    def of(part: MultimodalDataset) -> set[str]:
        return {str(g) for g in np.asarray(part.metadata["group"])}

    splits = [crossval.fold_split(data, 4, 0, fold) for fold in range(4)]
    held = [of(s.test) for s in splits]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not held[i] & held[j]  # a group is held out by one fold only
    assert set().union(*held) == set(groups)
    for split in splits:
        train, val, test = (of(p) for p in split)
        assert not (train & val) and not (train & test) and not (val & test)


def test_the_correction_ratio_is_n_test_over_n_train() -> None:
    data = labelled([25, 17, 11], groups=9)
    for k in (2, 3, 5):
        sizes = [crossval.fold_split(data, k, 0, f) for f in range(k)]
        tested = np.mean([len(s.test) for s in sizes])
        trained = np.mean([len(s.train) + len(s.val) for s in sizes])
        assert crossval.correction_ratio(k) == pytest.approx(tested / trained)


# --- the corrected resampled t-test --------------------------------------------------------------
def test_the_corrected_t_test_equals_its_closed_form() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.02, 0.03, size=15)  # 5 folds x 3 seeds
    ratio = 1 / 4
    found = corrected_t(values, ratio)
    j = len(values)
    variance = (1 / j + ratio) * np.sum((values - values.mean()) ** 2) / (j - 1)
    statistic = values.mean() / np.sqrt(variance)
    assert found.variance == pytest.approx(variance)
    assert found.p_value == pytest.approx(2 * (1 - stats.t.cdf(abs(statistic), j - 1)))
    half = stats.t.ppf(0.975, j - 1) * np.sqrt(variance)
    assert (found.low, found.high) == pytest.approx((values.mean() - half, values.mean() + half))
    # more cautious than the plain paired t-test, which ignores the overlap of training sets
    assert found.p_value > stats.ttest_1samp(values, 0.0).pvalue
    same = corrected_t(np.full(6, 0.01), 0.5)
    assert (same.low, same.high, same.p_value) == (0.01, 0.01, 0.0)
    with pytest.raises(ValueError, match="at least 2 replicates"):
        corrected_t([0.1], 0.5)


def _one_hot(correct: np.ndarray, targets: torch.Tensor) -> torch.Tensor:
    predicted = torch.where(torch.from_numpy(correct), targets, (targets + 1) % 3)
    return torch.nn.functional.one_hot(predicted, 3).float()


def test_significance_and_the_paired_difference_use_it_under_cross_validation() -> None:
    rng = np.random.default_rng(1)
    targets = [torch.from_numpy(rng.integers(0, 3, size=40 + r % 2)) for r in range(6)]
    outputs = {
        name: [_one_hot(rng.random(len(y)) < rate, y) for y in targets]
        for name, rate in (("a", 0.9), ("b", 0.75), ("c", 0.88))
    }
    scores = {
        name: np.array(
            [float((o.argmax(1) == y).double().mean()) for o, y in zip(runs, targets, strict=True)]
        )
        for name, runs in outputs.items()
    }
    ratio = crossval.correction_ratio(3)  # 3 folds x 2 seeds
    tests = significance(outputs, targets, ACCURACY, test_train_ratio=ratio)
    assert tests.method == CORRECTED
    best = max(scores, key=lambda n: scores[n].mean())
    assert tests.best == best
    quantile = stats.t.ppf(0.975, 5)
    for name, values in scores.items():
        half = quantile * np.sqrt((1 / 6 + ratio) * values.var(ddof=1))
        assert tests.low[name] == pytest.approx(values.mean() - half)
        assert tests.high[name] == pytest.approx(values.mean() + half)
        if name == best:
            assert tests.p_value[name] == 1.0
            continue
        d = scores[best] - values
        t = d.mean() / np.sqrt((1 / 6 + ratio) * d.var(ddof=1))
        assert tests.p_value[name] == pytest.approx(2 * stats.t.sf(abs(t), 5))
        assert tests.tied[name] == (tests.p_value[name] >= 0.05)
    difference = paired_difference(
        outputs["a"], outputs["b"], targets, ACCURACY, test_train_ratio=ratio
    )
    d = scores["a"] - scores["b"]
    t = d.mean() / np.sqrt((1 / 6 + ratio) * d.var(ddof=1))
    assert difference.method == CORRECTED
    assert difference.estimate == pytest.approx(d.mean())
    assert difference.p_value == pytest.approx(2 * stats.t.sf(abs(t), 5))


# --- a small benchmark ---------------------------------------------------------------------------
MFEAT_VIEWS = ("fou", "kar", "pix")


def write_mfeat_subsample(path: Path, per_class: int = 15) -> Path:
    """A CSV of ``per_class`` samples of each digit of UCI Multiple Features (3 views)."""
    data = load_mfeat(list(MFEAT_VIEWS))
    rng = np.random.default_rng(0)
    y = data.targets.numpy()
    keep = np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)]
        )
    )
    columns = {"target": y[keep]}
    for view in MFEAT_VIEWS:
        values = data.modalities[view].numpy()[keep]
        columns.update({f"{view}.{i}": values[:, i] for i in range(values.shape[1])})
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


BENCH = ["--methods", "early,linear", "--seeds", "2", "--epochs", "3", "--jobs", "1"]
BENCH += ["--threads", "1", "--quiet", "--no-report"]


@pytest.fixture(scope="module")
def cv_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cv")
    csv = write_mfeat_subsample(root / "digits.csv")
    out = root / "results"
    assert main(["bench", "--dataset", str(csv), *BENCH, "--cv", "3", "--output", str(out)]) == 0
    return csv, out


def test_a_cross_validated_benchmark(cv_bench: tuple[Path, Path]) -> None:
    _, out = cv_bench
    runs = pd.read_csv(out / "results.csv")
    assert len(runs) == 2 * 3 * 2  # methods x folds x seeds
    assert list(runs.columns[:4]) == ["method", "family", "seed", "fold"]
    assert sorted(runs.groupby(["seed", "fold"]).size().tolist()) == [2] * 6
    for row in runs.itertuples():
        assert (out / "runs" / f"{row.method}__seed{row.seed}__fold{row.fold}.json").is_file()
    assert sorted(p.name for p in (out / "models").iterdir()) == ["early", "linear"]
    document = json.loads((out / "results.json").read_text())
    assert document["config"]["cv"] == 3 and document["config"]["intervals"] == CORRECTED
    board = pd.DataFrame(document["leaderboard"]).set_index("method")
    quantile, ratio = stats.t.ppf(0.975, 5), 1 / 2
    for method, group in runs.groupby("method"):
        values = group["accuracy"].to_numpy()
        half = quantile * np.sqrt((1 / 6 + ratio) * values.var(ddof=1))
        row = board.loc[method]
        assert (row["seeds"], row["folds"]) == (2, 3)
        assert row["accuracy_mean"] == pytest.approx(values.mean())
        assert row["accuracy_std"] == pytest.approx(values.std(ddof=1))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(
            (values.mean() - half, values.mean() + half)
        )
    # the verdict's paired test: the corrected t on the per-(seed, fold) differences
    comparison = document["verdict"]["comparison"]
    assert comparison["paired_test"] == CORRECTED
    assert (comparison["seeds"], comparison["folds"]) == (2, 3)
    chosen = comparison["chosen"]["method"]
    role = "neural" if chosen == "linear" else "classical"
    other = comparison[role]
    scores = runs.pivot_table(index=["seed", "fold"], columns="method", values="accuracy")
    d = (scores[chosen] - scores[other["method"]]).to_numpy()
    t = d.mean() / np.sqrt((1 / 6 + ratio) * d.var(ddof=1)) if d.var() else np.inf
    assert other["difference"]["method"] == CORRECTED
    assert other["difference"]["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 5))
    protocol = document["verdict"]["protocol"]
    assert [(p["seed"], p["fold"]) for p in protocol["parts"]] == crossval.replicates([0, 1], 3)
    assert {p["test"] for p in protocol["parts"]} == {50}
    summary = (out / "summary.md").read_text()
    assert "the held-out folds of 3-fold cross-validation" in summary
    assert (
        "2 seeds (0, 1), the same folds for every method; 3 folds of all samples stratified by "
        "class, drawn by each seed: each fold tested once, and trained on the others less an inner "
        "validation part (20%) that stops training early, of 150 samples: train 80, validation "
        "20, test 50 samples per fold; 3-fold cross-validation, each sample tested once per seed."
    ) in summary
    assert "corrected resampled t-test of Nadeau & Bengio (2003) over the 3 folds x 2" in summary
    assert "Small test part" not in summary  # 150 samples tested per seed, pooled over folds
    assert "per-sample analyses use the first seed's models of its first fold" in summary
    assert "over 6 runs, folds x seeds)" in summary


def test_a_resume_keeps_the_folds_and_refuses_another_cv(
    cv_bench: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    csv, saved = cv_bench
    out = tmp_path / "results"
    shutil.copytree(saved, out)
    started = started_runs(monkeypatch)
    argv = ["bench", "--dataset", str(csv), *BENCH, "--output", str(out), "--resume"]
    before = (out / "runs" / "early__seed1__fold2.json").read_bytes()
    capsys.readouterr()
    assert main([*argv, "--cv", "4"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cv: 3 saved, 4 now" in error
    assert main(argv) == 2 and "cv: 3 saved, unset now" in capsys.readouterr().err
    assert main([*argv, "--cv", "3"]) == 0 and started == []  # every run is saved
    assert (out / "runs" / "early__seed1__fold2.json").read_bytes() == before


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.usefixtures("cwd")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "needs 2 folds or more, got '1'"),
        ("0", "needs 2 folds or more, got '0'"),
        ("x", "must be a number of folds, got 'x'"),
    ],
)
def test_too_few_folds_are_a_one_line_error(
    value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    with pytest.raises(SystemExit) as stop:
        main(["bench", "--dataset", "synthetic-mixed", "--cv", value, "--output", str(out)])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and message in error
    assert not out.exists()


@pytest.mark.usefixtures("cwd")
def test_more_folds_than_the_smallest_class_is_a_one_line_error(
    cv_bench: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, saved = cv_bench
    out = tmp_path / "new"
    error = error_of(
        ["bench", "--dataset", str(csv), *BENCH, "--cv", "16", "--output", str(out)], capsys
    )
    assert "has only 15 samples, fewer than the 16 folds" in error and "--cv 15 or fewer" in error
    assert not out.exists()
    # a results folder that --overwrite would replace is left as found
    before = tree(saved)
    argv = ["bench", "--dataset", str(csv), *BENCH, "--output", str(saved), "--overwrite"]
    assert main([*argv, "--cv", "16"]) == 2
    assert tree(saved) == before


def test_more_folds_than_groups_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data = labelled([30, 30], groups=3)
    out = tmp_path / "results"
    with pytest.raises(ValueError, match=r"3 groups .* fewer than the 4 folds.*--cv 3 or fewer"):
        run_benchmark(data, methods="early", seeds=1, epochs=1, cv=4, output=str(out))
    assert not out.exists()
    folder = ResultsFolder(tmp_path / "open")
    with pytest.raises(ValueError, match="fewer than the 4 folds"):
        run_benchmark(data, folder=folder, methods="early", seeds=1, epochs=1, cv=4)
    folder.close()
    assert not (tmp_path / "open").exists()


def test_the_setting_from_python_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cv must be 2 folds or more, got 1"):
        BenchConfig(cv=1)
    with pytest.raises(ValueError, match="cv must be an integer or empty"):
        BenchConfig(cv=True)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"cv": 5, "seeds": 2}))
    (config,) = load_grid(grid, BenchConfig())
    assert config.cv == 5 and config.run_settings()["cv"] == 5
    grid.write_text(yaml.safe_dump({"cv": 0}))
    with pytest.raises(ValueError, match=r"grid\.yaml: cv must be 2 folds or more, got 0"):
        load_grid(grid, BenchConfig())


def test_the_small_data_note_reflects_the_pooled_folds() -> None:
    part = {"seed": 0, "fold": 0, "train": 51, "val": 13, "test": 16, "test_incomplete": 0}
    chosen = {"method": "gmu", "test": 0.8, "low": 0.7, "high": 0.9}
    record = {"chosen": chosen, "metric": "accuracy", "seeds": 3}
    protocol = {"samples": 80, "split": "folds", "parts": [part]}
    note = verdict.small_test(record, protocol, folds=5)
    assert note is not None and note.startswith(
        "Small data: pooled over the 5 folds, each seed tests every sample once, all 80 of them "
        "(fewer than 100)"
    )
    low, high = verdict.wilson(0.8, 80)
    assert f"[{low:.3f}, {high:.3f}]" in note and "--cv" not in note
    assert "corrected interval over the 5 folds x 3 seeds here is 0.200 wide" in note
    assert verdict.small_test(record, {**protocol, "samples": 150}, folds=5) is None
    # without folds, 16 samples per test part would ask for --cv
    plain = verdict.small_test(record, {**protocol, "parts": [part]})
    assert plain is not None and "--cv K" in plain


def test_each_fold_tunes_on_its_own_training_part(tmp_path: Path) -> None:
    """Tuning under --cv is nested: every fold tunes its method on its own training part, and
    the seeds of a fold train with that fold's choice."""
    data = labelled([20, 20, 20])
    out = tmp_path / "results"
    result = run_benchmark(
        data,
        methods="early",
        seeds=2,
        cv=2,
        trials=2,
        epochs=3,
        jobs=1,
        threads=1,
        progress=False,
        report=False,
        output=str(out),
    )
    assert sorted(result.tuning) == ["early__fold0", "early__fold1"]
    for fold in (0, 1):
        record = result.tuning[f"early__fold{fold}"]
        assert len(record["trials"]) == 2
        chosen = result.runs.loc[result.runs["fold"] == fold, "params"]
        assert chosen.nunique() == 1  # both seeds of the fold train the fold's choice
        saved = json.loads((out / "tuning" / f"early__fold{fold}.json").read_text())
        assert saved["params"] == record["params"]
    assert len(result.runs) == 4 and sorted(set(result.runs["fold"])) == [0, 1]
