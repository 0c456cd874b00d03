"""A Textual-free, read-only tail of live.db for the TUI and any other live reader.

How it reads, and why:
- The file is opened with `open_readonly` (mode=ro): a reader can never write, create or lock out the writer.
- Each poll first asks `PRAGMA data_version`; it only changes when another connection commits, so an idle
  engine costs one pragma per poll and no query.
- New rows are read as `seq > last` in one short autocommit statement (its own read transaction), so the
  WAL checkpointer is never held back by a long-lived snapshot.
- Every read is bounded (`batch_size` rows). The reader never reads ahead of its consumer: `FeedThread`
  hands batches over through a bounded queue and waits while it is full (backpressure, as Toolong's reader
  waits on the app). With `coalesce=True` a reader that has fallen behind jumps to the newest rows and
  says how many it skipped, which is what a screen wants at 10,000 events/s; without it every row is
  delivered exactly once, in order.
- A missing file, a file without tables yet, a writer restart (same file, `seq` continues) and a file that
  was replaced (new inode) are all survived; a newer schema version raises `SchemaVersionError`.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import orjson

from observability.core.live_store import HEALTH_COLUMNS, open_readonly
from observability.core.schemas import SEVERITY_LEVEL, HealthSnapshot, utc_from_us
from observability.errors import DataDirError, EventValidationError

ROW_COLUMNS: Final = (
    "seq", "event_id", "event_type", "severity", "ts_event", "source", "symbol", "mode", "trace_id", "payload",
)
_SELECT: Final = f"SELECT {', '.join(ROW_COLUMNS)} FROM live_feed"
_LEVEL_SQL: Final = "CASE severity " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in SEVERITY_LEVEL.items()) + " END"


class FeedState(StrEnum):
    """What the reader can say about its source, for a status line."""

    WAITING = "waiting"      # no live.db yet (or no tables yet): the engine has not started
    LIVE = "live"
    REPLACED = "replaced"    # the file was replaced by a new database; reading restarted from its start


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One live_feed row; `ts_event` is integer microseconds (UTC), `payload` raw JSON text."""

    seq: int
    event_id: str
    event_type: str
    severity: str
    ts_event: int
    source: str
    symbol: str | None
    mode: str
    trace_id: str | None
    payload: str

    def payload_dict(self) -> dict[str, Any]:
        data = orjson.loads(self.payload)
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class FeedFilter:
    """Which rows to deliver. Empty sets mean "any"; `text` matches payload/symbol/type/trace (case-insensitive).

    `invert` negates the whole filter (the TUI's `!`), so "everything except gate decisions on BTC" is one filter.
    """

    event_types: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()
    modes: frozenset[str] = frozenset()
    min_severity: str | None = None
    text: str = ""
    invert: bool = False

    def __post_init__(self) -> None:
        if self.min_severity is not None and self.min_severity not in SEVERITY_LEVEL:
            raise EventValidationError(
                f"severity filter must be one of {list(SEVERITY_LEVEL)}, got {self.min_severity!r}")

    @property
    def empty(self) -> bool:
        return not (self.event_types or self.symbols or self.modes or self.min_severity or self.text)

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition and parameters ("1" when the filter is empty)."""
        parts: list[str] = []
        params: list[Any] = []
        for column, values in (("event_type", self.event_types), ("symbol", self.symbols), ("mode", self.modes)):
            if values:
                parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(sorted(values))
        if self.min_severity:
            parts.append(f"{_LEVEL_SQL} >= ?")
            params.append(SEVERITY_LEVEL[self.min_severity])
        if self.text:
            parts.append("instr(lower(coalesce(symbol, '') || ' ' || event_type || ' ' || coalesce(trace_id, '') "
                         "|| ' ' || payload), ?) > 0")
            params.append(self.text.lower())
        if not parts:
            return "1", []
        cond = " AND ".join(parts)
        return (f"NOT ({cond})" if self.invert else f"({cond})"), params

    def matches(self, row: FeedRow) -> bool:
        """The same test in Python, for rows already in memory (re-filtering a window without a query)."""
        ok = ((not self.event_types or row.event_type in self.event_types)
              and (not self.symbols or row.symbol in self.symbols)
              and (not self.modes or row.mode in self.modes)
              and (not self.min_severity
                   or SEVERITY_LEVEL.get(row.severity, 0) >= SEVERITY_LEVEL[self.min_severity])
              and (not self.text or self.text.lower() in
                   f"{row.symbol or ''} {row.event_type} {row.trace_id or ''} {row.payload}".lower()))
        return (not ok) if (self.invert and not self.empty) else ok


@dataclass(frozen=True)
class FeedBatch:
    """Rows read in one poll (in seq order) plus what the consumer should tell the user."""

    rows: list[FeedRow]
    state: FeedState
    last_seq: int
    coalesced: int = 0
    """Matching rows skipped because the reader jumped ahead (only with `coalesce=True`)."""
    message: str = ""


@dataclass
class LiveFeed:
    """Tail one live.db. Not shared between threads: one thread polls it (a `FeedThread` or a TUI worker)."""

    db_path: Path
    filter: FeedFilter = field(default_factory=FeedFilter)
    after_seq: int | None = None
    """Deliver rows with seq > after_seq; None starts at the end (only rows written from now on)."""
    since_us: int | None = None
    """Alternative start: the first row with ts_event >= since_us (µs UTC)."""
    batch_size: int = 1000
    coalesce: bool = False
    _conn: sqlite3.Connection | None = field(default=None, init=False, repr=False)
    _inode: int | None = field(default=None, init=False, repr=False)
    _data_version: int | None = field(default=None, init=False, repr=False)
    _last: int = field(default=0, init=False, repr=False)
    _positioned: bool = field(default=False, init=False, repr=False)

    @property
    def last_seq(self) -> int:
        return self._last

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._data_version = None

    @property
    def connection(self) -> sqlite3.Connection | None:
        """The read-only connection (None while waiting for the file): for one-off reads by the same thread."""
        return self._conn

    def _open(self) -> sqlite3.Connection | None:
        try:
            st = os.stat(self.db_path)
        except FileNotFoundError:
            self.close()
            return None
        if self._conn is not None and st.st_ino == self._inode:
            return self._conn
        replaced = self._conn is not None
        self.close()
        try:
            conn = open_readonly(self.db_path)
        except DataDirError:
            return None
        self._conn, self._inode = conn, st.st_ino
        if replaced:
            self._last, self._positioned = 0, True
        return conn

    def _position(self, conn: sqlite3.Connection) -> None:
        if self.after_seq is not None:
            self._last = self.after_seq
        elif self.since_us is not None:
            row = conn.execute("SELECT min(seq) FROM live_feed WHERE ts_event >= ?", (self.since_us,)).fetchone()
            first = row[0] if row and row[0] is not None else None
            self._last = first - 1 if first is not None else _max_seq(conn)
        else:
            self._last = _max_seq(conn)
        self._positioned = True

    def poll(self) -> FeedBatch:
        """Read at most `batch_size` new matching rows; never blocks beyond SQLite's busy timeout."""
        inode_before = self._inode
        conn = self._open()
        if conn is None:
            return FeedBatch([], FeedState.WAITING, self._last,
                             message=f"waiting for {self.db_path} (engine not started yet?)")
        state = FeedState.REPLACED if inode_before is not None and inode_before != self._inode else FeedState.LIVE
        try:
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if not self._positioned:
                self._position(conn)
            elif version == self._data_version and state is FeedState.LIVE:
                return FeedBatch([], state, self._last)
            rows, skipped = self._read(conn)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return FeedBatch([], FeedState.WAITING, self._last, message=f"{self.db_path}: no tables yet")
            raise
        # Only remember the version once we are caught up, so a backlog keeps being read on the next poll.
        self._data_version = version if len(rows) < self.batch_size else None
        if rows:
            self._last = rows[-1].seq
        return FeedBatch(rows, state, self._last, coalesced=skipped)

    def _read(self, conn: sqlite3.Connection) -> tuple[list[FeedRow], int]:
        cond, params = self.filter.where()
        if self.coalesce:
            raw = conn.execute(f"{_SELECT} WHERE seq > ? AND {cond} ORDER BY seq DESC LIMIT ?",
                               (self._last, *params, self.batch_size)).fetchall()
            raw.reverse()
            skipped = 0
            if len(raw) == self.batch_size:
                skipped = int(conn.execute(f"SELECT count(*) FROM live_feed WHERE seq > ? AND seq < ? AND {cond}",
                                           (self._last, raw[0][0], *params)).fetchone()[0])
            return _rows(raw), skipped
        raw = conn.execute(f"{_SELECT} WHERE seq > ? AND {cond} ORDER BY seq LIMIT ?",
                           (self._last, *params, self.batch_size)).fetchall()
        return _rows(raw), 0

    def read_recent(self, n: int) -> list[FeedRow]:
        """The newest `n` matching rows (oldest first), without moving the tail position."""
        conn = self._open()
        if conn is None:
            return []
        cond, params = self.filter.where()
        try:
            raw = conn.execute(f"{_SELECT} WHERE {cond} ORDER BY seq DESC LIMIT ?", (*params, n)).fetchall()
        except sqlite3.OperationalError:
            return []
        raw.reverse()
        return _rows(raw)

    def read_before(self, seq: int, n: int) -> list[FeedRow]:
        """Up to `n` matching rows older than `seq` (oldest first): paging back through history on scroll."""
        conn = self._open()
        if conn is None:
            return []
        cond, params = self.filter.where()
        raw = conn.execute(f"{_SELECT} WHERE seq < ? AND {cond} ORDER BY seq DESC LIMIT ?",
                           (seq, *params, n)).fetchall()
        raw.reverse()
        return _rows(raw)

    def read_health_latest(self) -> HealthSnapshot | None:
        """The newest row of `health` (the writer's heartbeat), or None when there is none yet."""
        conn = self._open()
        if conn is None:
            return None
        names = [c[0] for c in HEALTH_COLUMNS]
        try:
            row = conn.execute(f"SELECT {', '.join(names)} FROM health ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            return None
        return health_from_row(dict(zip(names, row, strict=True))) if row else None


def health_from_row(row: dict[str, Any]) -> HealthSnapshot:
    """Turn a `health` table row (µs, JSON text, 0/1) back into the model it was written from."""
    data = dict(row)
    data["ts"] = utc_from_us(int(data["ts"]))
    for key in ("dropped_by_severity", "dropped_by_type"):
        if isinstance(data.get(key), str | bytes):
            data[key] = orjson.loads(data[key])
    for key in ("kill_switch", "writer_alive"):
        data[key] = bool(data.get(key))
    return HealthSnapshot.model_validate(data)


def _max_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(seq) FROM live_feed").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rows(raw: Iterable[tuple[Any, ...]]) -> list[FeedRow]:
    return [FeedRow(*r) for r in raw]


class FeedThread:
    """Polls a `LiveFeed` on its own thread and hands batches over a bounded queue.

    Memory is bounded by `max_batches * feed.batch_size` rows whatever the consumer does: while the queue
    is full the thread does not read (the rows wait in SQLite, where they cost nothing). Errors (e.g. a
    newer schema version) are handed over as the `error` attribute and end the thread.
    """

    def __init__(self, feed: LiveFeed, *, max_batches: int = 4, interval_s: float = 0.1) -> None:
        self.feed = feed
        self.interval_s = interval_s
        self.batches: queue.Queue[FeedBatch] = queue.Queue(maxsize=max_batches)
        self.error: BaseException | None = None
        self.state = FeedState.WAITING
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)

    def start(self) -> FeedThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> FeedThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def get(self, timeout: float | None = None) -> FeedBatch | None:
        """The next batch, or None after `timeout` seconds (or when the thread has ended and nothing is left)."""
        try:
            return self.batches.get(timeout=timeout)
        except queue.Empty:
            return None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self.feed.poll()
                self.state = batch.state
                if batch.rows or batch.coalesced:
                    while not self._stop.is_set():
                        try:
                            self.batches.put(batch, timeout=self.interval_s)
                            break
                        except queue.Full:
                            continue
                    if len(batch.rows) >= self.feed.batch_size:
                        continue  # backlog: read again at once
                self._stop.wait(self.interval_s)
        except BaseException as exc:  # handed to the consumer, who decides how to show it
            self.error = exc
        finally:
            self.feed.close()
