"""live_feed -> Parquet by seq watermark: exactly once, whatever crashes when.

One export step: read rows with seq in (W, W+chunk] (W = `export_state.exported_seq`), write one
file per (date, symbol) partition named `<first_seq>-<last_seq>.parquet` atomically and durably,
and only then advance W in the same live.db. Every crash point is safe:
- before a rename: only a hidden temp file exists; the next run deletes it;
- after some renames, before W moves: those files start above W, so readers ignore them and the
  next run deletes them (their rows are still in live.db: pruning never passes W);
- after W moves: done.
Rows for a chunk are deterministic, so a re-export after such a crash writes the same files again.
A file lock serialises the exporter, compaction and pruning of one data directory.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from observability.core.io.dataset import Target, file_name, list_files, open_target, partition_path, split_files
from observability.core.io.files import delete_files, remove_temp_files, write_parquet
from observability.core.io.live_rows import fetch_raw, file_table, new_duck, widen
from observability.core.live_store import exported_seq, open_live_db
from observability.errors import DataDirError
from observability.paths import DataLayout

CHUNK_ROWS: Final = 250_000
"""Rows per export step: bounds memory, and keeps files large (few files make fast queries)."""


@dataclass(frozen=True)
class ExportResult:
    rows: int
    files: int
    bytes: int
    first_seq: int | None
    last_seq: int | None
    watermark: int
    reconciled_files: int
    """Files from an interrupted run (orphans above the watermark, temp files, merged sources) removed."""
    seconds: float


@contextmanager
def dataset_lock(layout: DataLayout) -> Iterator[None]:
    """Exclusive lock of the data directory's dataset (exporter, compaction, retention); freed on kill -9."""
    layout.sqlite_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(layout.sqlite_dir / "dataset.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def set_watermark(conn: sqlite3.Connection, key: str, seq: int) -> None:
    conn.execute(
        "INSERT INTO export_state (target, exported_seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(target) DO UPDATE SET exported_seq = excluded.exported_seq, updated_at = excluded.updated_at",
        (key, seq, time.time_ns() // 1000),
    )


def reconcile(target: Target, watermark: int | None) -> int:
    """Remove what an interrupted export or compaction left behind; return how many files."""
    _, orphans, covered = split_files(list_files(target), watermark)
    delete_files(target, [f.path for f in orphans + covered])
    return len(orphans) + len(covered) + remove_temp_files(target)


def _partitions(wide: pa.Table) -> Iterator[pa.Table]:
    """Split a seq-ordered chunk by (date, symbol), keeping seq order inside each part."""
    keys = wide.select(["date", "symbol"]).group_by(["date", "symbol"], use_threads=False).aggregate([])
    for day, symbol in zip(keys["date"], keys["symbol"], strict=True):
        sym_mask = pc.is_null(wide["symbol"]) if symbol.as_py() is None else pc.equal(wide["symbol"], symbol)
        yield wide.filter(pc.and_(pc.equal(wide["date"], day), sym_mask))


def export_once(layout: DataLayout, *, max_rows: int | None = None, uri: str | None = None) -> ExportResult:
    """Export every row above the watermark (at most `max_rows`) to Parquet; safe to call any time."""
    started = time.perf_counter()
    target = open_target(layout, uri)
    if not layout.live_db.exists():
        raise DataDirError(f"{layout.live_db}: no live feed database to export; run the engine or "
                           "`huracan-obs demo` first, or pass the right --data-dir")
    conn = open_live_db(layout.live_db)
    duck = new_duck()
    rows = files = size = 0
    first: int | None = None
    try:
        with dataset_lock(layout):
            watermark = exported_seq(conn, target.state_key)
            reconciled = reconcile(target, watermark)
            while max_rows is None or rows < max_rows:
                limit = CHUNK_ROWS if max_rows is None else min(CHUNK_ROWS, max_rows - rows)
                raw = fetch_raw(conn, after_seq=watermark, limit=limit)
                if raw.num_rows == 0:
                    break
                wide = widen(duck, raw)
                for part in _partitions(wide):
                    lo, hi = int(part["seq"][0].as_py()), int(part["seq"][-1].as_py())
                    day, symbol = part["date"][0].as_py(), part["symbol"][0].as_py()
                    size += write_parquet(target, f"{partition_path(day, symbol)}/{file_name(lo, hi)}",
                                          file_table(part))
                    files += 1
                first = first if first is not None else int(raw["seq"][0].as_py())
                watermark = int(raw["seq"][-1].as_py())
                set_watermark(conn, target.state_key, watermark)
                rows += raw.num_rows
    finally:
        duck.close()
        conn.close()
    return ExportResult(rows=rows, files=files, bytes=size, first_seq=first,
                        last_seq=watermark if rows else None, watermark=watermark,
                        reconciled_files=reconciled, seconds=time.perf_counter() - started)
