"""Fixtures shared by every test: real files in tmp_path, never mocks of our own stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from observability.paths import DataLayout


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, empty data directory (created with mode 0700 like the real one)."""
    return DataLayout(tmp_path / "data").ensure().root


@pytest.fixture
def layout(data_dir: Path) -> DataLayout:
    return DataLayout(data_dir)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 API (moto's server) on 127.0.0.1, one per test module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
