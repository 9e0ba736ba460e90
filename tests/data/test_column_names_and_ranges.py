"""Column names read as the file writes them (a duplicated name is refused, never renamed), a
target that can never become an input, and values beyond float32's range named as such."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from intermodal.cli import main
from intermodal.data import MultimodalDataset
from intermodal.data.readers import from_csv, from_dataframe

QUICK = ["--methods", "early", "--seeds", "1", "--epochs", "2", "--jobs", "1", "--quiet"]
QUICK += ["--no-report"]


def blobs_frame(per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    """Three classes; modalities ``a`` (3 features) and ``b`` (2)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), per_class)
    frame = pd.DataFrame({"target": y})
    for name, width in (("a", 3), ("b", 2)):
        values = rng.normal(size=(3, width))[y] * 2 + rng.normal(size=(len(y), width))
        for i in range(width):
            frame[f"{name}.{i}"] = values[:, i]
    return frame


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


def bench(data: Path, out: Path) -> list[str]:
    return ["bench", "--dataset", str(data), *QUICK, "--output", str(out)]


def with_header(frame: pd.DataFrame, header: list[str], path: Path, sep: str = ",") -> Path:
    """``frame``'s rows under ``header`` as written (pandas would rename duplicates)."""
    lines = [sep.join(header)]
    lines += [sep.join(str(v) for v in row) for row in frame.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_duplicated_target_column_is_refused_not_read_as_a_modality(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = blobs_frame()
    frame["copy"] = frame["target"]  # the label again, under the target's name
    data = with_header(frame, [*frame.columns[:-1], "target"], tmp_path / "data.csv")
    assert pd.read_csv(data).columns[-1] == "target.1"  # what pandas makes of it
    error = refused(bench(data, tmp_path / "out"), capsys)
    assert error == (
        f"intermodal bench: error: {data} names columns more than once: 'target' (columns 1, 7); "
        "pandas would keep each copy under another name ('target.1') as a column of its own (a "
        "copy of the target as an input): give each column its own name, or drop the copies\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_duplicated_feature_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = blobs_frame()
    header = ["target", "a.0", "a.1", "a.1", "b.0", "b.1"]
    data = with_header(frame, header, tmp_path / "data.csv")
    assert "'a.1' (columns 3, 4)" in refused(bench(data, tmp_path / "out"), capsys)


def test_the_header_is_read_with_the_options_of_the_file(tmp_path: Path) -> None:
    """A semicolon-separated file: the header is split as pandas splits it, so names that
    differ are not taken for one, and names repeated are found."""
    frame = blobs_frame()
    data = with_header(frame, list(frame.columns), tmp_path / "data.csv", sep=";")
    assert from_csv(data, sep=";").modality_names == ["a", "b"]
    twice = ["target", "a.0", "a.0", "a.2", "b.0", "b.1"]
    with pytest.raises(ValueError, match=r"'a\.0' \(columns 2, 3\)"):
        from_csv(with_header(frame, twice, tmp_path / "twice.csv", sep=";"), sep=";")


def test_a_parquet_file_with_a_duplicated_name_is_refused_by_its_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = blobs_frame()
    columns = [pa.array(frame[name]) for name in frame.columns] + [pa.array(frame["target"])]
    data = tmp_path / "data.parquet"
    pq.write_table(pa.table(columns, names=[*frame.columns, "target"]), data)
    error = refused(bench(data, tmp_path / "out"), capsys)
    assert f"{data} names columns more than once: 'target' (columns 1, 7)" in error


def test_a_modality_named_after_the_target_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = blobs_frame()
    frame["target.copy"] = frame["target"] * 1.0  # prefix 'target': a modality of the label
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    error = refused(bench(data, tmp_path / "out"), capsys)
    assert "columns ['target.copy'] form a modality named 'target'" in error
    assert "can never also be an input" in error


def test_a_target_column_listed_among_a_modality_s_columns_is_refused() -> None:
    frame = blobs_frame()
    with pytest.raises(ValueError, match=r"modalities \['a'\] hold target columns \['target'\]"):
        from_dataframe(frame, {"a": ["a.0", "target"], "b": ["b.0"]}, "target")
    with pytest.raises(ValueError, match=r"modalities \['note'\] hold target columns"):
        from_dataframe(frame.assign(note="x"), {"a": ["a.0"]}, "target", text={"note": "target"})


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_value_beyond_float32_is_named_with_its_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    frame = blobs_frame()
    frame.loc[7, "a.2"] = 1e39  # finite in the file; infinite as float32
    data = tmp_path / f"data.{kind}"
    frame.to_csv(data, index=False) if kind == "csv" else frame.to_parquet(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = refused(bench(data, tmp_path / "out"), capsys)
    assert not [w for w in caught if "overflow" in str(w.message)]  # named, not warned about
    assert error == (
        "intermodal bench: error: row 7, column 'a.2' (modality 'a'): 1e+39 is beyond the range "
        "of float32 (about 3.4e+38), in which features are stored, and would become infinite; "
        "rescale the column (e.g. divide it by a power of ten or take a logarithm) or clip it\n"
    )


def test_float64_values_beyond_float32_are_named_where_arrays_enter_a_data_set() -> None:
    values = np.zeros((4, 3))
    values[2, 1] = -2e39
    with pytest.raises(ValueError, match=r"modality 'a' holds -2e\+39 in row 2, column 1, beyond"):
        MultimodalDataset({"a": values}, [0, 1, 0, 1])
    sequences = torch.zeros(4, 2, 3, dtype=torch.float64)
    sequences[3, 1, 0] = 5e38
    with pytest.raises(ValueError, match=r"holds 5e\+38 in row 3, at \(1, 0\), beyond"):
        MultimodalDataset({"s": sequences}, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"targets holds 1e\+39 in row 1, beyond"):
        MultimodalDataset({"a": np.zeros((2, 1))}, [0.5, 1e39], task="regression")
    edge = np.full((2, 1), float(np.finfo(np.float32).max))  # the largest float32: kept
    assert torch.isfinite(MultimodalDataset({"a": edge}, [0, 1]).modalities["a"]).all()
    infinite = np.array([[0.0], [np.inf]])
    with pytest.raises(ValueError, match="NaN or infinite values"):  # not an overflow
        MultimodalDataset({"a": infinite}, [0, 1])
