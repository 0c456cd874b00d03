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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import adbc_driver_sqlite.dbapi as adbc_sqlite
import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from observability.core.io.columns import FILE_SCHEMA, RAW_FIELDS, WIDE_SCHEMA
from observability.core.io.payload_typing import THREADS, TypedRows, type_rows

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
        with conn.cursor() as cur:  # wait out a moment's lock (two readers opening the WAL index at once)
            cur.execute("PRAGMA busy_timeout = 10000")
            cur.fetchall()
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


def utc_date(ts: pa.ChunkedArray) -> pa.ChunkedArray:
    """The UTC date of each timestamp: for our UTC columns the same as a cast to date32, ~15x cheaper.

    Why: Arrow casts a zoned timestamp through the time zone database; made naive first (the instant,
    which is UTC's wall clock), the cast is integer arithmetic. It ran on every exported row, twice.
    """
    return pc.cast(ts.cast(pa.timestamp(ts.type.unit)), pa.date32())


def _partition_key(envelope: pa.Table) -> pa.Array:
    """Per row, one int64 ordering rows by (UTC date, symbol): the date, then the symbol's dictionary index."""
    dates = utc_date(envelope["ts_event"]).cast(pa.int32()).cast(pa.int64())
    symbols = envelope["symbol"].combine_chunks().dictionary_encode()
    slots = pc.add(pc.fill_null(symbols.indices.cast(pa.int64()), -1), 1)
    return pc.add(pc.multiply(dates, len(symbols.dictionary) + 1), slots).combine_chunks()


def partition_order(raw: pa.Table) -> pa.Array:
    """Row indices grouping rows by (UTC date, symbol), in seq order inside each group: a partition is one slice.

    One int64 key and Arrow's stable sort keep seq order without sorting on strings.
    """
    return pc.sort_indices(_partition_key(raw))


def wide_table(envelope: pa.Table, typed: pa.Table, payload: pa.ChunkedArray | None) -> pa.Table:
    """Envelope rows + their typed payload columns (+ the full payload) -> WIDE_SCHEMA (EXPORT_SCHEMA without it)."""
    columns = {name: envelope[name] for name in envelope.column_names} | {n: typed[n] for n in typed.column_names}
    if payload is not None:
        columns["payload"] = payload
    columns["date"] = utc_date(envelope["ts_event"])
    schema = WIDE_SCHEMA if payload is not None else EXPORT_SCHEMA
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def widen(con: duckdb.DuckDBPyConnection, raw: pa.Table) -> pa.Table:
    """Envelope table -> the wide table (typed payload columns, payload_rest, `date`), schema WIDE_SCHEMA.

    Row order is kept.
    """
    if raw.num_rows == 0:
        return WIDE_SCHEMA.empty_table()
    typed = type_rows(con, raw["event_type"], raw["payload"]).take()
    return wide_table(raw.drop_columns(["payload"]), typed, raw["payload"])


def export_rows(con: duckdb.DuckDBPyConnection, raw: pa.Table) -> pa.Table:
    """Envelope table -> the file columns plus `date` (EXPORT_SCHEMA), in `partition_order`, for the exporter."""
    return export_table(raw.drop_columns(["payload"]), type_rows(con, raw["event_type"], raw["payload"]))


def export_table(envelope: pa.Table | TypedRows, typed: TypedRows) -> pa.Table:
    """Envelope rows without the payload + their typed payloads -> EXPORT_SCHEMA rows in `partition_order`.

    The envelope is a table in seq order, or rows laid out otherwise (the spool's, by event type) with
    `where` giving them in seq order. The full payload is neither reordered nor kept: the files store
    payload_rest, and moving ~300 B strings per row was a measurable share of an export.
    """
    env = envelope if isinstance(envelope, TypedRows) else TypedRows(envelope, np.arange(envelope.num_rows))
    if env.table.num_rows == 0:
        return EXPORT_SCHEMA.empty_table()
    chunk = ExportChunk.of(env, typed)
    return chunk.part(np.concatenate(chunk.partitions()))


def _combined(table: pa.Table) -> _Columns:
    """One chunk per column (a take from a many-chunk column concatenates it first, at every take); a column
    without a value (fields of event types the chunk lacks) as None, taken as nulls without looking at it."""
    def one(c: pa.ChunkedArray) -> pa.ChunkedArray | None:
        if c.null_count == len(c):
            return None
        return c if c.num_chunks == 1 else pa.chunked_array([c.combine_chunks()], c.type)
    with ThreadPoolExecutor(THREADS, thread_name_prefix="export-combine") as pool:
        return _Columns(table.schema, list(pool.map(one, table.columns)))


@dataclass(frozen=True)
class _Columns:
    """A table's columns ready for many takes (see `_combined`)."""

    schema: pa.Schema
    columns: list[pa.ChunkedArray | None]

    def take(self, rows: npt.NDArray[np.int64]) -> pa.Table:
        """These rows, in this order; `rows` come from the chunk's own argsorts, so they are never checked
        against each column's length (that check was ~5% of the take)."""
        pick = pa.array(rows)
        return pa.Table.from_arrays(
            [pa.nulls(len(rows), f.type) if c is None else pc.take(c, pick, boundscheck=False)
             for f, c in zip(self.schema, self.columns, strict=True)],
            schema=self.schema)


@dataclass(frozen=True)
class ExportChunk:
    """An export chunk's envelope and typed payloads, to be cut into partition files side by side.

    Why per partition: each file's rows are taken from the chunk by the thread that writes the file, so
    taking and writing overlap on every core, where one take of the whole chunk ran before any write.
    """

    envelope: _Columns
    envelope_where: npt.NDArray[np.int64]
    typed: _Columns
    typed_where: npt.NDArray[np.int64]
    key: npt.NDArray[np.int64]
    """Each input row's partition key."""

    @staticmethod
    def of(envelope: TypedRows, typed: TypedRows) -> ExportChunk:
        key = _partition_key(envelope.table).take(pa.array(envelope.where)).to_numpy()
        return ExportChunk(_combined(envelope.table), envelope.where, _combined(typed.table), typed.where, key)

    def partitions(self) -> list[npt.NDArray[np.int64]]:
        """Per (date, symbol) partition, its rows (input row indices) in seq order; partitions in key order."""
        key = self.key
        if len(key) == 0:
            return []
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        return np.split(order, cuts)

    def part(self, rows: npt.NDArray[np.int64]) -> pa.Table:
        """These input rows (EXPORT_SCHEMA), in the order given."""
        return wide_table(self.envelope.take(self.envelope_where[rows]), self.typed.take(self.typed_where[rows]),
                          None)


def file_table(wide: pa.Table) -> pa.Table:
    """What goes into a Parquet file: no full payload (typed columns + payload_rest) and no `date` (the path)."""
    return wide.select(FILE_SCHEMA.names)


def new_duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with UTC session time zone (dates and timestamps are UTC everywhere)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con
