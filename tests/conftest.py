from __future__ import annotations

from pathlib import Path

import pytest
from _paths import REALDATA


@pytest.fixture
def realdata() -> Path:
    """The LLaMA-Factory demo datasets; tests using it skip when the folder is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not available at {REALDATA}")
    return REALDATA
