"""One trace's rows and market snapshots from the Parquet history, without binding the wide views.

Why not `events WHERE trace_id = ?`: at 10 M events each query through the views paid ~25-40 ms to
bind `_pq` (read_parquet over every file with union_by_name reads every file's schema) and ~0.2 ms
per file to start a scan even where statistics prune every row group, and it decoded ~80 columns.
Here the files behind `_pq` are the ones the query layer publishes on its connection
(PARQUET_FILES_VARIABLE), and each file's row-group statistics of `trace_id` and `seq` are kept per
process (files are immutable; a changed size or mtime reads them again). A lean scan of `trace_id`
and `seq` over the files whose statistics may hold the trace finds its rows; the full rows are then
read from the files that hold them only, as the views would build them. Min/max statistics prune only
when ids are ordered (UUIDv7, the simulator's); for random ids each file's bloom filter on trace_id
(written since files.WRITE_OPTIONS has one) rules out the files that do not hold the trace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import duckdb
import pyarrow.parquet as pq

from observability.core.io.payload_sql import payload_sql
from observability.core.io.query import HIVE_OPTIONS, LIVE_FROM_VARIABLE, PARQUET_FILES_VARIABLE, sql_str

_MAX_FOOTERS: Final = 100_000


@dataclass(frozen=True)
class Part:
    """Files `_pq` reads with one bound: rows above `bound` (this box's, past its watermark) are left out."""

    files: tuple[str, ...]
    bound: int | None


@dataclass(frozen=True)
class History:
    """What the query layer's connection reads: its Parquet files and where its live rows start."""

    parts: tuple[Part, ...]
    live_from: int | None
    """Every live row (`_live`) has a greater seq; None without a live.db (see LIVE_FROM_VARIABLE)."""


@dataclass(frozen=True)
class _Footer:
    key: tuple[int, int]
    """(mtime_ns, size) the statistics were read at."""
    seq: tuple[int, int] | None
    trace: list[tuple[str, str] | None]
    """Per row group that has a trace_id, its min and max; None where the file has no such statistics. Row
    groups whose trace_id is all null are left out (as is every row group of a file without the column)."""


_FOOTERS: dict[str, _Footer] = {}


def history_of(con: duckdb.DuckDBPyConnection) -> History | None:
    """The local files behind the query layer's `_pq`, grouped by bound, or None when it publishes none (a
    dataset on S3 is an Arrow dataset, not a file list; a connection of no query layer): read the views."""
    ((live_from, listed),) = con.execute(
        f"SELECT getvariable('{LIVE_FROM_VARIABLE}'), getvariable('{PARQUET_FILES_VARIABLE}') IS NOT NULL").fetchall()
    if not listed:
        return None
    files: dict[int | None, list[str]] = {}
    for path, bound in con.execute(
            f"SELECT f.path, f.bound FROM (SELECT unnest(getvariable('{PARQUET_FILES_VARIABLE}')) AS f)").fetchall():
        files.setdefault(bound, []).append(path)
    return History(tuple(Part(tuple(fs), bound) for bound, fs in files.items()), live_from)


def _footer(path: str) -> _Footer:
    try:
        st = os.stat(path)
    except FileNotFoundError:  # compaction replaced it since the layer's last refresh: DuckDB says so
        return _Footer((0, 0), None, [None])
    key = (st.st_mtime_ns, st.st_size)
    known = _FOOTERS.get(path)
    if known is not None and known.key == key:
        return known
    meta = pq.read_metadata(path)
    names = meta.schema.names
    seq_col = names.index("seq") if "seq" in names else None
    trace_col = names.index("trace_id") if "trace_id" in names else None
    seqs: list[tuple[int, int]] = []
    traces: list[tuple[str, str] | None] = []
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        s = rg.column(seq_col).statistics if seq_col is not None else None
        if s is not None and s.has_min_max:
            seqs.append((int(s.min), int(s.max)))
        t = rg.column(trace_col).statistics if trace_col is not None else None
        if t is not None and t.has_min_max:
            traces.append((str(t.min), str(t.max)))
        elif trace_col is not None and not (t is not None and t.has_null_count and t.null_count == rg.num_rows):
            traces.append(None)
    seq = (min(s[0] for s in seqs), max(s[1] for s in seqs)) if len(seqs) == meta.num_row_groups and seqs else None
    if len(_FOOTERS) >= _MAX_FOOTERS:
        _FOOTERS.clear()
    footer = _FOOTERS[path] = _Footer(key, seq, traces)
    return footer


def may_hold_trace(path: str, trace_id: str) -> bool:
    """False when the file's statistics rule the trace out (its row groups' trace_id ranges miss it)."""
    f = _footer(path)
    return any(t is None or t[0] <= trace_id <= t[1] for t in f.trace)


def _overlaps(path: str, ranges: list[tuple[int, int]]) -> bool:
    seq = _footer(path).seq
    return seq is None or any(lo <= seq[1] and hi >= seq[0] for lo, hi in ranges)


def _of_symbol(path: str, symbol: str) -> bool:
    """False only for a file in another symbol's hive partition (the value decoded as DuckDB decodes it)."""
    segment = next((d for d in path.split("/") if d.startswith("symbol=")), None)
    return segment is None or unquote(segment[len("symbol="):]) == symbol


def _scans(part: Part, files: list[str], select: str, options: str, where: str) -> list[str]:
    """`{select} FROM read_parquet(files{options}) WHERE {where}` over the part's files, its bound applied only
    to the files that reach past it (their statistics say where they end)."""
    split: dict[bool, list[str]] = {}
    for f in files:
        seq = _footer(f).seq
        if part.bound is None or seq is None or seq[0] <= part.bound:
            split.setdefault(part.bound is not None and (seq is None or seq[1] > part.bound), []).append(f)
    return [f"{select} FROM read_parquet({_files(fs)}{options}) WHERE {where}"
            + (f" AND seq <= {part.bound:d}" if cut else "") for cut, fs in split.items()]


def _files(files: list[str]) -> str:
    return "[" + ", ".join(sql_str(f) for f in files) + "]"


_ROW_COLUMNS: Final = "seq, event_id, ts_event, event_type, symbol, mode"


def trace_files(con: duckdb.DuckDBPyConnection, history: History, trace_id: str) -> list[list[str]]:
    """Per part, the files that may hold the trace: those whose min/max statistics reach it and whose bloom
    filter on trace_id (files.WRITE_OPTIONS; a file written without one is kept) does not rule it out.

    The filters are probed here, in one statement over the candidates, rather than left to the scan: with
    random ids every file is a candidate and a scan starts on each even when its filter skips it: with md5
    ids at 10 M events, 99 of 132 files; probed first, 4 are left and the timeline takes 56 ms, not 66.
    """
    candidates = [[f for f in p.files if may_hold_trace(f, trace_id)] for p in history.parts]
    listed = [f for files in candidates for f in files]
    if not listed:
        return candidates
    held = {f for (f,) in con.execute(
        "SELECT file_name FROM parquet_bloom_probe($files, 'trace_id', $t) GROUP BY file_name "
        "HAVING NOT bool_and(bloom_filter_excludes)", {"files": listed, "t": trace_id}).fetchall()}
    return [[f for f in files if f in held] for files in candidates]


def trace_rows(con: duckdb.DuckDBPyConnection, history: History, trace_id: str) -> list[tuple[Any, ...]]:
    """The trace's rows as the `events` view gives them (seq, event_id, ts_event, event_type, symbol, mode,
    payload), ordered by ts_event, seq."""
    lean = [scan for i, (p, files) in enumerate(zip(history.parts, trace_files(con, history, trace_id), strict=True))
            for scan in _scans(p, files, f"SELECT seq, filename AS file, event_type, {i:d} AS part", "",
                               "trace_id = $t")]
    lean.append("SELECT seq, NULL, NULL, -1 FROM _live WHERE trace_id = $t")
    found = con.execute(" UNION ALL ".join(lean), {"t": trace_id}).fetchall()
    full = []
    for i, p in enumerate(history.parts):
        hits = [(seq, file, event_type) for seq, file, event_type, part in found if part == i]
        if hits:
            # the same condition on the same files: the rows read here are the ones found, of these types
            lo, hi = min(h[0] for h in hits), max(h[0] for h in hits)
            full += _scans(p, sorted({h[1] for h in hits}),
                           f"SELECT {_ROW_COLUMNS}, {payload_sql({h[2] for h in hits})} AS payload",
                           f", {HIVE_OPTIONS}", f"trace_id = $t AND seq BETWEEN {lo:d} AND {hi:d}")
    if any(f[3] == -1 for f in found):
        full.append(f"SELECT {_ROW_COLUMNS}, payload FROM _live WHERE trace_id = $t")
    if not full:
        return []
    return con.execute(" UNION ALL ".join(full) + " ORDER BY ts_event, seq", {"t": trace_id}).fetchall()


def context_source(history: History, symbol: str, ranges: list[tuple[int, int]]) -> str | None:
    """SQL of the `market_context` rows of `symbol` (parameter `$symbol`) with seq in `ranges` (columns seq,
    ts_event, symbol, price, spread_bps, volatility_bps, liquidity_usd, regime), None when no file or live row
    can hold one: only the files of the symbol's partitions whose seq statistics reach a range (binding the
    others cost more than reading these), and the live rows only when a range reaches above `live_from`."""
    within = " OR ".join(f"seq BETWEEN {lo:d} AND {hi:d}" for lo, hi in ranges)
    cols = "seq, ts_event, symbol, price, spread_bps, volatility_bps, liquidity_usd, regime"
    where = f"event_type = 'market_context' AND symbol = $symbol AND ({within})"
    out = [scan for p in history.parts
           for scan in _scans(p, [f for f in p.files if _overlaps(f, ranges) and _of_symbol(f, symbol)],
                              f"SELECT {cols}", f", {HIVE_OPTIONS}", where)]
    if history.live_from is None or any(hi > history.live_from for _, hi in ranges):
        out.append(f"SELECT {cols} FROM _live WHERE {where}")
    return " UNION ALL ".join(out) or None
