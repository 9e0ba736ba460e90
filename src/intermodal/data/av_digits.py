"""AV-digits: real handwritten digit images paired by label with real spoken digits."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.fsdd import find_recordings, log_mel_spectrogram, read_wav
from intermodal.data.mfeat import load_mfeat

TEST_IMAGES_PER_CLASS = 40
"""Handwritten images of each digit reserved for the test split (of 200)."""


def load_av_digits(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    waveforms: bool = False,
    seed: int = 0,
) -> MultimodalDataset:
    """One sample per FSDD recording (3,000), paired with a handwritten image of the same digit.

    Modalities:
        ``audio``: log-mel spectrogram ``(64, 40)`` (frames x mel bands, 1 s at 8 kHz; see
        :func:`~intermodal.data.fsdd.log_mel_spectrogram`), kind ``sequence``;
        ``image``: the 16 x 15 pixel view of UCI Multiple Features ``(1, 16, 15)`` in [0, 1];
        ``waveform`` (if ``waveforms``): the raw recording centered in or cropped to 1 s
        ``(8000,)``, kind ``audio``.

    Pairing respects the official FSDD split: recordings with takes 0-4 form the test split and
    are paired with images from a test set of ``TEST_IMAGES_PER_CLASS`` images per digit; the
    other recordings with the remaining images. Each recording appears once; within a split an
    image is drawn at random (``seed``) among those of the same digit. Metadata: ``split``,
    ``speaker`` (a nuisance factor), ``take``, ``file`` and ``image_index`` (row in mfeat).

    Args:
        root: a local FSDD copy (the folder of .wav files or its parent); default: the cache,
            downloading FSDD if ``download``.
    """
    recordings = find_recordings(root, download)
    mfeat = load_mfeat(["pix"])
    images = mfeat.modalities["pix"].numpy().reshape(-1, 1, 16, 15) / 6.0
    image_labels = mfeat.targets.numpy()
    rng = np.random.default_rng(seed)
    pools: dict[tuple[str, int], np.ndarray] = {}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(image_labels == digit))
        pools["test", digit] = members[:TEST_IMAGES_PER_CLASS]
        pools["train", digit] = members[TEST_IMAGES_PER_CLASS:]
    image_index = np.array([rng.choice(pools[r.split, r.digit]) for r in recordings])
    files = tuple(
        (str(r.path), r.path.stat().st_size, r.path.stat().st_mtime_ns) for r in recordings
    )
    audio, raw = _audio(files, waveforms)
    modalities = {"audio": audio.copy(), "image": images[image_index].astype(np.float32)}
    kinds = {"audio": "sequence", "image": "image"}
    if waveforms:
        modalities["waveform"] = raw.copy()
        kinds["waveform"] = "audio"
    return MultimodalDataset(
        modalities,
        np.array([r.digit for r in recordings]),
        kinds=kinds,
        metadata={
            "split": np.array([r.split for r in recordings]),
            "speaker": np.array([r.speaker for r in recordings]),
            "take": np.array([r.take for r in recordings]),
            "file": np.array([r.path.name for r in recordings]),
            "image_index": image_index,
        },
        name="av-digits",
    )


@functools.lru_cache(maxsize=2)
def _audio(
    files: tuple[tuple[str, int, int], ...], waveforms: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel spectrograms (and 1 s waveforms) of the recordings, computed once per process for
    the same files (path, size and modification time)."""
    audio, raw = [], []
    for path, _, _ in files:
        samples = read_wav(Path(path))
        audio.append(log_mel_spectrogram(samples))
        if waveforms:
            start = max(0, (len(samples) - 8000) // 2)
            clip = samples[start : start + 8000]
            left = (8000 - len(clip)) // 2
            raw.append(np.pad(clip, (left, 8000 - len(clip) - left)))
    return np.stack(audio), np.stack(raw) if waveforms else np.zeros((0,))
