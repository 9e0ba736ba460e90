"""The results folder of a benchmark: its one owner, for the command line and Python alike.

Layout::

    runs/METHOD__seedS.json   one finished run each, written as soon as it finishes
                              (runs/METHOD__seedS__foldF.json under --cv K)
    runs/METHOD__seedS.npy    its test outputs (logits or values), for intervals and tests
    tuning/METHOD.json        with --trials: the method's tuning record (every trial, the chosen
                              setting, why), written when its tuning finishes; a resume reuses it
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
leaves whole files only, and ``resume`` continues from the finished runs. One benchmark at a time
writes a folder: it holds the lock of the hidden file ``.intermodal.lock`` there (an OS lock,
released when the process ends, however it ends). Until its first run is saved, a benchmark
can be undone (:meth:`ResultsFolder.rollback`): the folder is left as it was found.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import warnings
import weakref
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

try:
    import fcntl
except ImportError:  # not a POSIX system: folders are not locked
    fcntl = None  # type: ignore[assignment]

FORMAT = "intermodal-results"
"""The ``format`` of ``settings.json`` and ``results.json``, which mark a results folder."""
MANIFESTS = ("settings.json", "results.json")
"""The files that mark a folder as a benchmark's results folder (``settings.json`` is written
before the first run, ``results.json`` when a benchmark is saved)."""
FILES = (*MANIFESTS, "results.csv", "summary.md", "analysis.json", "report.html")
"""The files a benchmark writes at the top of its folder."""


def _run_file(entry: Path) -> bool:
    return entry.is_file() and entry.suffix in (".json", ".npy")


def _json_file(entry: Path) -> bool:
    return entry.is_file() and entry.suffix == ".json"


def _figure(entry: Path) -> bool:
    return entry.is_file() and entry.suffix == ".png"


def _saved_model(entry: Path) -> bool:
    return entry.is_dir() and all(
        p.name in ("config.json", "model.safetensors") or p.name.startswith(".")
        for p in entry.iterdir()
    )


def _model_file(entry: Path) -> bool:
    return entry.is_file() and entry.name in ("config.json", "model.safetensors")


FOLDERS = {
    "runs": _run_file,
    "tuning": _json_file,
    "figures": _figure,
    "models": _saved_model,
    "best": _model_file,
}
"""The folders a benchmark writes, and what each holds."""
LOCK = ".intermodal.lock"
"""The hidden file whose lock a benchmark holds while it writes its folder (holding the
process id of the holder); like every hidden file, not a file of the results."""
REPLACED = ".intermodal-replaced-"
"""The prefix of the hidden folder where ``overwrite`` keeps the results it replaces until the
first new run is saved (so that a benchmark refused before then can put them back)."""


class FolderInUseError(BlockingIOError):
    """Another benchmark writes the results folder (it holds the folder's lock)."""


def _holder(handle: int) -> str:
    """``process N`` from a lock file's contents, or ``another process``."""
    try:
        pid = os.pread(handle, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


def _in_use(folder: Path, holder: str) -> FolderInUseError:
    return FolderInUseError(
        f"{folder} is in use by another benchmark ({holder}), which writes its results there; "
        "wait for it to finish, or choose another --output"
    )


def _try_lock(handle: int) -> bool:
    """Take the lock of ``handle`` without waiting: False when another process holds it. A file
    system that does not lock files (an old network share) counts as unlocked."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
    return True


def _probe_lock(folder: Path) -> None:
    """Refuse a folder whose lock another process holds, changing nothing."""
    if fcntl is None or not (folder / LOCK).is_file():
        return
    try:
        handle = os.open(folder / LOCK, os.O_RDWR)  # network file systems lock writable files
    except OSError:  # removed by its holder meanwhile, or not ours: the real lock decides
        return
    try:
        if not _try_lock(handle):
            raise _in_use(folder, _holder(handle))
    finally:
        os.close(handle)  # releases the lock taken to probe it


def _lock(folder: Path) -> int | None:
    """Hold the lock of ``folder``: the open descriptor of its lock file (created if needed),
    with this process's id written in it; None where files cannot be locked."""
    if fcntl is None:
        return None
    path = folder / LOCK
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(handle):
            holder = _holder(handle)
            os.close(handle)
            raise _in_use(folder, holder)
        try:  # a holder removes the file as it releases it: lock the file that is there now
            current = os.path.samestat(os.fstat(handle), os.stat(path))
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(handle)
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)
    return handle


def _unlock(folder: Path, handle: int | None) -> None:
    """Release the lock taken by :func:`_lock`, removing the lock file first (while holding it,
    so no other process holds a lock on a file that is gone)."""
    if handle is None:
        return
    with contextlib.suppress(OSError):
        if os.path.samestat(os.fstat(handle), os.stat(folder / LOCK)):
            os.unlink(folder / LOCK)
    os.close(handle)


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


def _holds_results(folder: Path) -> bool:
    """Whether ``folder`` holds files of a benchmark other than its ``settings.json``: a
    ``settings.json`` alone is left by a benchmark that ended before its first run was saved,
    and there is nothing to resume or overwrite."""
    return folder.is_dir() and bool(set(_contents(folder)[0]) - {folder / "settings.json"})


def _show(value: Any) -> str:
    return json.dumps(value) if value is not None else "unset"


class ResultsFolder:
    """Owns a results folder: its layout, the overwrite and resume policy, and atomic writes.

    A folder that holds anything a benchmark did not write is never used, and ``overwrite``
    removes only the files a benchmark wrote (by the layout above), in a folder marked by its
    ``settings.json`` or ``results.json``; hidden files are left alone. The folder is created,
    and checked to be writable, before any run trains.

    An open folder (not ``check_only``) holds the folder's lock until :meth:`close` (or the end
    of the process), so a second benchmark into the same folder is refused at once, naming the
    process that writes it. Until its first run is saved (:meth:`save_run`), :meth:`rollback`
    leaves the folder as it was found: what was written is removed, results that ``overwrite``
    replaced are put back (they wait in a hidden folder until then), and a folder that was
    created is removed. As a context manager it rolls back on an exception and closes.

    Args:
        path: the folder.
        overwrite: replace the results a previous benchmark left there.
        resume: keep them and skip the runs already finished.
        check_only: check all this and change nothing (the folder is neither created nor
            cleared), e.g. before the data are loaded.

    Raises:
        FileExistsError: if the folder holds results and neither ``overwrite`` nor ``resume`` is
            set, or holds other files (a folder that is not a results folder is never cleared).
        FolderInUseError: if another benchmark writes the folder.
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
        self._lock: int | None = None
        self._replaced: Path | None = None
        self._undo: dict[str, Any] | None = None
        self._remove: list[Path] = []
        self.undone = False
        """Whether :meth:`rollback` undid the benchmark (it had saved no run)."""
        if overwrite and resume:
            raise ValueError("choose one of overwrite (start again) and resume (continue)")
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"{self.path} is a file; choose a folder for the results")
        if self.path.is_dir():
            _probe_lock(self.path)
        self._check_contents(overwrite, resume)
        hint = "; choose another --output"
        if check_only:
            check_writable(self.path, "results folder", hint)
            return
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            ensure_writable(self.path, "results folder", hint)
            self._lock = _lock(self.path)
            self._release = weakref.finalize(self, _unlock, self.path, self._lock)
            ours = self._check_contents(overwrite, resume)  # again, now that it is ours alone
        except BaseException:
            if self._lock is not None:
                self._release()
            for folder in missing:
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        for stale in self.path.glob(REPLACED + "*"):  # of a benchmark that could not finish
            shutil.rmtree(stale, ignore_errors=True)
        if ours and (not resume or not _holds_results(self.path)):
            self._replaced = self.path / f"{REPLACED}{os.getpid()}"
            for entry in ours:
                target = self._replaced / entry.relative_to(self.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(entry, target)
            for name in FOLDERS:
                if (self.path / name).is_dir() and not any((self.path / name).iterdir()):
                    (self.path / name).rmdir()
        self._undo = {
            "kept": set(_contents(self.path)[0]),
            "folders": {name for name in FOLDERS if (self.path / name).is_dir()},
            "created": missing,
        }

    def _check_contents(self, overwrite: bool, resume: bool) -> list[Path]:
        """The benchmark's files in the folder (see :data:`FILES`), after checking that it may
        be used: it holds no other files, and results only when told ``overwrite`` or
        ``resume``. A ``settings.json`` alone (of a benchmark that ended before its first run
        was saved) is not results: there is nothing to resume or overwrite."""
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
        if _holds_results(self.path) and not resume and not overwrite:
            raise FileExistsError(
                f"{self.path} already holds results; pass --resume, --overwrite or another --output"
            )
        return ours

    # --- the lock, and undoing a benchmark that saved no run ------------------------------
    def close(self) -> None:
        """Release the folder's lock; the results that ``overwrite`` replaced are gone for good
        unless :meth:`rollback` put them back, and a folder that the rollback emptied is
        removed with the parents that were created for it. The folder can still be read and
        written without the lock."""
        if self._replaced is not None:
            shutil.rmtree(self._replaced, ignore_errors=True)
        self._replaced = self._undo = None
        if self._lock is not None:
            self._release()
            self._lock = None
        for folder in self._remove:
            with contextlib.suppress(OSError):  # only when empty (hidden files included)
                folder.rmdir()
        self._remove = []

    def rollback(self) -> None:
        """Undo a benchmark that has not saved a run yet (refused, failed or stopped before its
        first run finished): remove what it wrote and put back the results that ``overwrite``
        replaced; a folder created for it is removed when it is closed. After the first saved
        run this does nothing."""
        undo, self._undo = self._undo, None
        if undo is None:
            return
        self.undone = True
        for entry in _contents(self.path)[0]:
            if entry not in undo["kept"]:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for name in set(FOLDERS) - undo["folders"]:
            with contextlib.suppress(OSError):
                (self.path / name).rmdir()
        if self._replaced is not None:
            for root, _, files in os.walk(self._replaced):
                for name in files:
                    source = Path(root) / name
                    target = self.path / source.relative_to(self._replaced)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
            shutil.rmtree(self._replaced, ignore_errors=True)
            self._replaced = None
        self._remove = undo["created"]

    def _saved(self) -> None:
        """A run is saved: the benchmark can no longer be undone."""
        if self._undo is not None:
            self._undo = None
            if self._replaced is not None:
                shutil.rmtree(self._replaced, ignore_errors=True)
                self._replaced = None

    def __enter__(self) -> ResultsFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        """Undo the benchmark if it ends with an exception before its first saved run (see
        :meth:`rollback`); release the lock in any case."""
        if kind is not None:
            self.rollback()
        self.close()

    def differences(self, settings: dict[str, Any]) -> list[str]:
        """The settings in ``settings`` that differ from those saved with the runs, each as
        ``name: SAVED saved, NEW now`` (none when the folder has no saved settings, or no
        results to keep them for)."""
        path = self.path / "settings.json"
        if not path.is_file() or not _holds_results(self.path):
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
    def run_file(self, method: str, seed: int, fold: int | None = None) -> Path:
        """``runs/METHOD__seedS.json``, or ``runs/METHOD__seedS__foldF.json`` for a fold."""
        suffix = "" if fold is None else f"__fold{fold}"
        return self.path / "runs" / f"{file_name(method)}__seed{seed}{suffix}.json"

    def model_dir(self, method: str) -> Path:
        return self.path / "models" / file_name(method)

    def finished(
        self, method: str, seed: int, fold: int | None = None
    ) -> tuple[dict[str, Any], Tensor] | None:
        """The saved row and test outputs of a finished run (of ``fold`` under K-fold
        cross-validation) when resuming, or None when it must run (not saved, unreadable, or
        its seed-0 model, of the first fold, is missing)."""
        path = self.run_file(method, seed, fold)
        outputs_path = path.with_suffix(".npy")
        if not (self.resume and path.is_file() and outputs_path.is_file()):
            return None
        first = seed == 0 and fold in (None, 0)
        if first and not (self.model_dir(method) / "config.json").is_file():
            return None
        try:
            row = json.loads(path.read_text())
            outputs = torch.from_numpy(np.load(outputs_path, allow_pickle=False))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, OSError) as error:
            warnings.warn(f"{path} is corrupt ({error}); running it again", stacklevel=2)
            return None
        return (row, outputs) if isinstance(row, dict) else None

    def save_run(self, row: dict[str, Any], outputs: Tensor) -> None:
        """Save a finished run: its outputs first, then the row that marks it finished (its
        ``fold``, where it has one, is in its file name)."""
        path = self.run_file(row["method"], row["seed"], row.get("fold"))
        buffer = io.BytesIO()
        np.save(buffer, outputs.numpy(), allow_pickle=False)
        write_bytes_atomic(path.with_suffix(".npy"), buffer.getvalue())
        write_text_atomic(path, json.dumps(row))
        self._saved()

    def tuning_file(self, method: str) -> Path:
        return self.path / "tuning" / f"{file_name(method)}.json"

    def save_tuning(self, method: str, record: dict[str, Any]) -> None:
        """Keep the tuning record of ``method`` (``TuningResult.as_dict()``), so that a resumed
        benchmark trains its remaining seeds with the setting chosen and does not tune again."""
        write_text_atomic(
            self.tuning_file(method), json.dumps({"method": method, **record}, default=float)
        )

    def tuning_record(self, method: str) -> dict[str, Any] | None:
        """The saved tuning record of ``method`` when resuming, or None when it must be tuned
        (not saved, or unreadable)."""
        path = self.tuning_file(method)
        if not (self.resume and path.is_file()):
            return None
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
            warnings.warn(f"{path} is corrupt ({error}); tuning {method} again", stacklevel=2)
            return None
        if not isinstance(record, dict) or not isinstance(record.get("params"), dict):
            warnings.warn(f"{path} holds no chosen setting; tuning {method} again", stacklevel=2)
            return None
        record.pop("method", None)
        return record

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
            raise ValueError(
                f"{path} is corrupt ({error}); rebuild it without training again: run the same "
                f"intermodal bench command with --resume --output {self.path} (its saved runs are "
                "not trained again)"
            ) from None

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
        folder._lock = folder._replaced = folder._undo = None
        folder._remove, folder.undone = [], False
        return folder
