from __future__ import annotations

import pytest

from intermodal.data import MultimodalDataset
from tests.helpers import blobs


@pytest.fixture
def toy() -> MultimodalDataset:
    return blobs()
