"""live.db retention: keep a hot window, delete only rows that are safely elsewhere.

A row may go when it is older than the hot window (config `retention.live_hot_hours`, 24 h by
default) AND at or below the exported watermark (it is in durable Parquet) AND, when a trade
journal exists, at or below the journal's projected watermark (the journal has seen it; prune
runs the projector first, so a journal nobody projects cannot block retention).
Deletion runs in short batches (`live_store.prune_live_feed`) so the writer never waits long.
No dataset lock is needed: watermarks only grow, and rows at or below them stay in Parquet
whatever the exporter or compaction does meanwhile.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from observability.core.io.dataset import open_target
from observability.core.io.journal import JournalProjector, journal_watermark
from observability.core.live_store import exported_seq, open_live_db, prune_health, prune_live_feed
from observability.errors import DataDirError
from observability.paths import DataLayout

STEP_SEQS: Final = 100_000
"""Seq span deleted per progress step."""


@dataclass(frozen=True)
class PruneResult:
    rows: int
    health_rows: int
    safe_seq: int
    cutoff_us: int
    dry_run: bool


def _count(conn: sqlite3.Connection, safe_seq: int, cutoff_us: int) -> int:
    sql = "SELECT count(*) FROM live_feed WHERE seq <= ? AND ts_event < ?"
    row = conn.execute(sql, (safe_seq, cutoff_us)).fetchone()
    return int(row[0])


def prune(
    layout: DataLayout, *, hot_hours: float = 24.0, health_keep_hours: float = 72.0, uri: str | None = None,
    dry_run: bool = False, batch_rows: int = 20_000, now: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PruneResult:
    """Delete live rows older than the hot window that are exported (and journaled); report counts.

    `on_progress(done, total)` is called after each step, for a progress bar.
    """
    if not layout.live_db.exists():
        raise DataDirError(f"{layout.live_db}: no live feed database to prune; check --data-dir")
    clock = time.time() if now is None else now
    cutoff_us = int((clock - hot_hours * 3600.0) * 1_000_000)
    health_cutoff_us = int((clock - health_keep_hours * 3600.0) * 1_000_000)
    key = open_target(layout, uri).state_key
    conn = open_live_db(layout.live_db)
    try:
        safe_seq = exported_seq(conn, key)
        if not dry_run and layout.journal_db.exists():
            JournalProjector(layout).run_once()  # let the journal see every row before any can go
        journal = journal_watermark(layout)
        if journal is not None:
            safe_seq = min(safe_seq, journal)
        total = _count(conn, safe_seq, cutoff_us)
        if dry_run:
            sql = "SELECT count(*) FROM health WHERE ts < ?"
            health = int(conn.execute(sql, (health_cutoff_us,)).fetchone()[0])
            return PruneResult(total, health, safe_seq, cutoff_us, True)
        done = 0
        lo_row = conn.execute("SELECT min(seq) FROM live_feed").fetchone()
        step_end = int(lo_row[0] or 0) - 1
        while done < total and step_end < safe_seq:
            step_end = min(step_end + STEP_SEQS, safe_seq)
            done += prune_live_feed(conn, older_than_us=cutoff_us, max_seq_inclusive=step_end,
                                    batch_rows=batch_rows)
            if on_progress is not None:
                on_progress(done, total)
        health = prune_health(conn, older_than_us=health_cutoff_us)
    finally:
        conn.close()
    return PruneResult(done, health, safe_seq, cutoff_us, False)
