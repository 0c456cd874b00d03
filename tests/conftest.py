"""Fixtures shared by every test: real files in tmp_path, never mocks of our own stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.paths import DataLayout


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, empty data directory (created with mode 0700 like the real one)."""
    return DataLayout(tmp_path / "data").ensure().root


@pytest.fixture
def layout(data_dir: Path) -> DataLayout:
    return DataLayout(data_dir)
