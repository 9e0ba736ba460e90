"""The Free Spoken Digit Dataset (FSDD): reading, verified download, log-mel spectrograms.

FSDD (Zohar Jackson and contributors, https://github.com/Jakobovski/free-spoken-digit-dataset,
CC BY-SA 4.0): 3,000 mono 8 kHz recordings, 6 speakers x 10 digits x 50 takes, named
``{digit}_{speaker}_{take}.wav``. Official split: takes 0-4 are the test set.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import wave
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip"
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    take: int

    @property
    def split(self) -> str:
        """``test`` for takes 0-4 (the official split), else ``train``."""
        return "test" if self.take < 5 else "train"


def data_home() -> Path:
    """Where downloaded data sets live: ``$INTERMODAL_DATA``, else the platform's cache folder."""
    if os.environ.get("INTERMODAL_DATA"):
        return Path(os.environ["INTERMODAL_DATA"])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "intermodal"


def manifest() -> dict[str, str]:
    """File name -> SHA-256 of every FSDD recording (shipped with the package)."""
    source = resources.files("intermodal.data").joinpath("files/fsdd-sha256.txt.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as lines:
        return {name: digest for digest, name in (line.split() for line in lines)}


_VERIFIED: dict[Path, tuple[int, int]] = {}
"""Recordings whose SHA-256 matched, with the (size, modification time in ns) they had then: a
file unchanged since is not hashed again in this process."""


def _verify(recordings: Path, expected: dict[str, str], fix: str) -> None:
    """Check that ``recordings`` holds every file of ``expected`` (name -> SHA-256) with that
    content; a file whose size and modification time match an earlier check is not re-read.

    Raises:
        FileNotFoundError: files are missing (the message names them).
        ValueError: files do not match their checksums (named, with ``fix``: what to do).
    """
    stats: dict[str, tuple[int, int]] = {}
    with os.scandir(recordings) as entries:
        for entry in entries:
            if entry.name in expected and entry.is_file():
                stat = entry.stat()
                stats[entry.name] = (stat.st_size, stat.st_mtime_ns)
    missing = sorted(set(expected) - set(stats))
    if missing:
        raise FileNotFoundError(
            f"{recordings} lacks {len(missing)} of the {len(expected)} FSDD recordings "
            f"({_names(missing)}); {fix}"
        )
    corrupt = []
    for name in sorted(expected):
        path = recordings / name
        if _VERIFIED.get(path) == stats[name]:
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() == expected[name]:
            _VERIFIED[path] = stats[name]
        else:
            _VERIFIED.pop(path, None)
            corrupt.append(name)
    if corrupt:
        raise ValueError(
            f"{recordings}: {len(corrupt)} of the {len(expected)} FSDD recordings "
            f"{'does' if len(corrupt) == 1 else 'do'} not match their published SHA-256 "
            f"checksums (corrupt or modified files): {_names(corrupt)}; "
            f"{fix}"
        )


def _names(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def download_fsdd(cache: Path | None = None, url: str = FSDD_URL) -> Path:
    """Download FSDD into ``cache/fsdd/recordings`` (default cache: :func:`data_home`) unless it
    is there, verify every recording against the shipped SHA-256 manifest, and return the folder.

    The archive is downloaded and unpacked in a temporary folder beside the target and moved into
    place only once verified, so an interrupted or corrupt download leaves no partial data set.
    """
    target = (cache or data_home()) / "fsdd" / "recordings"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = manifest()
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as scratch:
        archive = Path(scratch) / "fsdd.zip"
        print(f"downloading the Free Spoken Digit Dataset from {url} ...", file=sys.stderr)
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
            with zipfile.ZipFile(archive) as zipped:
                members = [
                    m
                    for m in zipped.namelist()
                    if Path(m).name in expected and "/recordings/" in f"/{m}"
                ]
                unpacked = Path(scratch) / "recordings"
                unpacked.mkdir()
                for member in members:
                    (unpacked / Path(member).name).write_bytes(zipped.read(member))
        except (OSError, zipfile.BadZipFile) as error:
            raise OSError(
                f"could not download FSDD from {url} ({error}); download the recordings yourself "
                "and pass root=PATH (or --data-dir PATH)"
            ) from error
        _verify(unpacked, expected, f"the archive at {url} is not FSDD v1.0.10 as published")
        os.replace(unpacked, target)
    return target


def find_recordings(
    root: str | os.PathLike[str] | None = None, download: bool = True
) -> list[Recording]:
    """The 3,000 FSDD recordings under ``root`` (a folder with the .wav files, or one with a
    ``recordings`` subfolder); without ``root``, the cache, downloading FSDD if ``download``.

    Every recording is checked against the shipped SHA-256 manifest, local copies included
    (a file is hashed once per process while its size and modification time stay the same).

    Raises:
        FileNotFoundError: the folder or some recordings are missing.
        ValueError: some recordings do not match their checksums (the message names them).
    """
    if root is None:
        folder = data_home() / "fsdd" / "recordings"
        if not folder.is_dir():
            if not download:
                raise FileNotFoundError(
                    f"FSDD is not in {folder}; pass root=PATH to a local copy or download=True"
                )
            folder = download_fsdd()
    else:
        folder = Path(root)
        if (folder / "recordings").is_dir():
            folder = folder / "recordings"
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder of FSDD recordings")
    if root is None:
        fix = f"delete the folder {folder} and run again to download FSDD afresh"
    else:
        fix = (
            f"restore those files from FSDD v1.0.10 ({FSDD_URL}), or leave out root "
            f"(--data-dir) to download a verified copy into {data_home()}"
        )
    expected = manifest()
    _verify(folder, expected, fix)
    recordings = []
    for name in sorted(expected):
        digit, speaker, take = Path(name).stem.split("_")
        recordings.append(Recording(folder / name, int(digit), speaker, int(take)))
    return recordings


def read_wav(path: str | os.PathLike[str]) -> np.ndarray:
    """A mono 16-bit PCM WAV file as float32 samples in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    try:
        with wave.open(str(path), "rb") as stream:
            if stream.getsampwidth() != 2:
                raise ValueError(
                    f"{path}: expected 16-bit PCM, got {8 * stream.getsampwidth()}-bit"
                )
            frames = stream.readframes(stream.getnframes())
            channels = stream.getnchannels()
    except (wave.Error, EOFError) as error:
        raise ValueError(f"{path} is not a readable WAV file ({error})") from None
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if samples.size == 0:
        raise ValueError(f"{path} holds no audio samples")
    return samples


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters ``(n_mels, n_fft // 2 + 1)`` equally spaced on the HTK mel scale
    ``mel = 2595 log10(1 + f / 700)``, each with peak 1."""
    fmax = sample_rate / 2 if fmax is None else fmax
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_spectrogram(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 256,
    hop: int = 128,
    n_mels: int = 40,
    frames: int = 64,
) -> np.ndarray:
    """Log-mel spectrogram ``(frames, n_mels)`` of a waveform, at a fixed size.

    Periodic Hann windows of ``n_fft`` samples every ``hop`` samples (the signal is zero-padded
    by ``n_fft // 2`` at both ends), power spectrum, HTK mel filterbank, ``log(mel + 1e-6)``.
    The waveform is centered in, or cropped to, ``(frames - 1) * hop`` samples, so every
    spectrogram has the same shape (64 frames of 16 ms cover 1.0 s at 8 kHz).
    """
    length = (frames - 1) * hop
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) > length:
        start = (len(samples) - length) // 2
        samples = samples[start : start + length]
    else:
        left = (length - len(samples)) // 2
        samples = np.pad(samples, (left, length - len(samples) - left))
    padded = np.pad(samples, n_fft // 2)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    starts = np.arange(frames) * hop
    segments = padded[starts[:, None] + np.arange(n_fft)] * window
    power = np.abs(np.fft.rfft(segments, axis=1)) ** 2
    mel = power @ mel_filterbank(n_mels, n_fft, sample_rate).T
    return np.log(mel + 1e-6).astype(np.float32)
