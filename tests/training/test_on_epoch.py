"""``fit``'s epoch callback: it sees every epoch's record and can end training there."""

from __future__ import annotations

from intermodal.data.splits import split_dataset, standardize
from intermodal.encoders import MLP
from intermodal.fusion import ConcatFusion
from intermodal.models import FusionClassifier
from intermodal.training import fit, seed_everything
from tests.helpers import blobs


def model() -> FusionClassifier:
    seed_everything(0)
    encoders = {"a": MLP(5, 8), "b": MLP(3, 8)}
    return FusionClassifier(encoders, ConcatFusion({"a": 8, "b": 8}, 8), MLP(8, 3))


def test_the_callback_sees_each_record_and_stops_training() -> None:
    data = standardize(split_dataset(blobs(), seed=0))
    records: list[dict[str, float]] = []

    def stop_after_three(epoch: int, record: dict[str, float]) -> bool:
        assert epoch == record["epoch"]
        records.append(dict(record))
        return record["epoch"] == 2

    result = fit(model(), data, max_epochs=20, patience=20, on_epoch=stop_after_three)
    assert result.epochs == 3 and [r["epoch"] for r in records] == [0, 1, 2]
    assert records == result.history
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(records[0])
    assert result.best_epoch is not None and result.best_epoch <= 2
