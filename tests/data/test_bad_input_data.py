"""Bad data sets and data files are refused with a message that says what is wrong and what to
do, and nothing is trained or written."""

from __future__ import annotations

import hashlib
import os
import pickle
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch

from intermodal.cli import main
from intermodal.data import MultimodalDataset, from_csv, from_parquet, fsdd, split_dataset
from intermodal.data.mat import read_mat
from intermodal.data.readers import read_mimic, read_path


def _nothing_written(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


# --- a single class ----------------------------------------------------------------------------


def test_a_single_class_is_refused_with_the_count_and_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"all 6 targets are class 3; use data with") as caught:
        MultimodalDataset({"a": np.zeros((6, 2))}, np.full(6, 3))
    assert "task='regression'" in str(caught.value)


def test_a_single_class_csv_fails_in_the_command_line(tmp_path: Path, capsys) -> None:
    rows = pd.DataFrame({"a.x": np.arange(8.0), "b.y": np.arange(8.0), "target": np.zeros(8, int)})
    rows.to_csv(tmp_path / "one.csv", index=False)
    out = tmp_path / "results"
    assert main(["bench", "--dataset", str(tmp_path / "one.csv"), "--output", str(out)]) == 2
    assert "all 8 targets are class 0" in capsys.readouterr().err
    assert _nothing_written(out)


def test_a_given_split_whose_training_part_has_one_class_is_refused() -> None:
    targets = np.array([0, 0, 0, 0, 1, 1])
    split = np.array(["train"] * 4 + ["test"] * 2)
    data = MultimodalDataset({"a": np.zeros((6, 2))}, targets, metadata={"split": split})
    with pytest.raises(ValueError, match=r"training part holds only class 0 \(4 samples\)"):
        split_dataset(data)


# --- modalities without values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "kind", "named"),
    [
        ((5, 0), None, "D = 0 features"),
        ((5, 0), "audio", "T = 0 time steps"),
        ((5, 0, 3), None, "T = 0 time steps"),
        ((5, 4, 0), None, "D = 0 features"),
        ((5, 1, 0, 3), None, "H = 0 rows"),
        ((5, 0, 8, 8), None, "C = 0 channels"),
    ],
)
def test_a_modality_with_zero_size_samples_is_refused(shape, kind, named) -> None:
    kinds = {"empty": kind} if kind else None
    with pytest.raises(ValueError, match=rf"modality 'empty' has per-sample shape .*{named}"):
        MultimodalDataset(
            {"empty": np.zeros(shape), "ok": np.ones((5, 2))}, np.arange(5) % 2, kinds=kinds
        )


def test_a_text_tensor_without_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"modality 'caption' .* L = 0 bytes"):
        MultimodalDataset(
            {"caption": torch.zeros((4, 0), dtype=torch.uint8)},
            [0, 1, 0, 1],
            kinds={"caption": "text"},
        )


# --- float labels ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", [None, "classification"])
@pytest.mark.parametrize("label", [1e30, -1e30, 2.0**60])
def test_a_huge_float_label_is_refused_not_wrapped_around(task, label) -> None:
    targets = np.array([0.0, 1.0, 0.0, label, 1.0])
    with pytest.raises(ValueError, match=r"at most 2\*\*53.*row 3 holds") as caught:
        MultimodalDataset({"a": np.zeros((5, 2))}, targets, task=task)
    assert f"{label!r}" in str(caught.value) and "task='regression'" in str(caught.value)


def test_a_uint64_label_beyond_int64_is_refused() -> None:
    targets = np.array([0, 1, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"row 2 holds 18446744073709551615"):
        MultimodalDataset({"a": np.zeros((3, 2))}, targets)


def test_large_exact_labels_and_fractions_keep_their_meaning() -> None:
    exact = MultimodalDataset({"a": np.zeros((3, 2))}, np.array([0.0, 2.0**53, 0.0]))
    assert exact.task == "classification" and exact.classes == [0, 2**53]
    fractional = np.array([0.0, 1.5, 1.0])
    assert MultimodalDataset({"a": np.zeros((3, 2))}, fractional).task == "regression"
    with pytest.raises(ValueError, match=r"integer class labels, got values such as \[1\.5\]"):
        MultimodalDataset({"a": np.zeros((3, 2))}, fractional, task="classification")


def test_readers_refuse_huge_float_labels_instead_of_casting(tmp_path: Path) -> None:
    labels = np.array([1.0, 2.0, 1.0, 1e30])
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.ones((4, 2))
    scipy.io.savemat(tmp_path / "views.mat", {"X": cell, "y": labels[:, None]})
    with pytest.raises(ValueError, match=r"labels y in .*views\.mat hold 1e\+30, beyond 2\*\*53"):
        read_mat(tmp_path / "views.mat")
    mimic = {
        "ep_tdata": np.zeros((4, 24 * 2)),
        "adm_features_all": np.zeros((4, 5)),
        "adm_labels_all": np.column_stack([np.zeros(4), labels]),
        "y_icd9": np.zeros((4, 20), dtype=np.int64),
    }
    (tmp_path / "im.pk").write_bytes(pickle.dumps(mimic))
    with pytest.raises(ValueError, match=r"row 3 holds 1e\+30"):
        read_mimic(tmp_path / "im.pk", trust_pickle=True)


# --- kinds and per-sample shapes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shape", "expected", "actual", "fix"),
    [
        ("sequence", (4, 3), "(T, D)", "(3,)", "values[:, None, :]"),
        ("vector", (4, 2, 3), "(D,)", "(2, 3)", "declare it kind 'sequence'"),
        ("image", (4, 3), "(C, H, W)", "(3,)", "declare it kind 'vector'"),
        ("image", (4, 5, 6), "(C, H, W)", "(5, 6)", "values[:, None] adds one channel"),
        ("audio", (4, 1, 2, 3), "(T,) or (C, T)", "(1, 2, 3)", "declare it kind 'image'"),
        ("sequence", (4, 1, 2, 3), "(T, D)", "(1, 2, 3)", "reshape it to (N, T, D)"),
    ],
)
def test_a_kind_mismatch_names_kind_expected_and_actual_shape(
    kind, shape, expected, actual, fix
) -> None:
    with pytest.raises(ValueError) as caught:
        MultimodalDataset({"m": np.zeros(shape)}, [0, 1, 0, 1], kinds={"m": kind})
    message = str(caught.value)
    assert f"modality 'm' is of kind '{kind}', whose samples have shape {expected}" in message
    assert f"its per-sample shape is {actual}" in message and fix in message


def test_numbers_declared_as_text_are_refused() -> None:
    with pytest.raises(ValueError) as caught:
        MultimodalDataset({"m": np.zeros((4, 3))}, [0, 1, 0, 1], kinds={"m": "text"})
    message = str(caught.value)
    assert "kind 'text'" in message and "per-sample shape (3,)" in message
    assert "declare it kind 'vector'" in message
    with pytest.raises(ValueError, match=r"got a torch.float32 tensor of shape \(4, 3\)"):
        MultimodalDataset({"m": torch.zeros(4, 3)}, [0, 1, 0, 1], kinds={"m": "text"})


# --- files that are empty or of another format -------------------------------------------------


def _bench(path: Path, tmp_path: Path, capsys) -> str:
    """Run the benchmark on ``path``: it must fail with exit code 2, write nothing and leave
    the file as it was; returns the error message."""
    before = path.read_bytes()
    out = tmp_path / "results"
    assert main(["bench", "--dataset", str(path), "--output", str(out), "--epochs", "1"]) == 2
    assert path.read_bytes() == before and _nothing_written(out)
    return capsys.readouterr().err


def test_an_empty_csv_names_the_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv is empty: it has no header line"):
        from_csv(path)
    assert "empty.csv is empty" in _bench(path, tmp_path, capsys)


def test_a_header_only_csv_names_the_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a.x,b.y,target\n")
    with pytest.raises(ValueError, match=r"header\.csv has a header \(3 columns\) but no rows"):
        from_csv(path)
    assert "header.csv has a header (3 columns) but no rows" in _bench(path, tmp_path, capsys)


def test_a_pickle_named_csv_names_the_file_and_the_format(tmp_path: Path, capsys) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
    with pytest.raises(ValueError, match=r"table\.csv cannot be read as a CSV text file"):
        from_csv(path)
    assert "looks like a pickle" in _bench(path, tmp_path, capsys)


def test_a_binary_csv_without_a_known_signature_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes([0xFF, 0xFE, 0x81, 0x00]) * 10)
    with pytest.raises(ValueError, match=r"noise\.csv .*save it as a UTF-8 CSV file"):
        from_csv(path)


def test_a_missing_csv_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv does not exist"):
        from_csv(tmp_path / "nope.csv")


def test_parquet_files_that_are_empty_or_pickles_name_the_file(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.parquet is empty \(0 bytes\)"):
        from_parquet(empty)
    renamed = tmp_path / "table.parquet"
    renamed.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
    with pytest.raises(ValueError, match=r"table\.parquet is not a readable Parquet file"):
        read_path(renamed)
    assert "looks like a pickle" in _bench(renamed, tmp_path, capsys)
    no_rows = tmp_path / "rows.parquet"
    pd.DataFrame({"a.x": pd.Series([], dtype=float), "target": []}).to_parquet(no_rows)
    with pytest.raises(ValueError, match=r"rows\.parquet has columns \(2\) but no rows"):
        from_parquet(no_rows)


def test_mat_files_that_are_empty_or_text_name_the_file(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.mat"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.mat is empty \(0 bytes\)"):
        read_mat(empty)
    text = tmp_path / "table.mat"
    text.write_text("a.x,target\n1.0,0\n2.0,1\n")
    with pytest.raises(ValueError, match=r"table\.mat is a text file, not MATLAB data"):
        read_mat(text)
    assert "table.mat is a text file" in _bench(text, tmp_path, capsys)


# --- FSDD recordings ---------------------------------------------------------------------------


def _write_wav(path: Path, seed: int) -> None:
    samples = np.random.default_rng(seed).uniform(-0.5, 0.5, 400)
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(8000)
        stream.writeframes((samples * 32767).astype("<i2").tobytes())


@pytest.fixture
def recordings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of four FSDD-like recordings and a manifest of their SHA-256 in place of the
    shipped one."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    names = ["0_george_0.wav", "1_george_7.wav", "0_theo_9.wav", "1_theo_2.wav"]
    for seed, name in enumerate(names):
        _write_wav(folder / name, seed)
    digests = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
    monkeypatch.setattr(fsdd, "manifest", lambda: dict(digests))
    return folder


def _corrupt(path: Path) -> None:
    """Flip one byte of the audio: still a readable WAV file, of the same size, with a new
    modification time."""
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_corrupt_local_recording_is_named_with_what_to_do(recordings: Path) -> None:
    assert len(fsdd.find_recordings(recordings)) == 4
    _corrupt(recordings / "0_theo_9.wav")
    fsdd.read_wav(recordings / "0_theo_9.wav")  # the corruption is not visible to a reader
    with pytest.raises(ValueError) as caught:
        fsdd.find_recordings(recordings.parent)
    message = str(caught.value)
    assert "1 of the 4 FSDD recordings does not match their published SHA-256" in message
    assert "0_theo_9.wav" in message and "1_theo_2.wav" not in message
    assert "restore those files" in message and "--data-dir" in message


def test_a_corrupt_cached_copy_says_to_delete_it(
    recordings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = recordings.parent / "cache"
    (cache / "fsdd").mkdir(parents=True)
    recordings.rename(cache / "fsdd" / "recordings")
    monkeypatch.setenv("INTERMODAL_DATA", str(cache))
    _corrupt(cache / "fsdd" / "recordings" / "1_george_7.wav")
    with pytest.raises(ValueError, match=r"1_george_7\.wav; delete the folder .* download FSDD"):
        fsdd.find_recordings(download=False)


def test_missing_recordings_are_named(recordings: Path) -> None:
    (recordings / "1_george_7.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 1 of the 4 FSDD recordings \(1_george_7"):
        fsdd.find_recordings(recordings)


def test_a_corrupt_recording_in_data_dir_stops_the_command_line(
    recordings: Path, tmp_path: Path, capsys
) -> None:
    _corrupt(recordings / "1_theo_2.wav")
    out = tmp_path / "results"
    argv = ["bench", "--dataset", "av-digits", "--data-dir", str(recordings), "--output", str(out)]
    assert main(argv) == 2
    assert "1_theo_2.wav" in capsys.readouterr().err and _nothing_written(out)
