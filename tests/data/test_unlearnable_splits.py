"""A split whose validation or test part holds a class (or a multi-label column) that training
never shows is refused, with the counts per part, before a benchmark writes anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intermodal.bench import run_benchmark
from intermodal.cli import main
from intermodal.data import MultimodalDataset
from intermodal.data.splits import split_dataset, stratified_split


def frame_with_split(seed: int = 0) -> pd.DataFrame:
    """Three classes of 50; every sample of class 2 and 15 others marked test, the rest train."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 50)
    frame = pd.DataFrame({"target": y})
    values = rng.normal(size=(3, 4))[y] + rng.normal(size=(len(y), 4))
    for i in range(4):
        frame[f"a.{i}"] = values[:, i]
    split = np.where(y == 2, "test", "train")
    split[rng.choice(np.flatnonzero(y != 2), 15, replace=False)] = "test"
    frame["split"] = split
    return frame


def test_a_class_only_in_the_test_part_is_refused_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    frame_with_split().to_csv(data, index=False)
    out = tmp_path / "out"
    argv = ["bench", "--dataset", str(data), "--methods", "early", "--seeds", "1"]
    argv += ["--epochs", "2", "--jobs", "1", "--quiet", "--no-report", "--output", str(out)]
    capsys.readouterr()
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "intermodal bench: error: class 2 is in the validation or test part but in no training "
        "sample (class 2: 0 train, 0 validation, 50 test samples): a model cannot learn a class "
        "it never sees; mark some of its samples as train in the split column, or drop the "
        "class\n"
    )
    assert not out.exists()


def test_every_unseen_class_is_named_with_its_counts_and_a_given_validation_part_counts() -> None:
    y = np.array([0] * 6 + [1] * 6 + [2] * 3 + [3] * 4)
    split = ["train"] * 4 + ["test"] * 2 + ["train"] * 4 + ["val"] * 2 + ["val"] * 3
    split += ["test", "val", "test", "test"]
    data = MultimodalDataset(
        {"a": np.arange(len(y), dtype=float)[:, None]}, y, metadata={"split": np.array(split)}
    )
    counts = {
        c: {p: int(np.sum((y == c) & (np.array(split) == p))) for p in ("train", "val", "test")}
        for c in (2, 3)
    }
    with pytest.raises(ValueError) as error:
        split_dataset(data)
    message = str(error.value)
    assert message.startswith("classes 2, 3 are in the validation or test part but in no training")
    for c in (2, 3):
        assert (
            f"class {c}: {counts[c]['train']} train, {counts[c]['val']} validation, "
            f"{counts[c]['test']} test samples"
        ) in message


def test_a_class_absent_from_a_part_other_than_training_is_learnable() -> None:
    y = np.array([0] * 8 + [1] * 8 + [2] * 4)
    split = np.array(["train"] * 5 + ["test"] * 3 + ["train"] * 5 + ["test"] * 3 + ["train"] * 4)
    data = MultimodalDataset({"a": np.arange(20.0)[:, None]}, y, metadata={"split": split})
    parts = split_dataset(data, val_size=0.2)
    assert set(parts.train.targets.tolist()) == {0, 1, 2}
    assert 2 not in set(parts.test.targets.tolist())  # allowed: it is learned, just not tested


def multilabel(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 3)) < 0.5).astype(int)
    labels[:, 2] = 0
    return rng.normal(size=(n, 4)), labels


def test_a_label_never_positive_in_training_is_refused() -> None:
    x, labels = multilabel()
    split = np.array(["train"] * 30 + ["test"] * 10)
    labels[[33, 36], 2] = 1  # positive in the test part only
    data = MultimodalDataset({"a": x}, labels, metadata={"split": split}, task="multilabel")
    with pytest.raises(ValueError) as error:
        split_dataset(data)
    assert str(error.value).startswith(
        "label 2 is positive in the validation or test part but in no training sample (label 2: "
        "0 train, 0 validation, 2 test samples)"
    )
    labels[5, 2] = 1  # once in training: learnable
    ok = MultimodalDataset({"a": x}, labels, metadata={"split": split}, task="multilabel")
    assert split_dataset(ok).train.targets[:, 2].sum() >= 1


def test_a_drawn_multilabel_split_that_hides_a_label_from_training_names_the_seed() -> None:
    """A multi-label data set is split at random; a rare label can fall outside training for
    some seed. The benchmark draws every seed's split first, so it refuses before it writes."""
    x, labels = multilabel()
    labels[7, 2] = 1  # one sample has label 2
    data = MultimodalDataset({"a": x, "b": x[:, :2]}, labels, task="multilabel")
    seeds = {}
    for seed in range(40):
        parts = stratified_split(data, seed=seed)
        seeds.setdefault(bool(parts.train.targets[:, 2].sum()), seed)
    bad = seeds[False]
    with pytest.raises(ValueError, match=f"in the split drawn with seed {bad}; collect more"):
        split_dataset(data, seed=bad)
    split_dataset(data, seed=seeds[True])


def test_the_benchmark_refuses_an_unlearnable_seed_before_writing(tmp_path: Path) -> None:
    x, labels = multilabel()
    labels[7, 2] = 1
    data = MultimodalDataset({"a": x, "b": x[:, :2]}, labels, task="multilabel")
    bad = next(s for s in range(40) if not stratified_split(data, seed=s).train.targets[:, 2].sum())
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=f"seed {bad}"):
        run_benchmark(
            data, methods="early", seed=0, seeds=bad + 1, epochs=1, output=str(out), progress=False
        )
    assert not out.exists()
