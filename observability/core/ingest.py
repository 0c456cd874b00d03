"""Turn wire events (JSON lines) into live_feed rows: validate once, in batches, dead-letter the rest.

This is the writer process's per-batch work, and the synchronous path that tests, replay and
importers use to put events into live.db without running a logger.

The whole batch is validated by one `validate_json` call (pydantic-core parses and validates in
Rust); only when that fails is each event validated alone, so one bad event costs the batch a
second pass but never loses its neighbours.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from observability.core.live_store import INSERT_DEAD_LETTER_SQL, INSERT_EVENT_SQL
from observability.core.schemas import EVENT_ADAPTER, EVENT_LIST_ADAPTER, MAX_EVENT_BYTES
from observability.errors import LeakageError

Row = tuple[Any, ...]


def _us(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float | int):
        return int(value * 1_000_000)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1_000_000)


def _row(d: Mapping[str, Any], ts_stored: int) -> Row:
    return (
        d["event_id"], d.get("event_version", 1), d.get("severity", "INFO"), _us(d["ts_event"]),
        _us(d.get("ts_logged")), d.get("source", "engine"), d.get("symbol"), d.get("mode", "none"),
        d.get("trace_id"), d["event_type"], orjson.dumps(d["payload"]).decode(), ts_stored,
    )


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
    lines: Sequence[bytes], *, ts_stored: int | None = None
) -> tuple[list[Row], list[Row], list[int]]:
    """Validate JSON lines; return (live_feed rows, dead_letter rows, indexes of dead lines).

    One `validate_json` call covers the batch; pydantic reports every failing item with its index
    in `loc[0]`, so a bad event costs no second pass over the good ones.
    """
    now = ts_stored if ts_stored is not None else time.time_ns() // 1000
    problems: dict[int, str] = {}
    for i, line in enumerate(lines):
        if len(line) > MAX_EVENT_BYTES:
            problems[i] = (f"event is {len(line)} bytes, over the {MAX_EVENT_BYTES}-byte limit; "
                           "store large blobs as artifacts and reference them by id")
    candidates = [i for i in range(len(lines)) if i not in problems] if problems else list(range(len(lines)))
    try:
        EVENT_LIST_ADAPTER.validate_json(b"[" + b",".join(lines[i] for i in candidates) + b"]")
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
    dead: list[Row] = []
    for i in sorted(problems):
        eid, et = _peek(lines[i]) if len(lines[i]) <= MAX_EVENT_BYTES else (None, None)
        dead.append((now, eid, et, problems[i], lines[i][:4096].decode("utf-8", "replace")))
    rows = [_row(orjson.loads(lines[i]), now) for i in candidates if i not in problems]
    return rows, dead, sorted(problems)


def write_batch(conn: sqlite3.Connection, rows: Iterable[Row], dead: Iterable[Row]) -> None:
    """Insert one prepared batch in one transaction (duplicates by event_id are ignored)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(INSERT_EVENT_SQL, rows)
        conn.executemany(INSERT_DEAD_LETTER_SQL, dead)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def ingest_events(conn: sqlite3.Connection, events: Iterable[Mapping[str, Any] | Any]) -> tuple[int, int]:
    """Validate and store events (wire dicts or Pydantic events) synchronously; return (stored, dead)."""
    lines = []
    for ev in events:
        if isinstance(ev, Mapping):
            d = dict(ev)
            d.setdefault("ts_logged", time.time())
            lines.append(orjson.dumps(d))
        else:
            lines.append(ev.model_dump_json().encode())
    rows, dead, _ = prepare_batch(lines)
    write_batch(conn, rows, dead)
    return len(rows), len(dead)
