"""live.db: pragmas, pruning in batches without reusing seq, read-only readers."""

from __future__ import annotations

import sqlite3

import pytest

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db, open_readonly, prune_live_feed
from observability.errors import DataDirError
from observability.paths import DataLayout

T0 = 1_790_000_000.0


def events(n: int, start: float = T0) -> list[dict]:
    return [builders.error(component="c", error_type="e", message=str(i), ts_event=start + i) for i in range(n)]


def test_pruning_in_batches_never_resets_seq(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events(250))
    deleted = prune_live_feed(conn, older_than_us=int((T0 + 1000) * 1e6), batch_rows=40)
    assert deleted == 250
    assert conn.execute("SELECT count(*) FROM live_feed").fetchone() == (0,)
    ingest_events(conn, events(1, start=T0 + 2000))
    assert conn.execute("SELECT seq FROM live_feed").fetchone() == (251,)


def test_pruning_stops_at_the_exported_seq(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events(100))
    assert prune_live_feed(conn, older_than_us=int((T0 + 1000) * 1e6), max_seq_inclusive=60) == 60
    assert conn.execute("SELECT min(seq), max(seq) FROM live_feed").fetchone() == (61, 100)


def test_live_db_uses_wal_and_bounded_journal(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA journal_size_limit").fetchone() == (64 * 1024 * 1024,)


def test_readers_cannot_write(layout: DataLayout) -> None:
    open_live_db(layout.live_db).close()
    ro = open_readonly(layout.live_db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("DELETE FROM live_feed")


def test_a_missing_database_is_a_clear_error_for_readers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataDirError, match="no live feed database here"):
        open_readonly(tmp_path / "sqlite" / "live.db")


def test_a_corrupt_file_is_a_clear_error_and_is_not_overwritten(layout: DataLayout) -> None:
    layout.live_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataDirError, match="cannot open as a live feed database"):
        open_live_db(layout.live_db)
    assert layout.live_db.read_bytes().startswith(b"this is not a database")
