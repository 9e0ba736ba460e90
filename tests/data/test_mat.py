from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.mat import read_mat

N = 12


def _cell(*views: object, column: bool = False) -> np.ndarray:
    cell = np.empty((len(views), 1) if column else (1, len(views)), dtype=object)
    for index, view in enumerate(views):
        cell.flat[index] = view
    return cell


def _values(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """float32 values that survive the data set's float32 storage exactly."""
    return rng.standard_normal(shape).astype(np.float32)


def _original_labels(dataset: MultimodalDataset) -> np.ndarray:
    return np.asarray(dataset.classes)[dataset.targets.numpy()]


def test_cell_array_of_views_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    plain = _values(rng, N, 4)
    transposed = _values(rng, 5, N)  # stored (d, N)
    sparse = scipy.sparse.random(N, 6, density=0.3, format="csc", random_state=1, dtype=float)
    labels = rng.integers(1, 4, size=N)  # 1-based, as MATLAB writes them
    scipy.io.savemat(
        tmp_path / "mv.mat", {"X": _cell(plain, transposed, sparse), "y": labels[:, None]}
    )
    dataset = read_mat(tmp_path / "mv.mat")
    assert dataset.name == "mv"
    assert dataset.modality_names == ["view0", "view1", "view2"]
    np.testing.assert_array_equal(dataset.modalities["view0"].numpy(), plain)
    np.testing.assert_array_equal(dataset.modalities["view1"].numpy(), transposed.T)
    np.testing.assert_array_equal(
        dataset.modalities["view2"].numpy(), sparse.toarray().astype(np.float32)
    )
    np.testing.assert_array_equal(_original_labels(dataset), labels)
    assert dataset.metadata == {}


def test_column_cell_named_views_and_float_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image, text = _values(rng, N, 3), _values(rng, N, 2)
    labels = rng.integers(0, 3, size=N).astype(np.float64)
    scipy.io.savemat(
        tmp_path / "f.mat", {"X": _cell(image, text, column=True), "gnd": labels[None, :]}
    )
    dataset = read_mat(tmp_path / "f.mat", views=["image", "text"], name="pairs")
    assert dataset.name == "pairs"
    np.testing.assert_array_equal(dataset.modalities["image"].numpy(), image)
    np.testing.assert_array_equal(dataset.modalities["text"].numpy(), text)
    np.testing.assert_array_equal(_original_labels(dataset), labels.astype(np.int64))


def test_square_view_is_kept_as_stored(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    square = _values(rng, N, N)
    scipy.io.savemat(tmp_path / "s.mat", {"X": _cell(square), "Y": np.arange(N)})
    np.testing.assert_array_equal(read_mat(tmp_path / "s.mat").modalities["view0"].numpy(), square)


def test_one_hot_labels_become_class_indices(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 4, size=N)
    one_hot = np.eye(4)[classes]
    scipy.io.savemat(tmp_path / "o.mat", {"X": _cell(_values(rng, N, 2)), "truth": one_hot})
    np.testing.assert_array_equal(_original_labels(read_mat(tmp_path / "o.mat")), classes)


def _cross_modal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "I_tr": _values(rng, 8, 4),
        "I_te": _values(rng, 5, 4),
        "T_tr": _values(rng, 8, 3),
        "T_te": _values(rng, 5, 3),
        "L_tr": rng.integers(1, 11, size=(8, 1)),
        "L_te": rng.integers(1, 11, size=(5, 1)),
    }


def test_cross_modal_train_test_layout(tmp_path: Path) -> None:
    data = _cross_modal(np.random.default_rng(4))
    written = dict(data, T_te=data["T_te"].T)  # one matrix stored transposed
    scipy.io.savemat(tmp_path / "wiki.mat", written)
    dataset = read_mat(tmp_path / "wiki.mat")
    assert dataset.modality_names == ["I", "T"]
    for key in ("I", "T"):
        np.testing.assert_array_equal(
            dataset.modalities[key].numpy(), np.concatenate([data[f"{key}_tr"], data[f"{key}_te"]])
        )
    np.testing.assert_array_equal(
        _original_labels(dataset), np.concatenate([data["L_tr"], data["L_te"]]).ravel()
    )
    assert dataset.metadata["split"].tolist() == ["train"] * 8 + ["test"] * 5


@pytest.mark.parametrize(
    ("names", "labels"),
    [
        (("img_train", "img_test", "txt_train", "txt_test"), ("tr_lab", "te_lab")),
        (("I_tr", "I_te", "T_tr", "T_te"), ("train_labels", "test_labels")),
        (("tr_I", "te_I", "train_T", "test_T"), ("Y_tr", "Y_te")),
    ],
)
def test_cross_modal_names_and_label_variants(
    tmp_path: Path, names: tuple[str, ...], labels: tuple[str, str]
) -> None:
    data = _cross_modal(np.random.default_rng(5))
    one_hot_te = np.eye(10)[data["L_te"].ravel() - 1]  # test labels as one-hot rows
    matrices = (data["I_tr"], data["I_te"], data["T_tr"], data["T_te"])
    written = dict(zip(names, matrices, strict=True))
    written.update({labels[0]: data["L_tr"].T, labels[1]: one_hot_te})
    scipy.io.savemat(tmp_path / "c.mat", written)
    dataset = read_mat(tmp_path / "c.mat", views=["image", "text"])
    assert dataset.modality_names == ["image", "text"]
    np.testing.assert_array_equal(
        dataset.modalities["image"].numpy(), np.concatenate([data["I_tr"], data["I_te"]])
    )
    np.testing.assert_array_equal(
        dataset.modalities["text"].numpy(), np.concatenate([data["T_tr"], data["T_te"]])
    )
    expected = np.concatenate([data["L_tr"].ravel(), data["L_te"].ravel() - 1])
    np.testing.assert_array_equal(_original_labels(dataset), expected)
    assert dataset.metadata["split"].tolist() == ["train"] * 8 + ["test"] * 5


def test_corrupt_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "x.mat"
    path.write_bytes(np.random.default_rng(6).bytes(300))
    with pytest.raises(ValueError, match=r"not a MATLAB \.mat file that scipy can read"):
        read_mat(path)


def test_matlab_v73_file_is_explained(tmp_path: Path) -> None:
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116)
    path = tmp_path / "v73.mat"
    path.write_bytes(header + bytes(8) + b"\x00\x02IM" + bytes(384) + b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"v7\.3.*HDF5.*-v7.*h5py"):
        read_mat(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_mat(tmp_path / "absent.mat")


def test_views_of_different_row_counts_are_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    scipy.io.savemat(
        tmp_path / "r.mat",
        {"X": _cell(_values(rng, N, 3), _values(rng, N - 2, 3)), "y": np.arange(N)},
    )
    with pytest.raises(ValueError, match=rf"different numbers of rows: view0 {N} .*view1 {N - 2}"):
        read_mat(tmp_path / "r.mat")


def test_cross_modal_rows_must_match_the_labels(tmp_path: Path) -> None:
    data = _cross_modal(np.random.default_rng(8))
    data["T_te"] = data["T_te"][:4]
    scipy.io.savemat(tmp_path / "r.mat", data)
    with pytest.raises(ValueError, match=r"I_te 5 .*T_te 4 .*L_te have 5 entries"):
        read_mat(tmp_path / "r.mat")


def test_missing_labels_list_the_variables(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    scipy.io.savemat(tmp_path / "n.mat", {"X": _cell(_values(rng, N, 3)), "extra": np.ones(3)})
    with pytest.raises(KeyError, match=r"no label variable.*X \(cell 1x1\), extra \(1x3\)"):
        read_mat(tmp_path / "n.mat")
    data = _cross_modal(rng)
    del data["L_tr"], data["L_te"]
    scipy.io.savemat(tmp_path / "m.mat", data)
    with pytest.raises(KeyError, match=r"no label variables.*I_tr"):
        read_mat(tmp_path / "m.mat")


def test_unknown_layout(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "u.mat", {"features": np.ones((4, 2)), "y": np.arange(4)})
    with pytest.raises(ValueError, match=r"cannot tell the layout.*features \(4x2\)"):
        read_mat(tmp_path / "u.mat")


def test_views_of_the_wrong_length(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    scipy.io.savemat(
        tmp_path / "v.mat", {"X": _cell(_values(rng, N, 3), _values(rng, N, 2)), "y": np.arange(N)}
    )
    with pytest.raises(ValueError, match=r"views has 3 names .* holds 2 modalities"):
        read_mat(tmp_path / "v.mat", views=["a", "b", "c"])
    with pytest.raises(TypeError, match="list of names"):
        read_mat(tmp_path / "v.mat", views="ab")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.arange(N) + 0.5, "not integers"),
        (np.ones((N, 3)), "not one-hot"),
    ],
)
def test_bad_labels_are_explained(tmp_path: Path, labels: np.ndarray, message: str) -> None:
    scipy.io.savemat(tmp_path / "b.mat", {"X": _cell(np.ones((N, 2))), "y": labels})
    with pytest.raises(ValueError, match=message):
        read_mat(tmp_path / "b.mat")


def test_train_and_test_features_must_agree(tmp_path: Path) -> None:
    data = _cross_modal(np.random.default_rng(11))
    data["I_te"] = data["I_te"][:, :3]
    scipy.io.savemat(tmp_path / "d.mat", data)
    with pytest.raises(ValueError, match=r"modality 'I'.*\(4,\) in I_tr but \(3,\) in I_te"):
        read_mat(tmp_path / "d.mat")
