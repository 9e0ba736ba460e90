"""Using a saved model from the command line: bench --save-best, train, predict, evaluate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.cli import main
from intermodal.data import from_csv, split_dataset
from intermodal.predict import load_pipeline, predictions_table, read_for_model


def write_table(path: Path, seed: int = 0) -> pd.DataFrame:
    """Two vector modalities (a: 6 features, b: 4) on different scales, classes 1, 2, 3 and an
    id column: what a user's CSV looks like."""
    rng = np.random.default_rng(seed)
    y = np.repeat([1, 2, 3], 40)
    columns = {}
    for key, size, scale in (("a", 6, 100.0), ("b", 4, 0.1)):
        centers = rng.normal(size=(3, size)) * 2
        values = scale * (centers[y - 1] + rng.normal(size=(len(y), size)))
        columns.update({f"{key}.{i}": values[:, i] for i in range(size)})
    frame = pd.DataFrame(columns)
    frame.insert(0, "id", [f"s{i:03d}" for i in range(len(y))])
    frame["target"] = y
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A benchmark of two methods with --save-best, and the raw test rows of its first seed."""
    folder = tmp_path_factory.mktemp("bench")
    frame = write_table(folder / "table.csv")
    code = main(
        [
            "bench",
            "--dataset",
            str(folder / "table.csv"),
            "--methods",
            "early,unimodal[a]",
            "--seeds",
            "2",
            "--epochs",
            "3",
            "--jobs",
            "1",
            "--no-report",
            "--quiet",
            "--save-best",
            "--output",
            str(folder / "results"),
        ]
    )
    assert code == 0
    test = split_dataset(from_csv(folder / "table.csv"), seed=0).test
    rows = frame.set_index("id").loc[test.metadata["id"]].reset_index()
    rows.to_csv(folder / "test.csv", index=False)
    return folder, frame, rows


def test_the_chosen_model_reproduces_its_run_in_a_fresh_process(bench) -> None:
    folder, _, rows = bench
    results = json.loads((folder / "results" / "results.json").read_text())
    chosen = results["chosen_on_validation"]
    method = chosen["method"]
    means = {
        m: np.mean([r[f"val_{chosen['metric']}"] for r in results["runs"] if r["method"] == m])
        for m in ("early", "unimodal[a]")
    }
    assert method == max(means, key=means.__getitem__)  # the validation mean, not the test's
    assert results["best_model"] == str(folder / "results" / "best")
    run = next(r for r in results["runs"] if r["method"] == method and r["seed"] == 0)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "intermodal.cli", "evaluate", str(folder / "results" / "best")),
            *("--dataset", str(folder / "test.csv"), "--json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["accuracy"] == run["accuracy"]
    predictions = folder / "predictions.csv"
    assert (
        main(
            [
                "predict",
                str(folder / "results" / "best"),
                "--dataset",
                str(folder / "test.csv"),
                "--output",
                str(predictions),
            ]
        )
        == 0
    )
    table = pd.read_csv(predictions)
    assert list(table["id"]) == list(rows["id"])  # the input's order and ids
    logits = np.load(
        folder / "results" / "runs" / f"{method.replace('[', '_').replace(']', '_')}__seed0.npy"
    )
    np.testing.assert_array_equal(table["prediction"], np.array([1, 2, 3])[logits.argmax(1)])
    probabilities = table[["probability.1", "probability.2", "probability.3"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-12)


def test_reversed_columns_some_classes_and_a_missing_column(
    bench, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _, rows = bench
    best = str(folder / "results" / "best")

    def predict(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        frame.to_csv(folder / f"{name}.csv", index=False)
        out = folder / f"{name}-predictions.csv"
        assert (
            main(
                [
                    "predict",
                    best,
                    "--dataset",
                    str(folder / f"{name}.csv"),
                    "--output",
                    str(out),
                    "--overwrite",
                ]
            )
            == 0
        )
        return pd.read_csv(out)

    a = [c for c in rows.columns if c.startswith("a.")]
    others = [c for c in rows.columns if c not in a]
    reversed_a = rows[[others[0], *a[::-1], *others[1:]]]
    assert list(reversed_a.columns[1:7]) == a[::-1]
    pd.testing.assert_frame_equal(predict(reversed_a, "reversed"), predict(rows, "plain"))

    full = predict(rows, "plain")
    some = rows[rows["target"] >= 2]
    expected = float(np.mean(full["prediction"][rows["target"] >= 2] == some["target"]))
    some.to_csv(folder / "some.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", best, "--dataset", str(folder / "some.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(expected, abs=1e-12)

    rows.drop(columns=["a.2"]).to_csv(folder / "missing.csv", index=False)
    assert main(["evaluate", best, "--dataset", str(folder / "missing.csv")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "lacks features '2' (columns 'a.2')" in error


def test_predictions_without_targets_and_bad_models(
    bench, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _, rows = bench
    best = str(folder / "results" / "best")
    rows.drop(columns=["target"]).to_csv(folder / "new.csv", index=False)
    out = folder / "new-predictions.csv"
    assert main(["predict", best, "--dataset", str(folder / "new.csv"), "--output", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(rows)
    assert main(["predict", best, "--dataset", str(folder / "new.csv"), "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["evaluate", best, "--dataset", str(folder / "new.csv")]) == 2
    assert "has no target column ['target']" in capsys.readouterr().err
    assert (
        main(["evaluate", best, "--dataset", str(folder / "test.csv"), "--task", "regression"]) == 2
    )
    assert "trained for classification, not regression" in capsys.readouterr().err
    rows.assign(**{"c.0": 1.0}).to_csv(folder / "extra.csv", index=False)
    assert main(["evaluate", best, "--dataset", str(folder / "extra.csv")]) == 2
    assert "has modalities 'c' that the model was not trained on" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--dataset", str(folder / "test.csv")]) == 2
    assert "is not a saved intermodal model" in capsys.readouterr().err
    damaged = folder / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    assert (
        main(
            [
                "predict",
                str(damaged),
                "--dataset",
                str(folder / "test.csv"),
                "--output",
                str(folder / "p.csv"),
            ]
        )
        == 2
    )
    assert "corrupt" in capsys.readouterr().err and not (folder / "p.csv").exists()


def test_train_saves_a_model_for_raw_data(tmp_path: Path, capsys) -> None:
    frame = write_table(tmp_path / "table.csv", seed=1)
    model = tmp_path / "model"
    code = main(
        [
            "train",
            "--dataset",
            str(tmp_path / "table.csv"),
            "--method",
            "early",
            "--epochs",
            "2",
            "--quiet",
            "--output",
            str(model),
        ]
    )
    assert code == 0 and "model saved to" in capsys.readouterr().out
    metadata = json.loads((model / "config.json").read_text())["metadata"]
    assert metadata["method"] == "early" and metadata["samples"]["train"] == 102
    pipeline = load_pipeline(model)
    shuffled = frame.sample(frac=1.0, random_state=0)
    table = predictions_table(pipeline, read_for_model(shuffled.set_index("id"), pipeline))
    assert list(table["id"]) == list(shuffled["id"])  # a data frame's index is the id
    assert (
        main(
            [
                "train",
                "--dataset",
                str(tmp_path / "table.csv"),
                "--method",
                "unimodal",
                "--output",
                str(tmp_path / "u"),
            ]
        )
        == 2
    )
    assert "train one: --method unimodal[a]" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--dataset",
                str(tmp_path / "table.csv"),
                "--method",
                "early",
                "--output",
                str(model),
            ]
        )
        == 2
    )
    assert "not empty" in capsys.readouterr().err


def test_multilabel_and_regression_predictions(tmp_path: Path) -> None:
    from intermodal.data import from_dataframe, stratified_split
    from intermodal.encoders import MLP
    from intermodal.metrics import predict
    from intermodal.models import UnimodalClassifier
    from intermodal.training import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    frame = pd.DataFrame({f"v.{i}": x[:, i] for i in range(3)})
    frame["big"], frame["odd"] = (x[:, 0] > 0).astype(int), (x[:, 1] > 0).astype(int)
    frame["score"] = 1000.0 + 10 * x[:, 2]
    for targets, task, outputs in ((["big", "odd"], "multilabel", 2), (["score"], "regression", 1)):
        data = from_dataframe(frame, {"v": ["v.0", "v.1", "v.2"]}, targets, task=task)
        torch.manual_seed(0)
        model = UnimodalClassifier("v", MLP(3, 4), MLP(4, outputs))
        pipeline = fit(model, stratified_split(data, seed=0), preprocess=True, max_epochs=2).model
        table = predictions_table(pipeline, read_for_model(frame[["v.0", "v.1", "v.2"]], pipeline))
        expected = predict(pipeline, data)
        if task == "multilabel":
            assert list(table.columns) == [
                "prediction.big",
                "prediction.odd",
                "probability.big",
                "probability.odd",
            ]
            np.testing.assert_array_equal(table[["prediction.big", "prediction.odd"]], expected)
        else:
            assert list(table.columns) == ["prediction"]
            np.testing.assert_allclose(table["prediction"], expected.numpy(), rtol=1e-6)


def test_rows_with_an_empty_modality_have_it_absent(bench) -> None:
    from intermodal.metrics import predict

    folder, _, rows = bench
    pipeline = load_pipeline(folder / "results" / "models" / "early")
    b = [c for c in rows.columns if c.startswith("b.")]
    blank = rows.copy()
    blank.loc[:9, b] = np.nan  # the first ten rows have no b
    read = read_for_model(blank, pipeline)
    assert read.data.masks["b"].tolist() == [False] * 10 + [True] * (len(rows) - 10)
    table = predictions_table(pipeline, read)
    present = torch.ones(len(rows), dtype=torch.bool)
    present[:10] = False
    full = read_for_model(rows, pipeline).data
    expected = predict(pipeline, full.with_masks({"b": present}))
    np.testing.assert_array_equal(table["prediction"], expected.numpy())
