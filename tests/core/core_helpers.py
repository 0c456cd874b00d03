"""Helpers for the core tests (a module, not a conftest, so tests can import it by name)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from observability.config.observability_config import ObservabilityConfig, QueueConfig, WriterConfig


def fast_config(maxsize: int = 10_000, **writer: object) -> ObservabilityConfig:
    """Small intervals so tests see health rows and closes quickly."""
    w = {"health_interval_seconds": 0.1, "close_timeout_seconds": 10.0, **writer}
    return ObservabilityConfig(queue=QueueConfig(maxsize=maxsize), writer=WriterConfig.model_validate(w))


def rows(data_dir: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{data_dir / 'sqlite' / 'live.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@contextmanager
def fault_seam(data_dir: Path, *, active: bool = True) -> Iterator[Path]:
    """Writers started inside the block watch `data_dir/fault`: while it exists, every commit fails as
    on a full disk. `active` creates the file at once; delete it to clear the fault."""
    from observability.core.writer_process import FAULT_FILE_ENV

    fault = data_dir / "fault"
    if active:
        fault.touch()
    os.environ[FAULT_FILE_ENV] = str(fault)
    try:
        yield fault
    finally:
        del os.environ[FAULT_FILE_ENV]
