from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intermodal.data import (
    from_arrays,
    from_csv,
    from_dataframe,
    from_parquet,
    load_dataset,
    read_affect_pickle,
    read_avmnist,
    read_image_folder,
    read_mimic,
    split_dataset,
)


def frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "text.a": rng.normal(size=n),
            "text.b": rng.normal(size=n),
            "tab.age": rng.integers(20, 80, n),
            "target": np.arange(n) % 2,
            "split": ["train"] * (n - 10) + ["test"] * 10,
        }
    )


def test_dataframe_csv_and_parquet_agree(tmp_path: Path) -> None:
    df = frame()
    direct = from_dataframe(
        df, {"text": ["text.a", "text.b"], "tab": ["tab.age"]}, "target", split="split"
    )
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    for loaded in (from_csv(tmp_path / "d.csv"), from_parquet(tmp_path / "d.parquet")):
        assert loaded.shapes == direct.shapes == {"tab": (1,), "text": (2,)}
        np.testing.assert_allclose(loaded.modalities["text"], direct.modalities["text"])
        assert (loaded.metadata["split"] == df["split"].to_numpy()).all()
    splits = split_dataset(direct)
    assert len(splits.test) == 10 and len(splits.train) + len(splits.val) == 30


def test_dataframe_errors_name_the_columns() -> None:
    df = frame().assign(word=["x"] * 40)
    with pytest.raises(KeyError, match="nope"):
        from_dataframe(df, {"text": ["nope"]}, "target")
    with pytest.raises(TypeError, match=r"columns \['word'\] are not numeric"):
        from_dataframe(df, {"text": ["word"]}, "target")


def test_from_arrays_with_a_split() -> None:
    data = from_arrays(
        {"a": np.zeros((6, 2))}, [0, 1, 0, 1, 0, 1], split=["train"] * 4 + ["test"] * 2
    )
    assert list(data.metadata["split"]) == ["train"] * 4 + ["test"] * 2


def test_image_folder_reader(tmp_path: Path) -> None:
    from PIL import Image

    rows = []
    for i in range(4):
        pixels = np.full((6, 5), 60 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"img{i}.png")
        rows.append({"image": f"img{i}.png", "age": i, "target": i % 2})
    pd.DataFrame(rows).to_csv(tmp_path / "list.csv", index=False)
    data = read_image_folder(tmp_path / "list.csv")
    assert data.shapes == {"image": (1, 6, 5), "tabular": (1,)}
    np.testing.assert_allclose(data.modalities["image"][3].numpy(), 180 / 255, rtol=1e-6)
    pd.DataFrame([*rows, {"image": "gone.png", "age": 9, "target": 0}]).to_csv(
        tmp_path / "bad.csv", index=False
    )
    with pytest.raises(FileNotFoundError, match=r"gone\.png"):
        read_image_folder(tmp_path / "bad.csv")


def write_affect(path: Path, n: int = 30, seed: int = 0) -> None:
    """A small file in MultiBench's affect format (as CMU-MOSI): splits of vision, audio, text
    sequences and continuous sentiment labels, with an infinite value as the real files have."""
    rng = np.random.default_rng(seed)
    data = {}
    for split in ("train", "valid", "test"):
        score = rng.uniform(-3, 3, size=(n, 1, 1))
        sign = np.sign(score).reshape(n, 1, 1)
        data[split] = {
            "vision": rng.normal(size=(n, 5, 4)) + sign,
            "audio": rng.normal(size=(n, 5, 3)) + sign,
            "text": rng.normal(size=(n, 5, 6)) + 2 * sign,
            "labels": score,
        }
    data["train"]["vision"][0, 0, 0] = np.inf
    path.write_bytes(pickle.dumps(data))


def test_affect_pickle_needs_trust_and_keeps_the_splits(tmp_path: Path) -> None:
    write_affect(tmp_path / "mosi.pkl")
    with pytest.raises(PermissionError, match="trust_pickle=True"):
        read_affect_pickle(tmp_path / "mosi.pkl")
    data = read_affect_pickle(tmp_path / "mosi.pkl", trust_pickle=True)
    assert data.shapes == {"audio": (5, 3), "text": (5, 6), "vision": (5, 4)}
    assert data.kinds["text"] == "sequence" and len(data) == 90
    assert data.modalities["vision"][0, 0, 0] == 0.0  # the infinite value
    assert sorted(set(data.metadata["split"])) == ["test", "train", "val"]
    raw = pickle.loads((tmp_path / "mosi.pkl").read_bytes())
    assert (data.targets.numpy()[:30] == (raw["train"]["labels"].ravel() > 0)).all()
    seven = read_affect_pickle(tmp_path / "mosi.pkl", trust_pickle=True, task="7class")
    assert set(seven.classes) <= set(range(7))


def test_avmnist_and_mimic(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for part, n in (("train", 12), ("test", 6)):
        (tmp_path / "image").mkdir(exist_ok=True)
        (tmp_path / "audio").mkdir(exist_ok=True)
        np.save(tmp_path / "image" / f"{part}_data.npy", rng.random((n, 784)))
        np.save(tmp_path / "audio" / f"{part}_data.npy", rng.random((n, 112, 112)))
        np.save(tmp_path / f"{part}_labels.npy", np.arange(n) % 3)
    avmnist = read_avmnist(tmp_path)
    assert avmnist.shapes == {"audio": (1, 112, 112), "image": (1, 28, 28)} and len(avmnist) == 18
    mimic = {
        "ep_tdata": rng.random((20, 24 * 12)),
        "adm_features_all": rng.random((20, 5)),
        "adm_labels_all": np.column_stack([np.zeros(20), np.arange(20) % 6]),
        "y_icd9": rng.integers(0, 2, (20, 20)),
    }
    (tmp_path / "im.pk").write_bytes(pickle.dumps(mimic))
    data = read_mimic(tmp_path / "im.pk", trust_pickle=True)
    assert data.shapes == {"static": (5,), "timeseries": (24, 12)} and data.n_classes == 6
    assert load_dataset(str(tmp_path / "im.pk"), trust_pickle=True).n_classes == 6
    assert read_mimic(tmp_path / "im.pk", trust_pickle=True, task=3).n_classes == 2
