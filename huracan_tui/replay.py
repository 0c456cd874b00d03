"""`--replay FROM..TO`: a recorded period played through the same screens as the live feed.

`ReplayFeed` has the live feed's reading interface (`poll`, `read_recent`, `read_health_latest`), so the
app does not know whether it is live. Rows come from the query layer (Parquet + live.db, each event once);
a replay clock advances `speed`× the injected clock while playing; `step` moves one event either way.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from observability.analytics.live_feed import FeedBatch, FeedFilter, FeedRow, FeedState
from observability.core.schemas import HealthSnapshot
from observability.paths import DataLayout

_EVENTS_SQL = (
    "SELECT seq, event_id, event_type, severity, epoch_us(ts_event), source, symbol, mode, trace_id, payload "
    "FROM events WHERE ts_event >= ? AND ts_event <= ? ORDER BY ts_event, seq LIMIT ?"
)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def parse_period(text: str) -> Period:
    """FROM..TO with ISO times (UTC unless an offset is given) or unix seconds."""
    from observability.analytics.windows import WindowError, parse_time  # imports duckdb: only for --replay

    start_s, sep, end_s = text.partition("..")
    if not sep or not start_s or not end_s:
        raise WindowError(f"--replay {text!r}: use FROM..TO, e.g. 2026-11-26T10:00..2026-11-26T11:00")
    start, end = parse_time(start_s), parse_time(end_s)
    if end <= start:
        raise WindowError(f"--replay {text!r}: the end must be after the start")
    return Period(start, end)


def load_rows(layout: DataLayout, period: Period, limit: int = 2_000_000) -> list[FeedRow]:
    """The period's events from the query layer (Parquet + unexported live rows), in time order."""
    from observability.core.io.query import QueryLayer

    q = QueryLayer(layout)
    try:
        rows = q.connect().execute(_EVENTS_SQL, [period.start, period.end, limit]).fetchall()
    finally:
        q.close()
    return [FeedRow(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], r[8], r[9]) for r in rows]


class ReplayFeed:
    """Plays preloaded rows against a replay clock. Thread-safe: the UI steers it, a worker polls it."""

    def __init__(self, rows: list[FeedRow], period: Period, clock: Callable[[], float], *,
                 speed: float = 1.0, batch_size: int = 1000) -> None:
        self.rows = rows
        self.period = period
        self.clock = clock
        self.speed = speed
        self.batch_size = batch_size
        self.paused = False
        self._lock = threading.Lock()
        self._times = [r.ts_event for r in rows]
        self._pos = 0
        self._cursor_us = int(period.start.timestamp() * 1e6)
        self._wall = clock()

    @property
    def cursor_us(self) -> int:
        return self._cursor_us

    @property
    def position(self) -> int:
        return self._pos

    def label(self) -> str:
        state = "PAUSED" if self.paused else f"x{self.speed:g}"
        when = datetime.fromtimestamp(self._cursor_us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"REPLAY {state} {when} · {self._pos:,}/{len(self.rows):,} events"

    def _advance_clock(self) -> None:
        now = self.clock()
        if not self.paused:
            self._cursor_us += int((now - self._wall) * self.speed * 1e6)
        self._wall = now

    def poll(self) -> FeedBatch:
        with self._lock:
            self._advance_clock()
            end = bisect.bisect_right(self._times, self._cursor_us, lo=self._pos)
            batch = self.rows[self._pos:min(end, self._pos + self.batch_size)]
            self._pos += len(batch)
            return FeedBatch(batch, FeedState.LIVE, batch[-1].seq if batch else 0)

    def toggle_pause(self) -> None:
        with self._lock:
            self._advance_clock()
            self.paused = not self.paused

    def set_speed(self, factor: float) -> None:
        with self._lock:
            self._advance_clock()
            self.speed = min(1024.0, max(1 / 64, self.speed * factor))

    def step(self, n: int) -> list[FeedRow]:
        """Pause and move n events (negative: back). Returns the rows now considered delivered."""
        with self._lock:
            self._advance_clock()
            self.paused = True
            self._pos = min(len(self.rows), max(0, self._pos + n))
            if self._pos:
                self._cursor_us = self.rows[self._pos - 1].ts_event
            return self.rows[max(0, self._pos - 2000):self._pos]

    def read_recent(self, n: int, flt: FeedFilter | None = None) -> list[FeedRow]:
        with self._lock:
            rows = self.rows[:self._pos]
        if flt is not None and not flt.empty:
            rows = [r for r in rows if flt.matches(r)]
        return rows[-n:]

    def read_health_latest(self) -> HealthSnapshot | None:
        return None

    def close(self) -> None:
        """Nothing to release: rows are in memory."""
