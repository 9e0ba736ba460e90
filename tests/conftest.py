from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from intermodal.data import MultimodalDataset
from tests.helpers import blobs


@pytest.fixture
def toy() -> MultimodalDataset:
    return blobs()


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory for the test, which must still be empty afterwards: a command
    writes only where it is told to."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    yield folder
    assert sorted(p.name for p in folder.iterdir()) == []
