"""Payload JSON -> typed payload columns + `payload_rest`, one event type at a time.

Rows are grouped by event type; each group's payloads go through DuckDB's `from_json` with only that
type's fields (`payload_sql.TYPE_QUERIES`), the struct is flattened in Arrow, and the dense per-type
results are put in their final order with one Arrow `take` per column. Why: a single `from_json` into the
struct of all ~80 fields made DuckDB materialise and convert every field of every row, mostly nulls:
that conversion, not the JSON parse, was most of the typing cost (3.9 -> ~2 µs/row CPU).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from observability.core.io.columns import PAYLOAD_COLUMNS
from observability.core.io.payload_sql import TYPE_QUERIES, TypeQuery

TYPED_FIELDS: Final = pa.schema([pa.field(c.name, c.arrow_type) for c in PAYLOAD_COLUMNS]
                                + [pa.field("payload_rest", pa.string())])
"""The columns of a `TypedRows` table: every typed payload column, then payload_rest."""

BATCH_ROWS: Final = 32_768
"""DuckDB scans an Arrow table in parallel by record batch: one type's payloads cut into slices of this
size use every core where one big batch was parsed on one."""


THREADS: Final = 2
"""Event types typed, and columns taken, side by side. Why: one type's query is too small for DuckDB to
spread over cores (it ran as fast with one thread), and Arrow's take is one thread per column; both
mostly release the GIL (measured: typing wall -9% on a 2-core box busy with other work)."""


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


_NULL_TEXT: Final = pa.scalar(None, pa.string())


def _rest_json(out: pa.Table, rest: tuple[tuple[str, str], ...]) -> pa.ChunkedArray:
    """payload_rest from the raw JSON of each key without a column: `{"k": v, ...}`, null keys left out, NULL if none.

    Same meaning as JSON merge-patch of the keys onto {} (what readers apply it with), built by Arrow's
    string kernels over the text the one parse already cut out.
    """
    parts = []
    for key, name in rest:
        text = out[name].cast(pa.string())
        part = pc.binary_join_element_wise(json.dumps(key) + ":", text, ",", "")  # '"k":v,' or null
        parts.append(pc.fill_null(pc.if_else(pc.equal(text, "null"), _NULL_TEXT, part), ""))
    # (null_handling="skip" would be the natural join here, but pyarrow 26 drops rows where every part is null)
    body = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), ",")
    return pc.if_else(pc.equal(body, ""), _NULL_TEXT, pc.binary_join_element_wise("{", body, "}", ""))


def _type_group(con: duckdb.DuckDBPyConnection, query: TypeQuery, payloads: pa.Array) -> dict[str, pa.ChunkedArray]:
    """One event type's rows through its query (on a cursor of its own: cursors run concurrently)."""
    table = pa.table({"payload": payloads})
    with con.cursor() as cur:
        cur.register("__payloads", pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema))
        out = cur.sql(query.sql).to_arrow_table()
    while any(pa.types.is_struct(f.type) for f in out.schema):
        out = out.flatten()  # zero-copy: j.execution.fees, ...
    typed = {}
    for col, name, default in query.columns:
        values = out[name]
        if default is not None:
            values = pc.fill_null(values, pa.scalar(_plain(default), col.arrow_type))
        typed[col.name] = values.cast(col.arrow_type)
    if query.rest:
        typed["payload_rest"] = _rest_json(out, query.rest)
    return typed


@dataclass(frozen=True)
class TypedRows:
    """Typed columns (TYPED_FIELDS) of some rows, grouped by event type; input row i is `table` row `where[i]`.

    Kept grouped so that the rows are put in their final order (input order or the exporter's partition
    order) by ONE take per column.
    """

    table: pa.Table
    where: npt.NDArray[np.int64]

    def take(self, order: pa.Array | None = None) -> pa.Table:
        """The rows in input order, or in `order` (input row indices)."""
        pick = pa.array(self.where)
        pick = pick if order is None else pc.take(pick, order)
        # a column no row of this chunk has (health, kill_switch, ... fields) needs no take
        with ThreadPoolExecutor(THREADS, thread_name_prefix="typing") as pool:
            columns = list(pool.map(
                lambda c: pa.nulls(len(pick), c.type) if c.null_count == len(c) else c.take(pick), self.table.columns))
        return pa.Table.from_arrays(columns, schema=self.table.schema)


def type_rows(con: duckdb.DuckDBPyConnection, event_type: pa.ChunkedArray, payload: pa.ChunkedArray) -> TypedRows:
    """Type every row's payload, one event type at a time.

    Rows of an event type without a payload model (none are stored today) read as all nulls.
    """
    n = len(event_type)
    codes = event_type.combine_chunks().dictionary_encode()
    groups: list[tuple[str | None, pa.Array]] = []
    untyped = [pc.indices_nonzero(pc.is_null(codes.indices))]
    for k, kind in enumerate(codes.dictionary.to_pylist()):
        rows = pc.indices_nonzero(pc.equal(codes.indices, k))
        if kind in TYPE_QUERIES:
            groups.append((kind, rows))
        else:
            untyped.append(rows)
    groups.append((None, pa.concat_arrays(untyped)))
    payloads = payload.combine_chunks()  # a take from a chunked array concatenates it first, every time
    todo = sorted(((kind, rows) for kind, rows in groups if kind is not None and len(rows)), key=lambda g: -len(g[1]))
    with ThreadPoolExecutor(THREADS, thread_name_prefix="typing") as pool:  # largest first: balanced
        typed = pool.map(lambda g: _type_group(con, TYPE_QUERIES[g[0]], payloads.take(g[1])), todo)
        results = {kind: out for (kind, _), out in zip(todo, typed, strict=True)}
    where = np.empty(n, dtype=np.int64)  # groups laid end to end: scatter 0..n-1 by input row
    where[np.concatenate([rows.to_numpy() for _, rows in groups])] = np.arange(n, dtype=np.int64)
    laid = [(results.get(kind) if kind is not None else None, len(rows)) for kind, rows in groups]
    return TypedRows(end_to_end(laid, TYPED_FIELDS), where)


def end_to_end(groups: Sequence[tuple[Mapping[str, pa.ChunkedArray | pa.Array] | None, int]],
               schema: pa.Schema) -> pa.Table:
    """Groups of rows (each: its columns by name, and its row count) laid end to end as one table of `schema`.

    A column a group lacks reads as nulls there (slices of one null array: nothing is allocated per group).
    """
    n = sum(rows for _, rows in groups)
    blank = {t: pa.nulls(n, t) for t in {f.type for f in schema}}
    columns = []
    for field in schema:
        chunks: list[pa.Array] = []
        for out, rows in groups:
            values = out.get(field.name) if out is not None else None
            if values is not None:
                chunks.extend(values.chunks if isinstance(values, pa.ChunkedArray) else [values])
            elif rows:
                chunks.append(blank[field.type].slice(0, rows))
        columns.append(pa.chunked_array(chunks, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def concat_typed(parts: list[TypedRows]) -> TypedRows:
    """Slices typed one after another, as if typed at once (the columns are not copied)."""
    offsets = np.cumsum([0] + [p.table.num_rows for p in parts[:-1]])
    return TypedRows(pa.concat_tables([p.table for p in parts]),
                     np.concatenate([p.where + off for p, off in zip(parts, offsets, strict=True)]))
