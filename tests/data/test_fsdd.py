from __future__ import annotations

import shutil
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

from intermodal.data import load_av_digits, load_mfeat
from intermodal.data.fsdd import (
    download_fsdd,
    find_recordings,
    log_mel_spectrogram,
    manifest,
    read_wav,
)
from tests.helpers import SHARED_DATA

FSDD = SHARED_DATA / "fsdd"
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason="no local FSDD copy")


def test_log_mel_equals_a_direct_stft_and_mel_computation() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=5000).astype(np.float32)
    got = log_mel_spectrogram(samples, n_fft=256, hop=128, n_mels=40, frames=64)
    assert got.shape == (64, 40)
    length = 63 * 128
    x = np.zeros(length)
    left = (length - 5000) // 2
    x[left : left + 5000] = samples
    x = np.concatenate([np.zeros(128), x, np.zeros(128)])
    hz = np.linspace(0, 4000, 129)
    mel_points = np.linspace(0, 2595 * np.log10(1 + 4000 / 700), 42)
    edges = 700 * (10 ** (mel_points / 2595) - 1)
    filters = np.zeros((40, 129))
    for m in range(40):
        for k in range(129):
            lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
            if lo <= hz[k] <= mid:
                filters[m, k] = (hz[k] - lo) / (mid - lo)
            elif mid < hz[k] <= hi:
                filters[m, k] = (hi - hz[k]) / (hi - mid)
    for t in (0, 17, 63):
        frame = x[t * 128 : t * 128 + 256] * np.hanning(257)[:256]
        spectrum = np.array(
            [
                abs(sum(frame[n] * np.exp(-2j * np.pi * k * n / 256) for n in range(256))) ** 2
                for k in range(129)
            ]
        )
        np.testing.assert_allclose(got[t], np.log(filters @ spectrum + 1e-6), rtol=1e-4, atol=1e-4)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(8000)
        stream.writeframes((samples * 32767).astype("<i2").tobytes())


def test_read_wav_and_clear_errors(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", np.array([0.0, 0.5, -0.5]))
    np.testing.assert_allclose(read_wav(tmp_path / "ok.wav"), [0.0, 0.5, -0.5], atol=1e-4)
    (tmp_path / "bad.wav").write_bytes(b"RIFF1234WAVEjunk")
    with pytest.raises(ValueError, match=r"bad\.wav is not a readable WAV file"):
        read_wav(tmp_path / "bad.wav")
    with pytest.raises(FileNotFoundError, match=r"missing\.wav"):
        read_wav(tmp_path / "missing.wav")


@needs_fsdd
def test_corrupt_or_missing_recording_names_the_file(tmp_path: Path) -> None:
    copy = tmp_path / "recordings"
    shutil.copytree(FSDD / "recordings", copy)
    (copy / "3_theo_7.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match=r"3_theo_7\.wav"):
        load_av_digits(copy)
    (copy / "3_theo_7.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"3_theo_7\.wav"):
        find_recordings(copy)


@needs_fsdd
def test_av_digits_pairs_within_the_official_split() -> None:
    data = load_av_digits(FSDD)
    assert len(data) == 3000 and data.shapes == {"audio": (64, 40), "image": (1, 16, 15)}
    split, take = data.metadata["split"], data.metadata["take"]
    assert ((split == "test") == (take < 5)).all() and (split == "test").sum() == 300
    assert len(set(data.metadata["file"])) == 3000  # every recording once
    images = data.metadata["image_index"]
    assert not set(images[split == "test"]) & set(images[split == "train"])
    mfeat = load_mfeat(["pix"])
    assert (mfeat.targets.numpy()[images] == data.targets.numpy()).all()  # labels agree
    np.testing.assert_allclose(
        data.modalities["image"].numpy().reshape(3000, -1),
        mfeat.modalities["pix"].numpy()[images] / 6.0,
    )
    assert set(data.metadata["speaker"]) == {
        "george",
        "jackson",
        "lucas",
        "nicolas",
        "theo",
        "yweweler",
    }


@needs_fsdd
def test_download_verifies_and_an_interrupted_download_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "fsdd.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((FSDD / "recordings").glob("*.wav")):
            zipped.write(path, f"free-spoken-digit-dataset-1.0.10/recordings/{path.name}")
    cache = tmp_path / "cache"
    folder = download_fsdd(cache, url=archive.as_uri())
    assert folder == cache / "fsdd" / "recordings" and len(list(folder.glob("*.wav"))) == len(
        manifest()
    )
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    other = tmp_path / "other"
    with pytest.raises(OSError, match="could not download FSDD"):
        download_fsdd(other, url=truncated.as_uri())
    assert list((other / "fsdd").iterdir()) == []  # no partial data set, no leftovers
