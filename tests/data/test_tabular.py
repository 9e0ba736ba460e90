"""The tabular modality kind: column types, the encoding fitted on training rows (statistics,
missing indicators, categories, one-hot or embedding), unseen categories and missing columns
at prediction time, saved pipelines, and the readers and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.baselines.features import build_features
from intermodal.cli import main
from intermodal.data import from_csv, from_dataframe, from_parquet, split_dataset
from intermodal.data.preprocessing import Preprocessor, SchemaError
from intermodal.data.tabular import FIRST, MISSING, ONEHOT_MAX, UNKNOWN, TabularEncoding
from intermodal.data.text import decode_texts
from intermodal.encoders import TabularEncoder, modality_encoder

WORDS = "the a box item works fine arrived late early with for home".split()


def write_table(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric columns with missing cells, a categorical column with few categories, one with
    many (``ONEHOT_MAX + 6``), a boolean, a text column with a keyword; the class is the colour's
    side XOR the keyword."""
    rng = np.random.default_rng(seed)
    dose = rng.normal(size=rows) * 10 + 5
    colour = rng.choice(["red", "blue", "green"], size=rows)
    keyword = rng.random(rows) < 0.5
    texts = []
    for has in keyword:
        words = list(rng.choice(WORDS, size=6))
        if has:
            words.insert(2, "excellent")
        texts.append(" ".join(words))
    frame = pd.DataFrame(
        {
            "tab.dose": np.where(rng.random(rows) < 0.2, np.nan, dose),
            "tab.weight": rng.normal(size=rows) * 3,
            "tab.colour": pd.Series(colour, dtype=object).where(rng.random(rows) > 0.1, None),
            "tab.city": [f"c{i}" for i in rng.integers(0, ONEHOT_MAX + 6, size=rows)],
            "tab.member": rng.random(rows) < 0.3,
            "review": texts,
            "target": ((colour == "red") ^ keyword).astype(np.int64),
        }
    )
    return frame


# --- column types ----------------------------------------------------------------------------


def test_column_types_from_dtypes_and_their_override(tmp_path: Path) -> None:
    frame = write_table(40).assign(
        **{"tab.zip": np.arange(40) % 4 + 1000, "tab.kind": pd.Categorical(["x", "y"] * 20)},
        shop=["north", "south"] * 20,
    )
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    read = from_parquet(tmp_path / "t.parquet")
    # a column of strings without a prefix is text; a prefixed one of long varied strings too
    assert read.kinds == {"review": "text", "shop": "text", "tab": "tabular"}
    types = {  # object, category and bool: categorical; numbers: numeric
        name: "categorical" if name in read.categories["tab"] else "numeric"
        for name in read.features["tab"]
    }
    assert types == {
        "dose": "numeric",
        "weight": "numeric",
        "colour": "categorical",
        "city": "categorical",
        "member": "categorical",
        "zip": "numeric",
        "kind": "categorical",
    }
    assert read.categories["tab"]["member"] == ["False", "True"]
    assert read.categories["tab"]["colour"] == ["blue", "green", "red"]  # sorted, missing aside
    assert decode_texts(read.modalities["review"][:2]) == frame["review"][:2].tolist()

    types = {
        "tab.zip": "categorical",
        "tab.member": "numeric",
        "tab.weight": "ignore",
        "review": "categorical",
    }
    overridden = from_parquet(tmp_path / "t.parquet", column_types=types)
    assert "weight" not in overridden.features["tab"]
    assert overridden.categories["tab"]["zip"] == ["1000", "1001", "1002", "1003"]
    assert "member" not in overridden.categories["tab"]
    np.testing.assert_array_equal(
        overridden.modalities["tab"][:, overridden.features["tab"].index("member")],
        frame["tab.member"].astype(float),
    )
    assert "review" not in overridden.modalities  # a categorical column of the modality tabular
    assert overridden.features["tabular"] == ["review"]
    assert overridden.categories["tabular"]["review"] == sorted(set(frame["review"]))
    with pytest.raises(KeyError, match=r"column_types names columns \['nope'\]"):
        from_dataframe(frame, {"tab": ["tab.dose"]}, "target", column_types={"nope": "numeric"})
    with pytest.raises(ValueError, match=r"unknown types \{'tab.dose': 'date'\}"):
        from_dataframe(frame, {"tab": ["tab.dose"]}, "target", column_types={"tab.dose": "date"})
    with pytest.raises(ValueError, match=r"'tab.colour' .* numeric by its column type"):
        from_dataframe(
            frame, {"tab": ["tab.colour"]}, "target", column_types={"tab.colour": "numeric"}
        )


def test_csv_parquet_and_data_frame_give_the_same_data_set(tmp_path: Path) -> None:
    frame = write_table(60)
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    from_frame = from_dataframe(
        frame,
        {"tab": [c for c in frame.columns if c.startswith("tab.")]},
        "target",
        text={"review": "review"},
    )
    for data in (from_csv(tmp_path / "t.csv"), from_parquet(tmp_path / "t.parquet")):
        assert data.kinds == from_frame.kinds and data.features == from_frame.features
        assert data.categories == from_frame.categories
        for key in data.modalities:
            torch.testing.assert_close(
                data.modalities[key], from_frame.modalities[key], equal_nan=True
            )
            assert torch.equal(data.masks[key], from_frame.masks[key])


# --- the encoding fitted on training rows ------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    frame = write_table()
    return frame, from_dataframe(
        frame,
        {"tab": [c for c in frame.columns if c.startswith("tab.")]},
        "target",
        text={"review": "review"},
    )


def test_statistics_and_missing_indicators_follow_the_training_rows(data) -> None:
    _, dataset = data
    splits = split_dataset(dataset, seed=0)
    step = TabularEncoding.fit(splits.train, "tab")
    raw = splits.train.modalities["tab"].double().numpy()
    features = splits.train.features["tab"]
    numeric = [i for i, c in enumerate(features) if c not in dataset.categories["tab"]]
    np.testing.assert_allclose(step.mean.numpy()[0], np.nanmean(raw[:, numeric], 0), rtol=1e-6)
    np.testing.assert_allclose(step.std.numpy()[0], np.nanstd(raw[:, numeric], 0), rtol=1e-5)
    assert step.indicators == ["dose"]  # weight has no missing cell
    assert step.output_features == [*features, "dose:missing"]

    encoded = Preprocessor.fit(splits.train).transform(splits.test)
    assert encoded.features["tab"] == [*features, "dose:missing"]
    values = encoded.modalities["tab"].numpy()
    test_raw = splits.test.modalities["tab"].numpy()
    dose = features.index("dose")
    for row in range(len(values)):  # a loop reference
        cell = test_raw[row, dose]
        if np.isnan(cell):
            assert values[row, -1] == 1.0 and values[row, dose] == 0.0
        else:
            expected = (cell - np.nanmean(raw[:, dose])) / np.nanstd(raw[:, dose])
            assert values[row, -1] == 0.0
            assert values[row, dose] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert not np.isnan(values).any()


def test_categories_one_hot_or_embedded_by_the_training_rows_only(data) -> None:
    frame, dataset = data
    features = dataset.features["tab"]
    city = features.index("city")
    # the training rows see ONEHOT_MAX cities; the others only the test rows
    names = dataset.categories["tab"]["city"]
    codes = dataset.modalities["tab"][:, city].long() - FIRST
    seen = set(names[:ONEHOT_MAX])
    held = np.array([names[c] not in seen for c in codes.tolist()])
    train, test = dataset.subset(np.flatnonzero(~held)), dataset.subset(np.flatnonzero(held))
    assert len(set(names)) > ONEHOT_MAX  # embedded, if the full table decided
    preprocessor = Preprocessor.fit(train)
    encoded_train, encoded_test = preprocessor.transform(train), preprocessor.transform(test)
    assert encoded_test.categories["tab"]["city"] == names[:ONEHOT_MAX]
    assert (encoded_test.modalities["tab"][:, city] == UNKNOWN).all()  # unseen: unknown

    encoder = modality_encoder(encoded_train, "tab", 8)
    assert isinstance(encoder, TabularEncoder)
    assert dict(encoder.onehot)[city] == ONEHOT_MAX + 2 and encoder.embedded == []
    with_more = modality_encoder(dataset, "tab", 8)  # fitted on every row: more than the limit
    assert with_more.embedded == [city]

    # the baselines' one-hot blocks against pandas' get_dummies of the category names
    vectors = build_features(encoded_train.select(["tab"]))
    block, _ = vectors.raw({"tab": encoded_test.modalities["tab"]})
    start = len([c for c in encoded_test.features["tab"] if c not in dataset.categories["tab"]])
    slots = ["<missing>", "<unknown>", *encoded_train.categories["tab"]["colour"]]
    cells = frame.loc[np.flatnonzero(held), "tab.colour"].fillna("<missing>")
    dummies = pd.get_dummies(pd.Categorical(cells, categories=slots)).to_numpy(float)
    layout = sorted(encoded_train.categories["tab"], key=features.index)
    before = layout[: layout.index("colour")]
    offset = start + sum(len(encoded_train.categories["tab"][c]) + 2 for c in before)
    np.testing.assert_array_equal(block[:, offset : offset + len(slots)].numpy(), dummies)


def test_unseen_categories_and_missing_columns_when_predicting(tmp_path: Path) -> None:
    from intermodal.bench.config import BenchConfig
    from intermodal.bench.train import train_model
    from intermodal.predict import predictions_table, read_for_model
    from intermodal.saving import save_model

    frame = write_table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    trained = train_model(from_csv(tmp_path / "t.csv"), "early", BenchConfig(epochs=3, seed=0))
    pipeline = trained.pipeline.eval()
    save_model(pipeline, tmp_path / "model")
    new = frame.head(20).copy()
    new.loc[:4, "tab.colour"] = "purple"  # never seen
    new.loc[5:9, "tab.city"] = "atlantis"
    read = read_for_model(new, pipeline)
    tab = read.data.modalities["tab"]
    features = read.data.features["tab"]
    assert (tab[:5, features.index("colour")] == UNKNOWN).all()
    assert (tab[5:10, features.index("city")] == UNKNOWN).all()
    other = new.assign(**{"tab.colour": new["tab.colour"].replace("purple", "violet")})
    first = predictions_table(pipeline, read)
    second = predictions_table(pipeline, read_for_model(other, pipeline))
    pd.testing.assert_frame_equal(first, second)  # one unknown slot for every unseen category
    missing = new.copy()
    missing.loc[:, "tab.colour"] = None  # every cell missing: all in the missing slot
    assert (read_for_model(missing, pipeline).data.modalities["tab"][:, 2] == MISSING).all()

    with pytest.raises(SchemaError, match=r"lacks features 'city' \(columns 'tab.city'\)"):
        read_for_model(new.drop(columns="tab.city"), pipeline)
    # the columns are read with the training types: a number is a category (unseen here), a
    # word in a numeric column an error that names the column
    numbers = read_for_model(new.assign(**{"tab.colour": 1.5}), pipeline)
    assert (numbers.data.modalities["tab"][:, features.index("colour")] == UNKNOWN).all()
    with pytest.raises(ValueError, match=r"'tab.dose' .* numeric by its column type but row 0"):
        read_for_model(new.assign(**{"tab.dose": "high"}), pipeline)

    # save -> a fresh process loads it and predicts what the model in memory predicts
    new.to_csv(tmp_path / "new.csv", index=False)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "intermodal.cli", "predict", str(tmp_path / "model")),
            *("--dataset", str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv")),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    fresh = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(fresh["prediction"], first["prediction"])
    np.testing.assert_allclose(fresh["probability.1"], first["probability.1"], rtol=1e-6)


def test_encoders_and_baselines_read_tables(data) -> None:
    _, dataset = data
    splits = split_dataset(dataset, seed=0)
    encoded = Preprocessor.fit(splits.train).transform(splits.train)
    encoder = modality_encoder(encoded, "tab", 8)
    out = encoder(encoded.modalities["tab"])
    assert out.shape == (len(encoded), 8)
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())
    vectors = build_features(encoded).fit(encoded)
    z = vectors(encoded.batch().inputs, encoded.batch().mask)
    assert torch.isfinite(z).all() and z.shape[0] == len(encoded)


# --- the command line --------------------------------------------------------------------------


def test_bad_column_types_are_one_line_errors(tmp_path: Path, capsys) -> None:
    write_table(60).to_csv(tmp_path / "t.csv", index=False)
    for types, message in (
        ("nope=categorical", "column_types names columns ['nope']"),
        ("tab.dose=date", "unknown column type 'date' for 'tab.dose'"),
        ("tab.dose", "expected COLUMN=TYPE items"),
    ):
        for command, *extra in (
            ("bench", "--output", str(tmp_path / "out")),
            ("train", "--method", "early", "--output", str(tmp_path / "out")),
            ("diagnose",),
        ):
            code = main(
                [command, "--dataset", str(tmp_path / "t.csv"), "--column-types", types, *extra]
            )
            err = capsys.readouterr().err
            assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
