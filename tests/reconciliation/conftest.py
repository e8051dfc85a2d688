from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _settlement_storage(settings: Any, tmp_path: Path) -> None:
    settings.SETTLEMENT_STORAGE_DIR = tmp_path / "settlements"
