"""Exact `quantile_cont(column, p)` over an in-place trade view's live window, from per-minute values.

Why: the trade views the query layer updates in place (a close replaces an open trade's row) are not
held and appended to, so a quantile over them was a scan of every trade, and a sort of the window's
values per scope, at each refresh. Here each minute's non-NULL values (with their mode) are kept in
numpy per (view, where, column); a refresh replaces only the minutes whose trades changed
(trade_changes.py), read from the small recent-rows table (window_cache.py), and the window's
quantile is a partition of the kept minutes inside it plus the rows of its two edge minutes. The
interpolation is DuckDB's: v[lo] + (pos - lo) * (v[hi] - v[lo]) with pos = (n - 1) * p.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from observability.analytics.buckets import BUCKET_US, HeldView
from observability.analytics.views import VIEW_COLUMNS, Source
from observability.analytics.windows import EPOCH

_US: Final = timedelta(microseconds=1)
_QUANTILE: Final = re.compile(r"^\s*quantile_cont\s*\(\s*([a-z_][a-z0-9_]*)\s*,\s*([0-9]*\.?[0-9]+)\s*\)\s*$",
                              re.IGNORECASE)


def parse(view: str, expr: str) -> tuple[str, float] | None:
    """(column, p) when `expr` is `quantile_cont` of a DOUBLE column of `view` at a constant 0 <= p <= 1."""
    m = _QUANTILE.match(expr)
    if m is None:
        return None
    column, p = m.group(1).lower(), float(m.group(2))
    doubles = {c for c, t in VIEW_COLUMNS.get(view, ()) if t == "DOUBLE"}
    return (column, p) if column in doubles and 0.0 <= p <= 1.0 else None


def quantile_cont(values: np.ndarray, p: float) -> float | None:
    """DuckDB's quantile_cont of the values (NULLs already left out); None without values."""
    n = len(values)
    if n == 0:
        return None
    pos = (n - 1) * p
    lo, hi = math.floor(pos), math.ceil(pos)
    part = np.partition(values, [lo, hi])
    low, high = float(part[lo]), float(part[hi])
    return low if lo == hi else low + (pos - lo) * (high - low)


@dataclass
class _Kept:
    generation: int
    covered: object
    minutes: dict[int, tuple[np.ndarray, np.ndarray]]
    """Minute bucket -> (mode codes, values) of the rows in it."""


@dataclass
class QuantileCache:
    """Per-minute values of in-place views for one DuckDB connection."""

    con: duckdb.DuckDBPyConnection
    _kept: dict[tuple[str, str, str], _Kept] = field(default_factory=dict)
    _modes: list[str | None] = field(default_factory=list)

    def rows(self, src: Source, where: str | None, quantiles: dict[str, tuple[str, float]], held: HeldView,
             since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """Rows like `views.group_query`'s (scope, grp, _n, _ids, then one value per alias of `quantiles`)
        for 'all' and each mode with values."""
        lo_us, hi_us = (since - EPOCH) // _US, (until - EPOCH) // _US
        per_alias: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for alias, (column, _) in quantiles.items():
            per_alias[alias] = self._window(src, where, column, held, lo_us, hi_us)
        present = sorted({int(c) for codes, _ in per_alias.values() for c in np.unique(codes)})
        scopes: list[tuple[str | None, int | None]] = [("all", None)]
        scopes += [(self._modes[c], c) for c in present if self._modes[c] is not None]
        out = []
        for scope, code in scopes:
            vals = []
            for alias, (_, p) in quantiles.items():
                codes, values = per_alias[alias]
                vals.append(quantile_cont(values if code is None else values[codes == code], p))
            out.append((scope, None, 0, None, *vals))
        return out

    def _window(self, src: Source, where: str | None, column: str, held: HeldView, lo_us: int,
                hi_us: int) -> tuple[np.ndarray, np.ndarray]:
        kept = self._current(src, where, column, held)
        b0, b1 = -(-lo_us // BUCKET_US), hi_us // BUCKET_US
        parts = [v for b, v in kept.minutes.items() if b0 <= b < b1]
        ranges = [(lo_us, hi_us)] if b0 >= b1 else [(lo_us, b0 * BUCKET_US), (b1 * BUCKET_US, hi_us)]
        edges = " OR ".join(f"(epoch_us({src.ts}) >= {a} AND epoch_us({src.ts}) < {b})" for a, b in ranges)
        edge = self._fetch(src, where, column, held.recent or held.table, f"({edges})")
        parts.append((edge[1], edge[2]))
        codes = np.concatenate([c for c, _ in parts]) if parts else np.empty(0, np.int32)
        values = np.concatenate([v for _, v in parts]) if parts else np.empty(0, np.float64)
        return codes, values

    def _current(self, src: Source, where: str | None, column: str, held: HeldView) -> _Kept:
        """The kept minutes brought up to date: only the changed minutes re-read, else all rebuilt."""
        key = (src.name, where or "", column)
        kept = self._kept.get(key)
        if kept is not None and kept.generation == held.generation and kept.covered == held.max_key:
            return kept
        if (kept is None or kept.generation != held.generation or kept.covered != held.since_key
                or held.changed is None or held.recent is None):
            kept = _Kept(held.generation, held.max_key, self._split(*self._fetch(src, where, column, held.table)))
            self._kept[key] = kept
            return kept
        changed = [int(b) for (b,) in self.con.execute(f"SELECT b FROM {held.changed}").fetchall()]
        for b in changed:
            kept.minutes.pop(b, None)
        if changed:
            cond = f"epoch_us({src.ts}) // {BUCKET_US} IN ({', '.join(map(str, changed))})"
            kept.minutes.update(self._split(*self._fetch(src, where, column, held.recent, cond)))
        kept.covered = held.max_key
        return kept

    def _fetch(self, src: Source, where: str | None, column: str, table: str,
               cond: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(minute buckets, mode codes, values) of the rows of `table` passing `where` and `cond`."""
        conds = [f"({column}) IS NOT NULL", *([f"({where})"] if where else []), *([cond] if cond else [])]
        rows = self.con.sql(f"SELECT epoch_us({src.ts}) // {BUCKET_US} AS b, mode, CAST({column} AS DOUBLE) AS v "
                            f"FROM {table} WHERE {' AND '.join(conds)}").to_arrow_table()
        buckets = rows["b"].to_numpy().astype(np.int64)
        values = rows["v"].to_numpy().astype(np.float64)
        return buckets, self._codes(rows["mode"]), values

    def _codes(self, modes: pa.ChunkedArray) -> np.ndarray:
        """Mode strings as small ints, stable for this cache (NULL is a code too)."""
        encoded = modes.combine_chunks().dictionary_encode()
        names = [*encoded.dictionary.to_pylist(), None]
        lut = np.array([self._code(m) for m in names], dtype=np.int32)
        indices: np.ndarray = pc.fill_null(encoded.indices, len(names) - 1).to_numpy(zero_copy_only=False)
        codes: np.ndarray = lut[indices]
        return codes

    def _code(self, mode: str | None) -> int:
        if mode not in self._modes:
            self._modes.append(mode)
        return self._modes.index(mode)

    @staticmethod
    def _split(buckets: np.ndarray, codes: np.ndarray,
               values: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        if not len(buckets):
            return {}
        order = np.argsort(buckets, kind="stable")
        buckets, codes, values = buckets[order], codes[order], values[order]
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[starts[1:], len(buckets)]
        return {int(buckets[s]): (codes[s:e], values[s:e]) for s, e in zip(starts, ends, strict=True)}

