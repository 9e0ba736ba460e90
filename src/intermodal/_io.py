"""Atomic writes: write to a temporary sibling, then rename over the target.

Files and folders are created with the permissions of the user's umask (0644 and 0755 with the
usual umask 022), like any file the user writes, so that a shared report can be read by others.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path


def _sibling(path: Path, tag: str = "") -> Path:
    """A fresh hidden name beside ``path``: ``.NAME.[TAG.]RANDOM``."""
    return path.parent / f".{path.name}.{tag}{secrets.token_hex(6)}"


def _create_file(path: Path) -> tuple[int, Path]:
    """A new hidden sibling of ``path``, open for writing, with the umask's permissions."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        staging = _sibling(path)
        try:
            return os.open(staging, flags, 0o666), staging
        except FileExistsError:
            continue


def _create_directory(path: Path, tag: str = "") -> Path:
    """A new hidden sibling folder of ``path`` with the umask's permissions."""
    while True:
        staging = _sibling(path, tag)
        try:
            staging.mkdir(0o777)
            return staging
        except FileExistsError:
            continue


def _follow_umask(directory: Path) -> None:
    """Give every file and folder under ``directory`` the permissions a new one gets from the
    umask (libraries that write through their own temporary files create them 0600)."""
    folder_mode = stat.S_IMODE(directory.stat().st_mode)  # created with 0o777 & ~umask
    file_mode = folder_mode & 0o666
    for root, folders, files in os.walk(directory):
        for name in folders:
            os.chmod(os.path.join(root, name), folder_mode)
        for name in files:
            os.chmod(os.path.join(root, name), file_mode)


def check_writable(directory: Path, what: str = "folder", hint: str = "") -> None:
    """Check, changing nothing, that ``directory`` is or can be made a folder to write in, so a
    bad path is an error before any work rather than after it; ``hint`` (what to do) ends the
    message.

    Raises:
        OSError: naming the path and what is wrong (a file in the way, no permission).
    """
    directory = Path(directory)
    existing = next((p for p in (directory, *directory.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise FileExistsError(
            f"cannot create the {what} {directory}: {existing} is a file, not a folder{hint}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write in the {what} {directory} ({existing} is not writable){hint}"
        )


def ensure_writable(directory: Path, what: str = "folder", hint: str = "") -> None:
    """Create ``directory`` (and its parents) and check that files can be written in it (see
    :func:`check_writable`)."""
    directory = Path(directory)
    check_writable(directory, what, hint)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = _create_file(directory / "write-test")
        os.close(handle)
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot write in the {what} {directory} ({reason}){hint}"
        raise type(error)(message) from None


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = _create_file(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the whole new one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_directory_atomic(directory: Path, write: Callable[[Path], None], overwrite: bool) -> None:
    """Fill a temporary sibling directory with ``write(staging)``, then rename it to ``directory``.

    Raises:
        FileExistsError: if ``directory`` exists, is not empty and ``overwrite`` is False.
    """
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{directory} exists and is not empty; choose another path or overwrite it"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = _create_directory(directory)
    try:
        write(staging)
        _follow_umask(staging)
        if directory.exists():
            trash = _create_directory(directory, "old.")
            os.replace(directory, trash / directory.name)
            os.replace(staging, directory)
            shutil.rmtree(trash)
        else:
            os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
