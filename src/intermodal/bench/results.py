"""The results folder of a benchmark: its one owner, for the command line and Python alike.

Layout::

    runs/METHOD__seedS.json   one finished run each, written as soon as it finishes
    runs/METHOD__seedS.npy    its test outputs (logits or values), for intervals and tests
    models/METHOD/            the first seed's model of each method with its preprocessing
                              (config.json + model.safetensors): it predicts on raw data
    best/                     with --save-best: the model of the method chosen on validation
    results.csv               one row per (method, seed): test and validation metrics
    results.json              the configuration, the leaderboard, the runs and skipped methods
    settings.json             the settings that define the runs (a resume must match them)
    summary.md                the leaderboard as a Markdown table
    analysis.json             the analyses of the seed-0 models
    figures/*.png, report.html

Every file is written atomically (to a temporary sibling, then renamed), so an interrupted run
leaves whole files only, and ``resume`` continues from the finished runs.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from intermodal._io import (
    check_writable,
    ensure_writable,
    write_bytes_atomic,
    write_text_atomic,
)
from intermodal.saving import PreprocessingWarning, load_model, save_model

FORMAT = "intermodal-results"
"""The ``format`` of ``settings.json`` and ``results.json``, which mark a results folder."""
MANIFESTS = ("settings.json", "results.json")
"""The files that mark a folder as a benchmark's results folder (``settings.json`` is written
before the first run, ``results.json`` when a benchmark is saved)."""
FILES = (*MANIFESTS, "results.csv", "summary.md", "analysis.json", "report.html")
"""The files a benchmark writes at the top of its folder."""


def _run_file(entry: Path) -> bool:
    return entry.is_file() and entry.suffix in (".json", ".npy")


def _figure(entry: Path) -> bool:
    return entry.is_file() and entry.suffix == ".png"


def _saved_model(entry: Path) -> bool:
    return entry.is_dir() and all(
        p.name in ("config.json", "model.safetensors") or p.name.startswith(".")
        for p in entry.iterdir()
    )


def _model_file(entry: Path) -> bool:
    return entry.is_file() and entry.name in ("config.json", "model.safetensors")


FOLDERS = {"runs": _run_file, "figures": _figure, "models": _saved_model, "best": _model_file}
"""The folders a benchmark writes, and what each holds."""


def file_name(method: str) -> str:
    """A file-system-safe name for a method (``unimodal[pix]`` -> ``unimodal_pix_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", method)


def default_path(dataset: str) -> Path:
    """``intermodal-results/DATASET-YYYYmmdd-HHMMSS`` in the working directory."""
    return Path("intermodal-results") / f"{Path(dataset).name}-{datetime.now():%Y%m%d-%H%M%S}"


def _contents(folder: Path) -> tuple[list[Path], list[Path]]:
    """What a benchmark wrote in ``folder`` and what it did not (its files and those of its
    folders, by the layout above). Hidden entries (the staging files of atomic writes, a
    system's ``.DS_Store``) are neither: they are left alone."""
    ours: list[Path] = []
    foreign: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.name in FILES and entry.is_file():
            ours.append(entry)
        elif entry.name in FOLDERS and entry.is_dir():
            for item in sorted(entry.iterdir()):
                if not item.name.startswith("."):
                    (ours if FOLDERS[entry.name](item) else foreign).append(item)
        else:
            foreign.append(entry)
    return ours, foreign


def _is_manifest(path: Path) -> bool:
    """Whether ``path`` is a ``settings.json`` or ``results.json`` that a benchmark wrote (one
    of an earlier version has no ``format``, but its keys)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    legacy = {
        "settings.json": {"dataset", "epochs", "patience"},
        "results.json": {"config", "runs"},
    }
    return isinstance(document, dict) and (
        document.get("format") == FORMAT or legacy[path.name] <= set(document)
    )


def _names(entries: list[Path], root: Path, limit: int = 5) -> str:
    """The first ``limit`` of ``entries`` as paths relative to ``root`` (folders end in /)."""
    shown = [f"{e.relative_to(root)}{'/' if e.is_dir() else ''}" for e in entries[:limit]]
    more = f" and {len(entries) - limit} more" if len(entries) > limit else ""
    return ", ".join(shown) + more


def _show(value: Any) -> str:
    return json.dumps(value) if value is not None else "unset"


class ResultsFolder:
    """Owns a results folder: its layout, the overwrite and resume policy, and atomic writes.

    A folder that holds anything a benchmark did not write is never used, and ``overwrite``
    removes only the files a benchmark wrote (by the layout above), in a folder marked by its
    ``settings.json`` or ``results.json``; hidden files are left alone. The folder is created,
    and checked to be writable, before any run trains.

    Args:
        path: the folder.
        overwrite: replace the results a previous benchmark left there.
        resume: keep them and skip the runs already finished.
        check_only: check all this and change nothing (the folder is neither created nor
            cleared), e.g. before the data are loaded.

    Raises:
        FileExistsError: if the folder holds results and neither ``overwrite`` nor ``resume`` is
            set, or holds other files (a folder that is not a results folder is never cleared).
        OSError: if the folder cannot be created or written.
    """

    def __init__(
        self,
        path: str | Path,
        overwrite: bool = False,
        resume: bool = False,
        *,
        check_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.resume = resume
        if overwrite and resume:
            raise ValueError("choose one of overwrite (start again) and resume (continue)")
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"{self.path} is a file; choose a folder for the results")
        ours, foreign = _contents(self.path) if self.path.is_dir() else ([], [])
        if foreign:
            raise FileExistsError(
                f"{self.path} holds files that a benchmark did not write "
                f"({_names(foreign, self.path)}); nothing was changed: choose another --output "
                "(a new or empty folder)"
            )
        if ours and not any(_is_manifest(self.path / name) for name in MANIFESTS):
            present = [name for name in MANIFESTS if (self.path / name).is_file()]
            manifest = (
                f"its {' and '.join(present)} is corrupt or another program's"
                if present
                else "no settings.json or results.json"
            )
            raise FileExistsError(
                f"{self.path} holds {_names(ours, self.path)} but {manifest}, so it is not a "
                "results folder of intermodal; nothing was changed: choose another --output"
            )
        if ours and not resume and not overwrite:
            raise FileExistsError(
                f"{self.path} already holds results; pass --resume, --overwrite or another --output"
            )
        hint = "; choose another --output"
        if check_only:
            check_writable(self.path, "results folder", hint)
            return
        if not resume:
            for entry in ours:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            for name in FOLDERS:
                if (self.path / name).is_dir() and not any((self.path / name).iterdir()):
                    (self.path / name).rmdir()
        ensure_writable(self.path, "results folder", hint)

    def differences(self, settings: dict[str, Any]) -> list[str]:
        """The settings in ``settings`` that differ from those saved with the runs, each as
        ``name: SAVED saved, NEW now`` (none when the folder has no saved settings)."""
        path = self.path / "settings.json"
        if not path.is_file():
            return []
        try:
            saved = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is corrupt ({error}); start again with --overwrite") from None
        if not isinstance(saved, dict):
            raise ValueError(f"{path} is corrupt (not a mapping); start again with --overwrite")
        return [
            f"{name}: {_show(saved.get(name))} saved, {_show(settings[name])} now"
            for name in sorted(settings)
            if saved.get(name) != settings[name]
        ]

    def check(self, settings: dict[str, Any]) -> None:
        """Refuse to resume runs of other settings than ``settings`` (see :meth:`bind`)."""
        changed = self.differences(settings)
        if changed:
            raise ValueError(
                f"{self.path} holds runs of other settings ({'; '.join(changed)}); resume with "
                "the saved settings, or pass --overwrite or another --output"
            )
        runs = self.path / "runs"
        if not (self.path / "settings.json").is_file() and runs.is_dir() and any(runs.iterdir()):
            raise ValueError(
                f"{self.path} holds runs but no settings.json (an older intermodal wrote them), "
                "so their settings are unknown; pass --overwrite or another --output"
            )

    def bind(self, settings: dict[str, Any]) -> None:
        """Record the settings that define the runs (``settings.json``); a folder that holds
        runs of other settings is refused, naming each setting that differs, so a resume never
        mixes two benchmarks. Settings that do not change a run's result (jobs, threads, the
        backend) are not among them."""
        self.check(settings)
        path = self.path / "settings.json"
        if not path.is_file():
            write_text_atomic(path, json.dumps({"format": FORMAT, **settings}, indent=2))

    # --- runs and models ---------------------------------------------------------------------
    def run_file(self, method: str, seed: int) -> Path:
        return self.path / "runs" / f"{file_name(method)}__seed{seed}.json"

    def model_dir(self, method: str) -> Path:
        return self.path / "models" / file_name(method)

    def finished(self, method: str, seed: int) -> tuple[dict[str, Any], Tensor] | None:
        """The saved row and test outputs of a finished run when resuming, or None when it must
        run (not saved, unreadable, or its seed-0 model is missing)."""
        path = self.run_file(method, seed)
        outputs_path = path.with_suffix(".npy")
        if not (self.resume and path.is_file() and outputs_path.is_file()):
            return None
        if seed == 0 and not (self.model_dir(method) / "config.json").is_file():
            return None
        try:
            row = json.loads(path.read_text())
            outputs = torch.from_numpy(np.load(outputs_path, allow_pickle=False))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, OSError) as error:
            warnings.warn(f"{path} is corrupt ({error}); running it again", stacklevel=2)
            return None
        return (row, outputs) if isinstance(row, dict) else None

    def save_run(self, row: dict[str, Any], outputs: Tensor) -> None:
        """Save a finished run: its outputs first, then the row that marks it finished."""
        path = self.run_file(row["method"], row["seed"])
        buffer = io.BytesIO()
        np.save(buffer, outputs.numpy(), allow_pickle=False)
        write_bytes_atomic(path.with_suffix(".npy"), buffer.getvalue())
        write_text_atomic(path, json.dumps(row))

    def save_model(self, method: str, model: nn.Module) -> None:
        save_model(model, self.model_dir(method), overwrite=True)

    def load_model(self, method: str) -> nn.Module:
        """The saved first-seed model of ``method`` (a ``Pipeline``; a model saved by an earlier
        version without its preprocessing is loaded as it is, silently: the benchmark gives it
        preprocessed data)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PreprocessingWarning)
            return load_model(self.model_dir(method))

    @property
    def best_dir(self) -> Path:
        return self.path / "best"

    def save_best(self, model: nn.Module, metadata: dict[str, Any]) -> Path:
        """Keep ``model`` (the method chosen on validation) as ``best/``."""
        return save_model(model, self.best_dir, metadata=metadata, overwrite=True)

    # --- tables, analyses, report ------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        write_text_atomic(self.path / name, text)
        return self.path / name

    def write_json(self, name: str, document: Any) -> Path:
        return self.write_text(name, json.dumps(document, indent=2, default=float))

    def read_json(self, name: str) -> Any:
        path = self.path / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {self.path} holds no benchmark results")
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is corrupt ({error}); run the benchmark again") from None

    def write_figures(self, images: dict[str, bytes]) -> None:
        """Write the report's figures; figures of an earlier report that are not among them are
        removed."""
        for name, data in images.items():
            write_bytes_atomic(self.path / "figures" / name, data)
        for old in (self.path / "figures").glob("*.png"):
            if old.name not in images:
                old.unlink()

    @classmethod
    def existing(cls, path: str | Path) -> ResultsFolder:
        """An existing results folder, opened to read and rebuild its report."""
        path = Path(path)
        if not (path / "results.json").is_file():
            raise FileNotFoundError(
                f"{path / 'results.json'} not found: {path} holds no benchmark results"
            )
        folder = cls.__new__(cls)  # other files beside the results are left as they are
        folder.path, folder.resume = path, True
        return folder
