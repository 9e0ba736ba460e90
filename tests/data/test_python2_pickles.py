"""Pickles written by Python 2 (latin-1 byte strings, NumPy arrays) load in every pickle
reader, still only with ``trust_pickle``, and give the data and the benchmark numbers of the
same data pickled by Python 3. The Python 2 files are written opcode by opcode as Python 2
writes them (see ``tests/data/python2_pickle.py``)."""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.cli import main
from intermodal.data import (
    MultimodalDataset,
    read_affect_pickle,
    read_mimic,
    read_path,
    read_sentiment_utterances,
)
from intermodal.data.readers import _load_pickle
from intermodal.metrics import METRICS
from tests.data.python2_pickle import python2_pickle

pytestmark = pytest.mark.usefixtures("cwd")  # an empty working directory that must stay empty


def as_python2(value: Any) -> Any:
    """``value`` as Python 2 held it: every ``str`` a Python 2 ``str`` (bytes, latin-1)."""
    if isinstance(value, str):
        return value.encode("latin-1")
    if isinstance(value, dict):
        return {as_python2(k): as_python2(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_python2(v) for v in value]
    return value


def twins(folder: Path, name: str, data: dict[str, Any]) -> tuple[Path, Path]:
    """``data`` pickled by Python 2 (``NAME-py2.pkl``) and by Python 3 (``NAME-py3.pkl``)."""
    py2, py3 = folder / f"{name}-py2.pkl", folder / f"{name}-py3.pkl"
    py2.write_bytes(python2_pickle(as_python2(data)))
    py3.write_bytes(pickle.dumps(data))
    return py2, py3


def utterances(seed: int = 0, videos: tuple[int, int] = (24, 10), slots: int = 8) -> dict:
    """Utterance-level sentiment features in the format of Poria et al.'s CMU-MOSI files (see
    ``read_sentiment_utterances``): float64 features whose means follow the polarity, padding
    slots, one-hot labels; plus the speakers' names, latin-1 text as those files' metadata."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for split, count in zip(("train", "test"), videos, strict=True):
        mask = (rng.random((count, slots)) < 0.8).astype(np.float64)
        mask[:, 0] = 1.0
        positive = rng.integers(0, 2, (count, slots))
        sign = (2 * positive - 1)[..., None]
        for modality, size, strength in (("text", 6, 1.5), ("audio", 4, 0.7), ("video", 5, 0.3)):
            values = rng.normal(size=(count, slots, size)) + strength * sign
            data[f"{modality}_{split}"] = values * mask[..., None]
        data[f"{split}_mask"] = mask
        data[f"{split}_label"] = np.eye(2)[positive] * mask[..., None]
    data["speakers"] = ["José", "Zoë", "Ågot"]
    return data


def same(a: MultimodalDataset, b: MultimodalDataset) -> None:
    assert a.modality_names == b.modality_names and a.task == b.task
    for m in a.modality_names:
        assert torch.equal(a.modalities[m], b.modalities[m])
        assert torch.equal(a.masks[m], b.masks[m])
    assert torch.equal(a.targets, b.targets)
    assert sorted(a.metadata) == sorted(b.metadata)
    for key, column in a.metadata.items():
        assert np.array_equal(column, b.metadata[key])


def test_the_fixture_is_what_python_2_writes_and_plain_python_3_cannot_read(
    tmp_path: Path,
) -> None:
    py2, py3 = twins(tmp_path, "mosi", utterances())
    raw = py2.read_bytes()
    opcodes = [op.name for op, _, _ in pickletools.genops(raw)]
    assert raw[:2] == b"\x80\x02" and {"SHORT_BINSTRING", "BINSTRING"} <= set(opcodes)
    assert "BINUNICODE" not in opcodes and "BINBYTES" not in opcodes  # Python 2's str only
    globals_ = [arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"]
    assert globals_[:2] == ["numpy.core.multiarray _reconstruct", "numpy ndarray"]
    assert "numpy dtype" in globals_
    # the failure seen on the real file: Python 3's default reads Python 2 str as ASCII
    with pytest.raises(UnicodeDecodeError, match="'ascii' codec can't decode byte"):
        pickle.loads(raw)
    loaded = _load_pickle(py2, trust_pickle=True)
    expected = _load_pickle(py3, trust_pickle=True)
    assert sorted(loaded) == sorted(expected) and all(isinstance(k, str) for k in loaded)
    assert loaded["speakers"] == ["José", "Zoë", "Ågot"]  # latin-1 text comes back as str
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype and np.array_equal(loaded[key], value)
    with pytest.raises(PermissionError, match="trust_pickle"):
        _load_pickle(py2, trust_pickle=False)


def test_bytes_keys_of_a_file_pickled_again_are_read_as_text(tmp_path: Path) -> None:
    """A file loaded with ``encoding="bytes"`` and pickled again has bytes keys."""
    data = utterances(1)
    path = tmp_path / "again.pkl"
    path.write_bytes(pickle.dumps(as_python2(data)))
    same(
        read_sentiment_utterances(path, trust_pickle=True),
        read_path(twins(tmp_path, "u", data)[1], True),
    )


def test_every_pickle_reader_reads_python_2_files_as_their_python_3_twins(
    tmp_path: Path,
) -> None:
    py2, py3 = twins(tmp_path, "mosi", utterances())
    same(read_sentiment_utterances(py2, True), read_sentiment_utterances(py3, True))
    same(read_path(py2, True), read_path(py3, True))

    rng = np.random.default_rng(2)
    affect = {}
    for split in ("train", "valid", "test"):
        score = rng.uniform(-3, 3, size=(12, 1, 1))
        affect[split] = {
            "vision": rng.normal(size=(12, 5, 4)),
            "audio": rng.normal(size=(12, 5, 3)) + np.sign(score),
            "text": rng.normal(size=(12, 5, 6)).astype(np.float32),
            "labels": score,
        }
    affect["train"]["vision"][0, 0, 0] = np.inf
    py2, py3 = twins(tmp_path, "affect", affect)
    for task in ("binary", "regression"):
        same(read_affect_pickle(py2, True, task), read_affect_pickle(py3, True, task))

    mimic = {
        "adm_features_all": rng.normal(size=(30, 5)),
        "ep_tdata": rng.normal(size=(30, 288)).astype(np.float32),
        "adm_labels_all": rng.integers(0, 6, size=(30, 4)),
        "y_icd9": rng.integers(0, 2, size=(30, 20)).astype(np.int8),
    }
    py2, py3 = twins(tmp_path, "mimic", mimic)
    same(read_mimic(py2, True), read_mimic(py3, True))
    same(read_mimic(py2, True, "phenotypes"), read_mimic(py3, True, "phenotypes"))
    same(read_path(py2, True, "multilabel"), read_path(py3, True, "multilabel"))
    for reader in (read_sentiment_utterances, read_affect_pickle, read_mimic, read_path):
        with pytest.raises(PermissionError, match="trust_pickle"):
            reader(py2)


def test_a_python_2_file_benchmarks_to_the_numbers_of_its_python_3_twin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    py2, py3 = twins(tmp_path, "mosi", utterances())
    argv = ["bench", "--trust-pickle", "--methods", "early,unimodal", "--seeds", "1"]
    argv += ["--epochs", "3", "--jobs", "1", "--no-report", "--quiet"]
    runs = {}
    for path in (py2, py3):
        out = tmp_path / f"results-{path.stem}"
        assert main([*argv, "--dataset", str(path), "--output", str(out)]) == 0
        runs[path] = pd.read_csv(out / "results.csv")
    columns = ["method", *METRICS["classification"], "parameters", "epochs", "best_epoch"]
    assert len(runs[py2]) == 4  # early and one unimodal model per modality
    pd.testing.assert_frame_equal(runs[py2][columns], runs[py3][columns])
    capsys.readouterr()
    assert main([*argv[:1], *argv[2:], "--dataset", str(py2)]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
