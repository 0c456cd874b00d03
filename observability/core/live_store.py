"""live.db: the SQLite WAL live feed (`live_feed`, `health`, `dead_letter`, `schema_meta`).

Pragmas, and why:
- journal_mode=WAL: one writer and many readers (the TUI, reports) at once; readers never block it.
- synchronous=NORMAL (default): in WAL a committed transaction survives a crash of the process;
  only an OS crash or power loss can undo the last commits. FULL is a config switch for boxes
  where that matters more than ~2x commit cost.
- busy_timeout=5000: the pruner, a second writer after a restart, or a checkpoint may hold the
  write lock briefly; wait rather than fail.
- journal_size_limit=64 MiB, SQLite's automatic PASSIVE checkpoint at commit (every 1000 pages),
  plus a checkpoint once a second from the writer's maintenance thread that TRUNCATEs when the WAL
  has grown past the limit: readers poll in short read transactions, so checkpoints always make
  progress and the WAL stays bounded while a reader polls 10x/s.
- seq is INTEGER PRIMARY KEY AUTOINCREMENT: strictly increasing and never reused, even after the
  newest rows are pruned (sqlite_sequence remembers the high-water mark).
- schema_meta.box_id names this box in a shared Parquet dataset (seq is only unique per box).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from observability.core.schemas import EventEnvelope, HealthSnapshot
from observability.core.sql_schema import column_ddl, columns_for
from observability.errors import DataDirError, SchemaVersionError

LIVE_SCHEMA_VERSION: Final = 1
JOURNAL_SIZE_LIMIT: Final = 64 * 1024 * 1024

# live_feed columns: seq, then the envelope in model order, then event_type, payload, ts_stored.
ENVELOPE_COLUMNS: Final = columns_for(EventEnvelope)
LIVE_FEED_COLUMNS: Final[tuple[str, ...]] = (
    *(c[0] for c in ENVELOPE_COLUMNS), "event_type", "payload", "ts_stored",
)
HEALTH_COLUMNS: Final = columns_for(HealthSnapshot)

LIVE_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS schema_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live_feed (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  {column_ddl(ENVELOPE_COLUMNS)},
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  ts_stored INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS live_feed_event_id ON live_feed(event_id);
CREATE INDEX IF NOT EXISTS live_feed_trace ON live_feed(trace_id) WHERE trace_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS health (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  {column_ddl(HEALTH_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS health_ts ON health(ts);
CREATE TABLE IF NOT EXISTS dead_letter (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_received INTEGER NOT NULL,
  event_id TEXT,
  event_type TEXT,
  error TEXT NOT NULL,
  raw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS export_state (
  target TEXT PRIMARY KEY,
  exported_seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
"""

INSERT_EVENT_SQL: Final = (
    f"INSERT OR IGNORE INTO live_feed ({', '.join(LIVE_FEED_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in LIVE_FEED_COLUMNS)})"
)
INSERT_HEALTH_SQL: Final = (
    f"INSERT INTO health ({', '.join(c[0] for c in HEALTH_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in HEALTH_COLUMNS)})"
)
INSERT_DEAD_LETTER_SQL: Final = (
    "INSERT INTO dead_letter (ts_received, event_id, event_type, error, raw) VALUES (?, ?, ?, ?, ?)"
)


def check_schema_version(conn: sqlite3.Connection, path: Path, expected: int = LIVE_SCHEMA_VERSION) -> int:
    """Raise SchemaVersionError when the file was written by a newer schema than this code knows."""
    try:
        row = conn.execute("SELECT value FROM schema_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    version = int(row[0]) if row else 0
    if version > expected:
        raise SchemaVersionError(
            f"{path}: schema version {version} is newer than this huracan-observability understands "
            f"({expected}); upgrade the package (pip install -U huracan-observability) to read it"
        )
    return version


PAGE_SIZE: Final = 16384
"""For new databases (an existing one keeps its size: WAL mode cannot change it). Measured on simulator
events: inserts −17 % CPU against the 4096 default, as each page holds ~25 rows instead of ~6."""


def apply_pragmas(conn: sqlite3.Connection, *, synchronous: str = "NORMAL") -> None:
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")


def open_live_db(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open (creating if needed) live.db for writing: pragmas, schema, version check."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        check_schema_version(conn, path)
        apply_pragmas(conn, synchronous=synchronous)
        conn.executescript(LIVE_DDL)
        conn.execute(
            "INSERT OR IGNORE INTO schema_meta(key, value) VALUES ('schema_version', ?)",
            (str(LIVE_SCHEMA_VERSION),),
        )
        _ensure_box_id(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataDirError(f"{path}: cannot open as a live feed database ({exc}); "
                           "move it aside or point --data-dir elsewhere") from None
    return conn


def open_readonly(path: Path, *, what: str = "live feed") -> sqlite3.Connection:
    """Open any of our SQLite files read-only (mode=ro): readers can never write or create data."""
    if not path.exists():
        raise DataDirError(
            f"{path}: no {what} database here; start the engine (or `huracan-obs demo`) or pass --data-dir"
        )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=2000")
    try:
        check_schema_version(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataDirError(f"{path}: not a readable {what} database ({exc}); check --data-dir") from None
    except Exception:
        conn.close()
        raise
    return conn


def checkpoint(path: Path) -> None:
    """PASSIVE checkpoint; TRUNCATE when the WAL has grown past the size limit.

    Called once a second from the writer's maintenance thread on its own short-lived connection
    with a short busy timeout, so a reader holding an old snapshot can delay a TRUNCATE but never
    stall the commit thread.
    """
    wal = path.with_name(path.name + "-wal")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=100")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with contextlib.suppress(FileNotFoundError):
            if wal.stat().st_size > JOURNAL_SIZE_LIMIT:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def insert_events(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
    conn.executemany(INSERT_EVENT_SQL, rows)


def max_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'live_feed'").fetchone()
    return int(row[0]) if row else 0


def _ensure_box_id(conn: sqlite3.Connection) -> None:
    """Give a new live.db a random box id; one that exported to a shared dataset before box ids existed
    keeps "" (its files' names there carry no box), so its own earlier files stay its own. An export into
    its own data directory (state key 'parquet', which every box did by default) does not count: names
    there never carry a box, and every upgraded box would otherwise share the id ""."""
    if conn.execute("SELECT 1 FROM schema_meta WHERE key = 'box_id'").fetchone():
        return
    exported_before = conn.execute("SELECT 1 FROM export_state WHERE target <> 'parquet' LIMIT 1").fetchone()
    conn.execute("INSERT OR IGNORE INTO schema_meta(key, value) VALUES ('box_id', ?)",
                 ("" if exported_before is not None else secrets.token_hex(4),))


def box_id(conn: sqlite3.Connection) -> str:
    """This live.db's box id in shared datasets ("" for a live.db older than box ids)."""
    try:
        row = conn.execute("SELECT value FROM schema_meta WHERE key = 'box_id'").fetchone()
    except sqlite3.OperationalError:
        return ""
    return str(row[0]) if row else ""


def export_record(conn: sqlite3.Connection, target: str = "parquet") -> int | None:
    """The exported seq for a target, or None when this live.db never started an export there."""
    row = conn.execute("SELECT exported_seq FROM export_state WHERE target = ?", (target,)).fetchone()
    return int(row[0]) if row else None


def exported_seq(conn: sqlite3.Connection, target: str = "parquet") -> int:
    return export_record(conn, target) or 0


def prune_live_feed(
    conn: sqlite3.Connection,
    *,
    older_than_us: int,
    max_seq_inclusive: int | None = None,
    batch_rows: int = 20_000,
) -> int:
    """Delete rows older than the cutoff (and at or below `max_seq_inclusive`) in short batches.

    Each batch is its own transaction so the writer never waits long; AUTOINCREMENT keeps `seq`
    from being reused, even if every row is deleted.
    """
    bound = max_seq_inclusive if max_seq_inclusive is not None else max_seq(conn)
    total = 0
    while True:
        cur = conn.execute(
            "DELETE FROM live_feed WHERE seq IN (SELECT seq FROM live_feed WHERE seq <= ? AND ts_event < ? "
            "ORDER BY seq LIMIT ?)",
            (bound, older_than_us, batch_rows),
        )
        total += cur.rowcount
        if cur.rowcount < batch_rows:
            return total


def prune_health(conn: sqlite3.Connection, *, older_than_us: int) -> int:
    return conn.execute("DELETE FROM health WHERE ts < ?", (older_than_us,)).rowcount
