from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

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
    read_sentiment_utterances,
    split_dataset,
)
from intermodal.data.text import decode_texts
from tests.helpers import write_affect


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


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


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
    words = from_dataframe(df, {"text": ["word"]}, "target")  # strings: a categorical column
    assert words.kinds["text"] == "tabular" and words.categories["text"] == {"word": ["x"]}


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


# --- targets of every task -------------------------------------------------------------------


def test_float_and_multi_column_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    df = frame().assign(
        score=rng.normal(size=40),
        score2=rng.normal(size=40),
        tag_a=np.arange(40) % 2,
        tag_b=(np.arange(40) // 2) % 2,
    )
    columns = {"text": ["text.a", "text.b"]}
    single = from_dataframe(df, columns, "score")
    assert single.task == "regression" and single.targets.shape == (40,)
    np.testing.assert_allclose(single.targets.numpy(), df["score"], rtol=1e-6)
    several = from_dataframe(df, columns, ["score", "score2"])
    assert several.task == "regression" and several.output_dim == 2
    np.testing.assert_allclose(several.targets.numpy(), df[["score", "score2"]], rtol=1e-6)
    labels = from_dataframe(df, columns, ["tag_a", "tag_b"])
    assert labels.task == "multilabel" and labels.targets.shape == (40, 2)
    np.testing.assert_array_equal(labels.targets.numpy(), df[["tag_a", "tag_b"]])
    assert from_dataframe(df, columns, "target").task == "classification"
    floats = df.assign(target=df["target"].astype(float))
    assert from_dataframe(floats, columns, "target").task == "regression"
    assert from_dataframe(floats, columns, "target", task="classification").n_classes == 2
    assert from_dataframe(df, columns, ["tag_a", "tag_b"], task="regression").task == "regression"
    scores = write_csv(df[["text.a", "text.b", "score", "score2"]], tmp_path / "scores.csv")
    from_file = from_csv(scores, target=["score", "score2"])
    assert from_file.task == "regression" and from_file.modality_names == ["text"]
    assert from_csv(scores, columns, target="score").output_dim == 1
    tags = write_csv(df[["text.a", "text.b", "tag_a", "tag_b"]], tmp_path / "tags.csv")
    assert from_csv(tags, target=["tag_a", "tag_b"]).task == "multilabel"
    df.to_parquet(tmp_path / "d.parquet")
    assert from_parquet(tmp_path / "d.parquet", columns, target="score").task == "regression"


def test_target_columns_are_not_features(tmp_path: Path) -> None:
    df = frame().drop(columns=["split"]).assign(**{"tab.score": np.linspace(0, 1, 40)})
    df.to_csv(tmp_path / "d.csv", index=False)
    data = from_csv(tmp_path / "d.csv", target=["target", "tab.score"])
    assert data.shapes == {"tab": (1,), "text": (2,)} and data.task == "regression"


def test_affect_regression_keeps_the_scores(tmp_path: Path) -> None:
    write_affect(tmp_path / "mosi.pkl")
    data = read_affect_pickle(tmp_path / "mosi.pkl", trust_pickle=True, task="regression")
    raw = pickle.loads((tmp_path / "mosi.pkl").read_bytes())
    scores = np.concatenate([raw[s]["labels"].ravel() for s in ("train", "valid", "test")])
    assert data.task == "regression" and data.targets.dtype == torch.float32
    np.testing.assert_allclose(data.targets.numpy(), scores, rtol=1e-6)
    with pytest.raises(ValueError, match="task must be one of"):
        read_affect_pickle(tmp_path / "mosi.pkl", trust_pickle=True, task="score")


def test_affect_blocks_without_values_are_absent(tmp_path: Path) -> None:
    write_affect(tmp_path / "mosi.pkl")
    raw = pickle.loads((tmp_path / "mosi.pkl").read_bytes())
    raw["train"]["audio"][1] = 0.0
    raw["train"]["text"][2] = np.nan
    raw["valid"]["vision"][0] = np.inf
    (tmp_path / "mosi.pkl").write_bytes(pickle.dumps(raw))
    data = read_affect_pickle(tmp_path / "mosi.pkl", trust_pickle=True)
    absent = {key: np.flatnonzero(~mask.numpy()).tolist() for key, mask in data.masks.items()}
    assert absent == {"audio": [1], "text": [2], "vision": [30]}
    assert (data.modalities["text"][2] == 0).all() and (data.modalities["vision"][30] == 0).all()
    assert data.masks["vision"][0]  # one infinite value: still present, the value set to 0
    assert data.modalities["vision"][0, 0, 0] == 0.0


# --- utterance-level sentiment pickles --------------------------------------------------------


def utterance_data(seed: int = 0) -> dict[str, np.ndarray]:
    """Two train videos and one test video of 4 utterance slots, some of them padding, with
    5 text, 3 audio and 4 video features per utterance, as CMU-MOSI utterance repositories
    share them."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    masks = {
        "train": np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=np.float32),
        "test": np.array([[1, 1, 1, 0]], dtype=np.float32),
    }
    for split, mask in masks.items():
        videos, slots = mask.shape
        for modality, dim in (("text", 5), ("audio", 3), ("video", 4)):
            data[f"{modality}_{split}"] = rng.normal(size=(videos, slots, dim)) * mask[..., None]
        classes = rng.integers(0, 2, (videos, slots))
        classes[0, :2] = (0, 1)
        data[f"{split}_label"] = np.eye(2)[classes] * mask[..., None]
        data[f"{split}_mask"] = mask
    return data


def test_sentiment_utterances_keep_the_real_utterances(tmp_path: Path) -> None:
    raw = utterance_data()
    (tmp_path / "mosi_utt.pkl").write_bytes(pickle.dumps(raw))
    with pytest.raises(PermissionError, match="trust_pickle=True"):
        read_sentiment_utterances(tmp_path / "mosi_utt.pkl")
    data = read_sentiment_utterances(tmp_path / "mosi_utt.pkl", trust_pickle=True)
    assert data.shapes == {"audio": (3,), "text": (5,), "video": (4,)} and len(data) == 8
    assert set(data.kinds.values()) == {"vector"} and data.task == "classification"
    expected_rows = []
    for split in ("train", "test"):
        mask = raw[f"{split}_mask"]
        for video in range(mask.shape[0]):
            for slot in range(mask.shape[1]):
                if mask[video, slot]:
                    expected_rows.append((split, video, slot))
    for row, (split, video, slot) in enumerate(expected_rows):
        for modality in ("text", "audio", "video"):
            np.testing.assert_allclose(
                data.modalities[modality][row].numpy(),
                raw[f"{modality}_{split}"][video, slot],
                rtol=1e-6,
            )
        assert data.targets[row] == raw[f"{split}_label"][video, slot].argmax()
        assert data.metadata["split"][row] == split
        assert data.metadata["video"][row] == data.metadata["group"][row] == f"{split}-{video}"
        assert data.metadata["utterance"][row] == slot
    assert list(data.metadata["video"]) == ["train-0"] * 3 + ["train-1"] * 2 + ["test-0"] * 3
    assert read_sentiment_utterances(tmp_path / "mosi_utt.pkl", True, name="mosi").name == "mosi"
    via_path = load_dataset(str(tmp_path / "mosi_utt.pkl"), trust_pickle=True)
    np.testing.assert_array_equal(via_path.targets.numpy(), data.targets.numpy())
    with pytest.raises(ValueError, match="only the polarity"):
        read_sentiment_utterances(tmp_path / "mosi_utt.pkl", True, task="regression")


def test_sentiment_utterances_check_keys_and_shapes(tmp_path: Path) -> None:
    def read(raw: dict[str, np.ndarray]) -> None:
        (tmp_path / "u.pkl").write_bytes(pickle.dumps(raw))
        read_sentiment_utterances(tmp_path / "u.pkl", trust_pickle=True)

    raw = utterance_data()
    raw["audio_train"] = raw["audio_train"][:, :3]
    with pytest.raises(ValueError, match=r"audio_train has shape \(2, 3, 3\).*train_mask"):
        read(raw)
    raw = utterance_data()
    raw["test_label"] = raw["test_label"][..., :1]
    with pytest.raises(ValueError, match="test_label has shape"):
        read(raw)
    raw = utterance_data()
    raw["video_test"] = raw["video_test"][..., :2]
    with pytest.raises(ValueError, match="video_test has 2 features but video_train has 4"):
        read(raw)
    raw = utterance_data()
    raw["train_label"][1, 0] = 0.0
    with pytest.raises(ValueError, match=r"video 1, utterance 0 .* not one-hot"):
        read(raw)
    raw = utterance_data()
    del raw["test_mask"]
    with pytest.raises(ValueError, match=r"lacks \['test_mask'\]"):
        read(raw)


# --- MIMIC phenotypes --------------------------------------------------------------------------


def test_mimic_phenotypes_are_multilabel(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = {
        "ep_tdata": rng.random((20, 24 * 12)),
        "adm_features_all": rng.random((20, 5)),
        "adm_labels_all": np.column_stack([np.zeros(20), np.arange(20) % 6]),
        "y_icd9": rng.integers(0, 2, (20, 20)),
    }
    (tmp_path / "im.pk").write_bytes(pickle.dumps(raw))
    data = read_mimic(tmp_path / "im.pk", trust_pickle=True, task="phenotypes")
    assert data.task == "multilabel" and data.targets.shape == (20, 20)
    np.testing.assert_array_equal(data.targets.numpy(), raw["y_icd9"])
    assert read_mimic(tmp_path / "im.pk", trust_pickle=True).task == "classification"
    for wrong in (20, -2, "mortality"):
        with pytest.raises(ValueError, match="'phenotypes'"):
            read_mimic(tmp_path / "im.pk", trust_pickle=True, task=wrong)


# --- missing modalities in data frames ---------------------------------------------------------


def test_all_nan_blocks_mark_a_modality_absent(tmp_path: Path) -> None:
    df = frame()
    df.loc[3, ["text.a", "text.b"]] = np.nan
    df.loc[5, "tab.age"] = np.nan
    columns = {"text": ["text.a", "text.b"], "tab": ["tab.age"]}
    data = from_dataframe(df, columns, "target")
    assert np.flatnonzero(~data.masks["text"].numpy()).tolist() == [3]
    assert np.flatnonzero(~data.masks["tab"].numpy()).tolist() == [5]
    assert (data.modalities["text"][3] == 0).all() and data.modalities["tab"][5, 0] == 0
    np.testing.assert_allclose(data.modalities["text"][4].numpy(), df.loc[4, ["text.a", "text.b"]])
    df.to_csv(tmp_path / "d.csv", index=False)
    from_file = from_csv(tmp_path / "d.csv")
    assert from_file.masks["text"].sum() == 39 and not from_file.masks["tab"][5]
    df.loc[3, "tab.age"] = np.nan
    with pytest.raises(ValueError, match=r"every modality absent \(rows \[3\]\)"):
        from_dataframe(df, columns, "target")


def test_partial_nan_is_an_error_naming_the_row() -> None:
    df = frame()
    df.loc[7, "text.b"] = np.nan
    with pytest.raises(ValueError, match=r"row 7: modality 'text' has NaN in columns \['text.b'\]"):
        from_dataframe(df, {"text": ["text.a", "text.b"]}, "target")
    df.index = df.index + 100
    with pytest.raises(ValueError, match=r"row 7 \(index 107\)"):
        from_dataframe(df, {"text": ["text.a", "text.b"]}, "target")


def test_mask_columns_say_where_a_modality_is_present(tmp_path: Path) -> None:
    df = frame().assign(has_text=[i % 4 != 0 for i in range(40)], has_tab=1)
    df.loc[0, "text.a"] = np.nan  # absent by its mask: any value, NaN included
    df.loc[4, ["text.a", "text.b"]] = 99.0
    masks = {"text": "has_text", "tab": "has_tab"}
    columns = {"text": ["text.a", "text.b"], "tab": ["tab.age"]}
    data = from_dataframe(df, columns, "target", masks=masks)
    np.testing.assert_array_equal(data.masks["text"].numpy(), df["has_text"])
    assert data.masks["tab"].all() and data.shapes == {"tab": (1,), "text": (2,)}
    assert (data.modalities["text"][[0, 4]] == 0).all()
    df.to_csv(tmp_path / "d.csv", index=False)
    from_file = from_csv(tmp_path / "d.csv", masks=masks)
    assert from_file.shapes == data.shapes
    np.testing.assert_array_equal(from_file.masks["text"].numpy(), df["has_text"])
    df.loc[1, "text.b"] = np.nan
    with pytest.raises(ValueError, match=r"row 1: modality 'text' is present by mask column"):
        from_dataframe(df, columns, "target", masks=masks)
    with pytest.raises(ValueError, match=r"mask column 'tab\.age' of modality 'tab'"):
        from_dataframe(df, {"tab": ["tab.age"]}, "target", masks={"tab": "tab.age"})
    with pytest.raises(KeyError, match="masks names modalities"):
        from_dataframe(df, {"tab": ["tab.age"]}, "target", masks={"nope": "has_tab"})


# --- text columns ------------------------------------------------------------------------------


def test_text_columns_become_text_modalities(tmp_path: Path) -> None:
    df = frame().assign(caption=[f"sample {i} é" for i in range(40)])
    df.loc[2, "caption"] = np.nan
    df.loc[6, "caption"] = ""
    data = from_dataframe(df, {"tab": ["tab.age"]}, "target", text={"caption": "caption"})
    assert data.kinds == {"caption": "text", "tab": "vector"}
    texts = decode_texts(data.modalities["caption"])
    assert texts[0] == "sample 0 é" and texts[2] == texts[6] == ""
    assert np.flatnonzero(~data.masks["caption"].numpy()).tolist() == [2, 6]
    df.to_csv(tmp_path / "d.csv", index=False)
    from_file = from_csv(tmp_path / "d.csv")
    assert from_file.kinds == {"caption": "text", "tab": "vector", "text": "vector"}
    assert decode_texts(from_file.modalities["caption"]) == texts
    df.to_parquet(tmp_path / "d.parquet")
    assert from_parquet(tmp_path / "d.parquet").kinds["caption"] == "text"
    with pytest.raises(ValueError, match=r"column 'score' has no modality prefix"):
        from_csv(write_csv(df.assign(score=1.0), tmp_path / "e.csv"))


def test_text_column_errors_name_the_column_and_row() -> None:
    df = frame().assign(caption=pd.Series(["a caption"] * 40, dtype=object))
    df.loc[5, "caption"] = 12
    with pytest.raises(TypeError, match=r"text column 'caption' row 5 holds an int \(12\)"):
        from_dataframe(df, {}, "target", text={"caption": "caption"})
    df["caption"] = ""
    with pytest.raises(ValueError, match=r"text column 'caption' .* is empty in every row"):
        from_dataframe(df, {}, "target", text={"caption": "caption"})
    df["caption"] = np.nan
    with pytest.raises(ValueError, match="is empty in every row"):
        from_dataframe(df, {"tab": ["tab.age"]}, "target", text={"caption": "caption"})


# --- image folders -----------------------------------------------------------------------------


def test_image_folder_with_missing_images_and_text(tmp_path: Path) -> None:
    from PIL import Image

    rows = []
    for i in range(4):
        Image.fromarray(np.full((6, 5), 60 * i, dtype=np.uint8)).save(tmp_path / f"img{i}.png")
        rows.append(
            {"image": f"img{i}.png", "age": i, "note": f"note {i}", "tag": "x", "target": i % 2}
        )
    rows[1]["image"] = ""
    rows[2]["note"] = ""
    pd.DataFrame(rows).to_csv(tmp_path / "list.csv", index=False)
    data = read_image_folder(tmp_path / "list.csv")
    assert data.kinds == {"image": "image", "note": "text", "tabular": "vector", "tag": "text"}
    assert data.masks["image"].tolist() == [True, False, True, True]
    assert (data.modalities["image"][1] == 0).all() and data.shapes["image"] == (1, 6, 5)
    assert data.masks["note"].tolist() == [True, True, False, True]
    assert decode_texts(data.modalities["note"])[3] == "note 3"
    only_note = read_image_folder(tmp_path / "list.csv", text_columns=["note"])
    assert only_note.modality_names == ["image", "note", "tabular"]
    by_age = read_image_folder(tmp_path / "list.csv", target="age", text_columns=[])
    assert by_age.n_classes == 4 and by_age.shapes == {"image": (1, 6, 5), "tabular": (1,)}
    for row in rows:
        row["image"] = ""
    pd.DataFrame(rows).to_csv(tmp_path / "none.csv", index=False)
    with pytest.raises(ValueError, match="empty in every row"):
        read_image_folder(tmp_path / "none.csv")


# --- files by path -----------------------------------------------------------------------------


def test_read_path_reads_a_mat_file(tmp_path: Path) -> None:
    import scipy.io

    rng = np.random.default_rng(0)
    views = np.empty((1, 2), dtype=object)
    views[0, 0], views[0, 1] = rng.normal(size=(12, 3)), rng.normal(size=(12, 4))
    labels = (np.arange(12) % 3 + 1).reshape(-1, 1)
    scipy.io.savemat(tmp_path / "views.mat", {"X": views, "y": labels})
    data = load_dataset(str(tmp_path / "views.mat"))
    assert data.shapes == {"view0": (3,), "view1": (4,)} and data.n_classes == 3
    np.testing.assert_allclose(data.modalities["view1"].numpy(), views[0, 1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\.mat"):
        load_dataset(str(write_csv(frame(), tmp_path / "d.txt")))
