"""live_feed rows -> Arrow, with the typed payload columns, for the exporter and the query layer.

DuckDB cannot read SQLite here (its sqlite extension cannot be downloaded), so rows are fetched
by the ADBC SQLite driver straight into Arrow (the exporter) or with Python's sqlite3 (readers that
share their process with other sqlite3 connections). The payload JSON is parsed once per
row by DuckDB's built-in `from_json`, one event type at a time (`payload_typing`): vectorised C++,
10x+ cheaper than orjson plus Python field picking.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import adbc_driver_sqlite.dbapi as adbc_sqlite
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from observability.core.io.columns import FILE_SCHEMA, RAW_FIELDS, WIDE_SCHEMA
from observability.core.io.payload_typing import TypedRows, type_rows

RAW_COLUMNS: Final[tuple[str, ...]] = tuple(n for n, _ in RAW_FIELDS)
_SELECT: Final = f"SELECT {', '.join(RAW_COLUMNS)} FROM live_feed"
_TS_COLUMNS: Final = frozenset({"ts_event", "ts_logged", "ts_stored"})
EXPORT_SCHEMA: Final = FILE_SCHEMA.append(pa.field("date", pa.date32()))
"""What `export_rows` returns: the columns of a file, and the partition date."""


def fetch_raw(conn: sqlite3.Connection, *, after_seq: int) -> pa.Table:
    """Rows with seq > after_seq, in seq order, as an Arrow table of the envelope (Python's sqlite3).

    Readers that live in a process with other sqlite3 connections to live.db (the TUI, analytics) use
    this, not ADBC: ADBC brings its own copy of SQLite, and POSIX locks are per process, so closing a
    sqlite3 connection to the file would silently drop the ADBC reader's WAL read lock and let a
    checkpoint reset the WAL under it.
    """
    rows = conn.execute(_SELECT + " WHERE seq > ? ORDER BY seq", (after_seq,)).fetchall()
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in RAW_COLUMNS]
    arrays = []
    for (name, typ), values in zip(RAW_FIELDS, cols, strict=True):
        if name in _TS_COLUMNS:
            arrays.append(pa.array(values, pa.int64()).cast(typ))
        else:
            arrays.append(pa.array(values, typ))
    return pa.Table.from_arrays(arrays, schema=pa.schema(RAW_FIELDS))


@contextmanager
def arrow_reader(path: Path) -> Iterator[adbc_sqlite.Connection]:
    """A read-only ADBC SQLite connection (autocommit: no long read transaction holds the WAL back).

    Only for processes whose sqlite3 connections to live.db do not close while it reads (the exporter,
    one thread): see `fetch_raw` for why.
    """
    conn = adbc_sqlite.connect(f"file:{path}?mode=ro", autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def fetch_raw_arrow(conn: adbc_sqlite.Connection, *, after_seq: int, limit: int) -> pa.Table:
    """live_feed rows with seq > after_seq (at most `limit`), in seq order, as an Arrow table of the envelope.

    Read straight into Arrow by the ADBC SQLite driver (C, no Python objects per row). Why: sqlite3
    builds a Python object per value (~10 µs per row here), which was the exporter's largest cost.
    The driver infers column types from the first batch, so the batch is the whole chunk: a column
    NULL in every row (symbol, trace_id) comes back as int64 nulls, which the cast below handles.
    """
    with conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(max(limit, 1))})
        cur.execute(_SELECT + " WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))
        table = cur.fetch_arrow_table()
    arrays = []
    for name, typ in RAW_FIELDS:
        col = table[name]
        arrays.append(col.cast(pa.int64()).cast(typ) if name in _TS_COLUMNS else col.cast(typ))
    return pa.Table.from_arrays(arrays, schema=pa.schema(RAW_FIELDS))


def partition_order(raw: pa.Table) -> pa.Array:
    """Row indices grouping rows by (UTC date, symbol), in seq order inside each group: a partition is one slice.

    One int64 key (date, then the symbol's dictionary index) and Arrow's stable sort keep seq order
    without sorting on strings.
    """
    dates = pc.cast(raw["ts_event"], pa.date32()).cast(pa.int32()).cast(pa.int64())
    symbols = raw["symbol"].combine_chunks().dictionary_encode()
    slots = pc.add(pc.fill_null(symbols.indices.cast(pa.int64()), -1), 1)
    key = pc.add(pc.multiply(dates, len(symbols.dictionary) + 1), slots)
    return pc.sort_indices(key)


def _wide(envelope: pa.Table, typed: pa.Table, payload: pa.ChunkedArray | None) -> pa.Table:
    columns = {name: envelope[name] for name in envelope.column_names} | {n: typed[n] for n in typed.column_names}
    if payload is not None:
        columns["payload"] = payload
    columns["date"] = pc.cast(envelope["ts_event"], pa.date32())
    schema = WIDE_SCHEMA if payload is not None else EXPORT_SCHEMA
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def widen(con: duckdb.DuckDBPyConnection, raw: pa.Table) -> pa.Table:
    """Envelope table -> the wide table (typed payload columns, payload_rest, `date`), schema WIDE_SCHEMA.

    Row order is kept.
    """
    if raw.num_rows == 0:
        return WIDE_SCHEMA.empty_table()
    typed = type_rows(con, raw["event_type"], raw["payload"]).take()
    return _wide(raw.drop_columns(["payload"]), typed, raw["payload"])


def export_rows(con: duckdb.DuckDBPyConnection, raw: pa.Table) -> pa.Table:
    """Envelope table -> the file columns plus `date` (EXPORT_SCHEMA), in `partition_order`, for the exporter."""
    return export_table(raw.drop_columns(["payload"]), type_rows(con, raw["event_type"], raw["payload"]))


def export_table(envelope: pa.Table, typed: TypedRows) -> pa.Table:
    """Envelope rows without the payload + their typed payloads -> EXPORT_SCHEMA rows in `partition_order`.

    The full payload is neither reordered nor kept: the files store payload_rest, and moving ~300 B
    strings per row was a measurable share of an export.
    """
    if envelope.num_rows == 0:
        return EXPORT_SCHEMA.empty_table()
    order = partition_order(envelope)
    return _wide(envelope.take(order), typed.take(order), None)


def file_table(wide: pa.Table) -> pa.Table:
    """What goes into a Parquet file: no full payload (typed columns + payload_rest) and no `date` (the path)."""
    return wide.select(FILE_SCHEMA.names)


def new_duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with UTC session time zone (dates and timestamps are UTC everywhere)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con
