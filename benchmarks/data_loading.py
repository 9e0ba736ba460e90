"""Batched fetching (``MultimodalDataset.__getitems__``) against per-sample indexing and collation.

Run: python benchmarks/data_loading.py

Iterates one epoch of UCI Multiple Features (2,000 samples, six views) through a ``DataLoader``
with batch size 64 both ways and prints the times and their ratio, measured in the same run.
"""

from __future__ import annotations

import time

from torch.utils.data import DataLoader, Dataset

from intermodal.data import MultimodalDataset, Sample, collate, load_mfeat


class PerSample(Dataset[Sample]):
    """The same data set without ``__getitems__``: the loader fetches and stacks each sample."""

    def __init__(self, dataset: MultimodalDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        return self.dataset[index]


def epoch_time(dataset: Dataset[Sample], repeats: int = 5) -> float:
    loader = DataLoader(dataset, batch_size=64, shuffle=True, collate_fn=collate)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    data = load_mfeat()
    batched, per_sample = epoch_time(data), epoch_time(PerSample(data))
    print(f"per-sample fetch + collate: {1000 * per_sample:8.2f} ms / epoch (baseline)")
    print(f"batched __getitems__:       {1000 * batched:8.2f} ms / epoch")
    print(f"speed-up: {per_sample / batched:.1f}x")


if __name__ == "__main__":
    main()
