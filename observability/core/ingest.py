"""Turn wire events (JSON lines) into live_feed rows: validate once, in batches, dead-letter the rest.

This is the writer process's per-batch work, and the synchronous path that tests, replay and
importers use to put events into live.db without running a logger.

Most events pass the fast check of `wire_check`; the others are validated by Pydantic in one
`validate_json` call (pydantic-core parses and validates in Rust), and only when that fails is
each event validated alone, so one bad event never loses its neighbours.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from observability.core.io.spool import SpoolWriter
from observability.core.live_store import INSERT_DEAD_LETTER_SQL, INSERT_EVENT_SQL
from observability.core.schemas import EVENT_ADAPTER, EVENT_LIST_ADAPTER, MAX_EVENT_BYTES
from observability.core.wire_check import fast_rows
from observability.errors import LeakageError

Row = tuple[Any, ...]


_MS_ABOVE = 2e10
"""Pydantic reads unix numbers above this as milliseconds; rows must read them the same way."""


def _us(value: Any) -> int | None:
    """Microseconds since the epoch, interpreting the value exactly as the validator did."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    v = float(value)
    return int(v * 1_000) if abs(v) > _MS_ABOVE else int(v * 1_000_000)


def _rows(dicts: Iterable[Mapping[str, Any]], ts_stored: int) -> list[Row]:
    """live_feed rows from validated wire dicts (optional envelope keys may be absent: defaults apply)."""
    dumps = orjson.dumps
    out = []
    for d in dicts:
        ts_event = d["ts_event"]
        ts_logged = d.get("ts_logged")
        out.append((
            d["event_id"], d.get("event_version", 1), d.get("severity", "INFO"),
            int(ts_event * 1_000_000) if type(ts_event) is float and ts_event < _MS_ABOVE else _us(ts_event),
            int(ts_logged * 1_000_000) if type(ts_logged) is float and ts_logged < _MS_ABOVE else _us(ts_logged),
            d.get("source", "engine"), d.get("symbol"), d.get("mode", "none"), d.get("trace_id"),
            d["event_type"], dumps(d["payload"]).decode(), ts_stored,
        ))
    return out


def _describe(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = str(err.get("msg", ""))
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, LeakageError):
            msg = str(inner)
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def _peek(line: bytes) -> tuple[str | None, str | None]:
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(d, dict):
        return None, None
    eid, et = d.get("event_id"), d.get("event_type")
    return (eid if isinstance(eid, str) else None), (et if isinstance(et, str) else None)


def prepare_batch(
    lines: Sequence[bytes], *, ts_stored: int | None = None, decoded: list[Any] | None = None,
) -> tuple[list[Row], list[Row], list[int]]:
    """Validate JSON lines; return (live_feed rows in line order, dead_letter rows, indexes of dead lines).

    The fast check (`wire_check`, derived from the schemas and never looser) takes what it can;
    the rest goes through Pydantic, which accepts it or says why not. `decoded`, when given, receives
    one payload Struct per returned row (None for rows of the Pydantic path): see `wire_check.fast_rows`.
    """
    now = ts_stored if ts_stored is not None else time.time_ns() // 1000
    structs: list[Any] | None = [] if decoded is not None else None
    fast = fast_rows(lines, now, structs)
    slow = [i for i, row in enumerate(fast) if row is None]
    if not slow:
        if decoded is not None and structs is not None:
            decoded.extend(structs)
        return fast, [], []  # type: ignore[return-value]  # no None left in it
    slow_rows, dead, slow_dead = pydantic_batch([lines[i] for i in slow], now)
    dead_idx = [slow[k] for k in slow_dead]
    kept = iter(slow_rows)
    gone = set(dead_idx)
    rows = [row if row is not None else next(kept) for i, row in enumerate(fast) if i not in gone]
    if decoded is not None and structs is not None:
        decoded.extend(p for i, p in enumerate(structs) if i not in gone)
    return rows, dead, dead_idx


def pydantic_batch(lines: Sequence[bytes], now: int) -> tuple[list[Row], list[Row], list[int]]:
    """The authoritative path: one `validate_json` over the batch, rows from the parsed lines.

    Pydantic reports every failing item with its index in `loc[0]`, so a bad event costs no second
    pass over the good ones.
    """
    problems: dict[int, str] = {}
    for i, line in enumerate(lines):
        if len(line) > MAX_EVENT_BYTES:
            problems[i] = (f"event is {len(line)} bytes, over the {MAX_EVENT_BYTES}-byte limit; "
                           "store large blobs as artifacts and reference them by id")
    candidates = [i for i in range(len(lines)) if i not in problems] if problems else list(range(len(lines)))
    joined = b"[" + b",".join([lines[i] for i in candidates] if problems else lines) + b"]"
    try:
        EVENT_LIST_ADAPTER.validate_json(joined)
    except ValidationError as exc:
        by_item: dict[int, list[Any]] = {}
        whole: list[Any] = []
        for err in exc.errors():
            loc = err.get("loc", ())
            if loc and isinstance(loc[0], int):
                by_item.setdefault(candidates[loc[0]], []).append(dict(err, loc=loc[1:]))
            else:
                whole.append(err)
        if whole:  # the batch itself did not parse (a torn or non-JSON line): judge each line alone
            for i in candidates:
                try:
                    EVENT_ADAPTER.validate_json(lines[i])
                except ValidationError as one:
                    by_item[i] = list(one.errors())
        for i, errs in by_item.items():
            problems[i] = _describe(errs)
    good = [i for i in candidates if i not in problems] if problems else candidates
    dicts = orjson.loads(joined) if not problems else [orjson.loads(lines[i]) for i in good]
    try:
        rows = _rows(dicts, now)
    except (ValueError, TypeError, OverflowError, KeyError):
        # Valid for Pydantic yet not storable as a row (e.g. an absurd timestamp): find it alone.
        rows = []
        for i, d in zip(good, dicts, strict=True):
            try:
                rows.extend(_rows([d], now))
            except (ValueError, TypeError, OverflowError, KeyError) as exc:
                problems[i] = f"cannot store this event: {type(exc).__name__}: {exc}"
    dead: list[Row] = []
    for i in sorted(problems):
        eid, et = _peek(lines[i]) if len(lines[i]) <= MAX_EVENT_BYTES else (None, None)
        dead.append((now, eid, et, problems[i], lines[i][:4096].decode("utf-8", "replace")))
    return rows, dead, sorted(problems)


def insert_events(conn: sqlite3.Connection, rows: Sequence[Row]) -> int | None:
    """Insert live_feed rows inside the caller's write transaction (duplicates by event_id are ignored).

    Returns the seq of the first row when every row was stored (their seqs are then consecutive: one
    writer holds the write lock, and AUTOINCREMENT gives each insert the next), else None.
    """
    if not rows:
        return None
    before = conn.total_changes
    conn.executemany(INSERT_EVENT_SQL, rows)
    if conn.total_changes - before != len(rows):
        return None
    return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0]) - len(rows) + 1


def write_batch(conn: sqlite3.Connection, rows: Sequence[Row], dead: Iterable[Row]) -> int | None:
    """Insert one prepared batch in one transaction; return its first seq as `insert_events` does."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        first = insert_events(conn, rows)
        conn.executemany(INSERT_DEAD_LETTER_SQL, dead)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return first


def ingest_events(conn: sqlite3.Connection, events: Iterable[Mapping[str, Any] | Any],
                  spool: SpoolWriter | None = None) -> tuple[int, int]:
    """Validate and store events (wire dicts or Pydantic events) synchronously; return (stored, dead).

    With a `spool`, the stored rows are also spooled for the exporter, as the writer process does.
    """
    lines = []
    for ev in events:
        if isinstance(ev, Mapping):
            d = dict(ev)
            d.setdefault("ts_logged", time.time())
            lines.append(orjson.dumps(d))
        else:
            lines.append(ev.model_dump_json().encode())
    decoded: list[Any] | None = [] if spool is not None else None
    rows, dead, _ = prepare_batch(lines, decoded=decoded)
    first = write_batch(conn, rows, dead)
    if spool is not None and decoded is not None:
        spool.append(first, rows, decoded)
    return len(rows), len(dead)
