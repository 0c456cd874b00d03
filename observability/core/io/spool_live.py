"""New live rows for a reader (the query layer), typed from the export spool where it has them.

Why: a reader that reads every column of each new row through sqlite3 (a Python object per value,
~6 µs/row) and types its payload JSON with DuckDB (~5 µs/row) spent ~0.2 s of every refresh on 20k
new rows. From live.db it now reads only seq, commit time and payload; the spool (`spool`)
gives the rest, typed, for the leading run of rows whose seq and commit time match live.db's
(`spool_export.confirmed_rows`); rows after that run are read and typed as before. Same rows either
way (`payload_rest` equal as JSON).

Readers use sqlite3 here, not ADBC (see `live_rows.fetch_raw` for why).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from observability.core.io.columns import RAW_FIELDS
from observability.core.io.live_rows import fetch_raw, wide_table, widen
from observability.core.io.payload_typing import TypedRows
from observability.core.io.spool import SpoolReader
from observability.core.io.spool_export import confirmed_rows

_HEAD = "SELECT seq, ts_stored, payload FROM live_feed WHERE seq > ? ORDER BY seq"


@dataclass(frozen=True)
class LiveRead:
    """What one read transaction took from live.db (typed afterwards, outside it, by `wide`)."""

    spooled: tuple[TypedRows, TypedRows] | None
    """Envelope rows and typed payloads of the leading run the spool had."""
    payload: pa.Array | None
    """The full payload JSON of those rows."""
    raw: pa.Table
    """Every column of the rows after that run (`fetch_raw`)."""

    def wide(self, scratch: duckdb.DuckDBPyConnection) -> pa.Table:
        """The rows as WIDE_SCHEMA, in seq order (what `live_rows.widen(fetch_raw(...))` gives)."""
        parts = []
        if self.spooled is not None:
            envelope, typed = self.spooled
            parts.append(wide_table(envelope.table, typed.take(), pa.chunked_array([self.payload], pa.string())))
        if self.raw.num_rows or not parts:
            parts.append(widen(scratch, self.raw))
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def read_live(conn: sqlite3.Connection, spool_root: Path, *, after_seq: int) -> LiveRead:
    """Rows with seq > after_seq; call inside the reader's read transaction (see `query.QueryLayer`)."""
    spool = SpoolReader(spool_root)
    if spool.next_seq(after_seq) is not None:
        rows = conn.execute(_HEAD, (after_seq,)).fetchall()
        if rows:
            seq, stored, payload = (list(c) for c in zip(*rows, strict=True))
            live = pa.table({"seq": pa.array(seq, pa.int64()), "ts_stored": pa.array(stored, pa.int64())})
            spooled = confirmed_rows(spool.rows(after_seq, seq[-1]), live)
            if spooled is not None:
                k = spooled[0].table.num_rows
                tail = fetch_raw(conn, after_seq=seq[k - 1]) if k < len(seq) else _NO_ROWS
                return LiveRead(spooled, pa.array(payload[:k], pa.string()), tail)
    return LiveRead(None, None, fetch_raw(conn, after_seq=after_seq))


_NO_ROWS: Final = pa.schema(RAW_FIELDS).empty_table()
