"""Exact `quantile_cont` of a live window from sorted values kept between refreshes.

Why: a quantile does not combine from per-minute partials, so the live refresh sorted every row of
the window for it each time (over `trace_latency` and the trade views, ~0.2 s of a refresh at 10 M
events). Here each view keeps, per scope and per (where, value expression) series, one sorted numpy
array of the values of the window's whole minutes, plus the rows of each minute from the one the window
starts in (later minutes too: they become whole later). A refresh reads the minutes whose rows changed (rows
of views updated in place are replaced, not only added), the rows one update of a trade view inserted elsewhere,
and a trade view's open rows (never kept: a close moves its row to another minute); values of minutes the start
slid past go, those of minutes that became whole come in. The window's partial minutes at both edges are the kept
rows of those minutes inside it, with the open rows. Values a changed minute removes and adds back cancel first;
the rest is a memmove per array, not a sort. A quantile is then two order statistics of the kept array
merged with the few edge values, interpolated as DuckDB does: RN = (n - 1) q, lo + (hi - lo)(RN - floor RN).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow.compute as pc

from observability.analytics.buckets import BUCKET_US, in_spans, minute_spans

_QUANTILE: Final = re.compile(r"^\s*quantile_cont\s*\((?P<arg>.*),\s*(?P<q>[01]?\.?[0-9]+)\s*\)\s*$",
                              re.IGNORECASE | re.DOTALL)
_NONE: Final = np.empty(0, np.float64)
ALL: Final = -2
"""Scope code of 'all' (every row, a NULL mode too)."""


def parse_quantile(expr: str) -> tuple[str, float] | None:
    """(value expression, q) of a plain `quantile_cont(expr, q)` with a literal q in [0, 1], else None."""
    m = _QUANTILE.match(expr)
    if m is None:
        return None
    arg, q = m.group("arg").strip(), float(m.group("q"))
    depth = 0
    for c in arg:  # the argument must be one balanced expression without a top-level comma or quote
        depth += 1 if c == "(" else -1 if c == ")" else 0
        if depth < 0 or c in "'\"" or (c == "," and depth == 0):
            return None
    return (arg, q) if depth == 0 and 0.0 <= q <= 1.0 and arg else None


@dataclass(frozen=True)
class QuantileSource:
    """Rows of a view the window cache keeps up to date between refreshes, as this module reads them."""

    relation: str
    """Every row (a table or parenthesised SELECT with the view's columns)."""
    recent: str
    """Rows of the changed minutes and of the window's edge minutes (may be `relation`)."""
    ts: str
    generation: int
    since_key: object
    max_key: object
    changed: list[int]
    """Minutes whose rows changed between `since_key` and `max_key` (their rows are in `recent`)."""
    came: str | None = None
    """The rows the one update from `since_key` to `max_key` inserted: those kept, outside `changed`, are added."""
    open: str | None = None
    """Rows never kept (`kept` does not hold), read whole at each refresh."""
    kept: str = "true"

    @property
    def token(self) -> tuple[object, ...]:
        return (self.relation, self.generation, self.since_key, self.max_key)


@dataclass
class _Rows:
    """Rows read for some minutes: time, scope code (mode), whether each `where` holds, and per series
    ((where, value expression)) the value and whether it counts (the where holds, the value is not NULL)."""

    t: np.ndarray
    scope: np.ndarray
    holds: list[np.ndarray]
    values: list[np.ndarray]
    valid: list[np.ndarray]

    @property
    def b(self) -> np.ndarray:
        return self.t // BUCKET_US

    def take(self, idx: np.ndarray | slice) -> _Rows:
        return _Rows(self.t[idx], self.scope[idx], [h[idx] for h in self.holds], [v[idx] for v in self.values],
                     [v[idx] for v in self.valid])


def _concat(parts: list[_Rows]) -> _Rows | None:
    if not parts:
        return None
    return _Rows(np.concatenate([p.t for p in parts]), np.concatenate([p.scope for p in parts]),
                 [np.concatenate([p.holds[j] for p in parts]) for j in range(len(parts[0].holds))],
                 [np.concatenate([p.values[j] for p in parts]) for j in range(len(parts[0].values))],
                 [np.concatenate([p.valid[j] for p in parts]) for j in range(len(parts[0].valid))])


def _joined(first: _Rows, second: _Rows) -> _Rows:
    both = _concat([first, second])
    assert both is not None  # two parts
    return both


def _remove(kept: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`kept` (sorted) without the multiset `values` (each one in it)."""
    if not len(values):
        return kept
    values = np.sort(values)
    pos = np.searchsorted(kept, values, side="left")
    pos += np.arange(len(values)) - np.searchsorted(values, values, side="left")  # the k-th of equal values
    return np.delete(kept, pos)


def _insert(kept: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not len(values):
        return kept
    values = np.sort(values)
    return np.insert(kept, np.searchsorted(kept, values), values)


def _cancel(added: np.ndarray, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The multisets `added` and `removed` without the values they share (as often in one as in the other)."""
    if not len(added) or not len(removed):
        return added, removed
    values, inverse = np.unique(np.concatenate([added, removed]), return_inverse=True)
    net = np.bincount(inverse.ravel(), weights=np.r_[np.ones(len(added)), -np.ones(len(removed))],
                      minlength=len(values)).astype(np.int64)
    return np.repeat(values, np.clip(net, 0, None)), np.repeat(values, np.clip(-net, 0, None))


def _kth(kept: np.ndarray, extra: np.ndarray, k: int) -> float:
    """The k-th smallest (from 0) of `kept` and `extra` together, both sorted."""
    if not len(extra):
        return float(kept[k])
    ranks = np.searchsorted(kept, extra, side="right") + np.arange(len(extra))
    i = int(np.searchsorted(ranks, k))
    return float(extra[i]) if i < len(extra) and ranks[i] == k else float(kept[k - i])


def quantile(kept: np.ndarray, extra: np.ndarray, q: float) -> float | None:
    """DuckDB's quantile_cont over the values of both sorted arrays; None without values."""
    n = len(kept) + len(extra)
    if n == 0:
        return None
    rn = (n - 1) * q
    lo_i, hi_i = math.floor(rn), math.ceil(rn)
    lo = _kth(kept, extra, lo_i)
    if hi_i == lo_i:
        return lo
    hi = _kth(kept, extra, hi_i)
    return lo + (hi - lo) * (rn - lo_i)


@dataclass
class _View:
    """What is kept of one view: every series any metric group asked for, read together."""

    wheres: list[str | None]
    series: list[tuple[int, str]]
    """(index into `wheres`, value expression)."""
    token: tuple[object, ...] = ()
    b0: int = 0
    b1: int = 0
    window: tuple[int, int] = (0, 0)
    since: int = 0
    """Every kept row from this time on is in `minutes` (µs; a window starting earlier is rebuilt)."""
    minutes: dict[int, _Rows] = field(default_factory=dict)
    """Rows of every minute from b0 - 1 on that holds any (later minutes too: they enter the window later; the one
    before b0 holds the window's first partial minute)."""
    sorted: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    """(scope code, series) -> sorted counting values of the minutes in [b0, b1)."""
    counts: dict[tuple[int, int], int] = field(default_factory=dict)
    """(scope code, where) -> rows of the minutes in [b0, b1) where it holds (NULL values too)."""
    edges: _Rows | None = None
    """Rows of the window's partial minutes at both ends."""


class QuantileCache:
    """Kept values per view (each (where, value expression) asked for), for one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._views: dict[str, _View] = {}
        self._modes: dict[str, int] = {}
        self._doubles: dict[tuple[str, str], bool] = {}
        self._rejected: set[tuple[str, str | None, str]] = set()
        """(view, where, expression) of series found not DOUBLE: never planned again."""
        self.last: dict[str, str] = {}
        """How each view's values were brought up to date by the last call: 'rebuilt' or 'advanced' (for
        tests and benches)."""

    def rows(self, view: str, src: QuantileSource, where: str | None, exprs: list[tuple[str, str, float]],
             lo_us: int, hi_us: int) -> list[tuple[Any, ...]] | None:
        """Rows like `views.group_query`'s (scope, NULL group, count, NULL ids, one value per `(alias, expr, q)`)
        for a view scoped by mode, None when the values cannot be kept exactly (not DOUBLE, a window shorter
        than two minutes)."""
        b0, b1 = -(-lo_us // BUCKET_US), hi_us // BUCKET_US
        if b0 >= b1 or not all(self._double(src, e) for _, e, _ in exprs):
            return None
        kept = self.plan(view, [(where, e) for _, e, _ in exprs])
        if not all(self._double(src, e) for _, e in kept.series):  # read together: keep only the DOUBLE ones
            self._rejected.update((view, kept.wheres[w], e) for w, e in kept.series if not self._double(src, e))
            kept = self._views[view] = _View(kept.wheres, [(w, e) for w, e in kept.series if self._double(src, e)])
        if kept.token != src.token or kept.window != (lo_us, hi_us):
            self.last[view] = self._refresh(kept, src, lo_us, hi_us)
        w = kept.wheres.index(where)
        edges = kept.edges
        assert edges is not None  # read by every refresh, and a new _View is always refreshed first
        out = []
        for scope, name in [(ALL, "all"), *sorted((c, m) for m, c in self._modes.items())]:
            in_edges = edges.scope == scope if scope != ALL else np.ones(len(edges.t), bool)
            n = kept.counts.get((scope, w), 0) + int((in_edges & edges.holds[w]).sum())
            if n == 0 and scope != ALL:
                continue
            values = []
            for _, expr, q in exprs:
                j = kept.series.index((w, expr))
                extra = np.sort(edges.values[j][in_edges & edges.valid[j]])
                values.append(quantile(kept.sorted.get((scope, j), np.empty(0)), extra, q))
            out.append((name, None, n, None, *values))
        return out

    def plan(self, view: str, wanted: list[tuple[str | None, str]]) -> _View:
        """Keep these (where, value expression) series of `view` from now on. Every series of a view is read
        together: a series not kept yet means reading the view's rows again, so a caller names them all
        before its first `rows` call."""
        kept = self._views.get(view)
        wanted = [(w, e) for w, e in wanted if (view, w, e) not in self._rejected]
        if kept is None or any((w, e) not in [(kept.wheres[i], x) for i, x in kept.series] for w, e in wanted):
            old = kept or _View([], [])
            wheres = list(dict.fromkeys([*old.wheres, *(w for w, _ in wanted)]))
            series = list(dict.fromkeys([*old.series, *((wheres.index(w), e) for w, e in wanted)]))
            kept = self._views[view] = _View(wheres, series)
        return kept

    # ------------------------------------------------------------------ internals

    def _double(self, src: QuantileSource, expr: str) -> bool:
        """Only DOUBLE values: another type's quantile_cont interpolates (or rounds) in its own type."""
        key = (src.relation, expr)
        if key not in self._doubles:
            try:
                types = [r[1] for r in self.con.execute(f"DESCRIBE SELECT ({expr}) FROM {src.relation}").fetchall()]
                self._doubles[key] = types == ["DOUBLE"]
            except duckdb.Error:
                self._doubles[key] = False
        return self._doubles[key]

    def _read(self, kept: _View, relation: str, ts: str, cond: str) -> _Rows:
        holds = ", ".join(f'coalesce({w}, false) AS "_w{i}"' if w else f'true AS "_w{i}"'
                          for i, w in enumerate(kept.wheres))
        vals = ", ".join(f'({e}) AS "_v{j}"' for j, (_, e) in enumerate(kept.series))
        table = self.con.sql(f"SELECT epoch_us({ts}) AS _t, mode, {holds}, {vals} FROM {relation} "
                             f"WHERE {cond}").to_arrow_table()
        modes = table["mode"].combine_chunks().dictionary_encode()
        codes = np.array([self._modes.setdefault(str(m), len(self._modes)) for m in modes.dictionary.to_pylist()]
                         + [-1], np.int32)
        idx = pc.fill_null(modes.indices, -1).to_numpy(zero_copy_only=False)
        holds_np = [table[f"_w{i}"].to_numpy() for i in range(len(kept.wheres))]
        values, valid = [], []
        for j, (w, _) in enumerate(kept.series):
            col = table[f"_v{j}"]
            valid.append(pc.is_valid(col).to_numpy(zero_copy_only=False) & holds_np[w])
            values.append(pc.fill_null(col, 0.0).to_numpy().astype(np.float64))
        return _Rows(table["_t"].to_numpy().astype(np.int64), codes[idx], holds_np, values, valid)

    @staticmethod
    def _by_minute(rows: _Rows) -> dict[int, _Rows]:
        if not len(rows.t):
            return {}
        rows = rows.take(np.argsort(rows.t // BUCKET_US, kind="stable"))
        b = rows.b
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], len(b)]
        return {int(b[s]): rows.take(slice(s, e)) for s, e in zip(starts, ends, strict=True)}

    def _refresh(self, kept: _View, src: QuantileSource, lo_us: int, hi_us: int) -> str:
        """Bring `kept` to the source's rows and the window: rebuilt, or its changed minutes replaced, the rows
        inserted elsewhere added and [b0, b1) moved to the window's whole minutes; the edge rows taken from the
        kept minutes at both ends, with the open rows."""
        b0, b1 = -(-lo_us // BUCKET_US), hi_us // BUCKET_US
        same = (bool(kept.token) and kept.token[:2] == src.token[:2] and kept.b0 <= b0 < kept.b1
                and lo_us >= kept.since)
        changed: list[int] = []
        came: _Rows | None = None
        if not same or kept.token[3] not in (src.since_key, src.max_key):
            rows = self._read(kept, src.relation, src.ts, f"({in_spans(src.ts, [(lo_us, None)])}) AND ({src.kept})")
            kept.minutes, kept.sorted, kept.counts = self._by_minute(rows), {}, {}
            kept.b0 = kept.b1 = b0
            kept.since = lo_us
            how = "rebuilt"
        else:
            how = "advanced"
            if kept.token[3] != src.max_key:
                changed = [b for b in set(src.changed) if b >= kept.b0 - 1]
                if src.came is not None:
                    came = self._read(kept, src.came, src.ts, src.kept)
                    came = came.take(~np.isin(came.b, list(src.changed)))
        fresh = (self._by_minute(self._read(kept, src.recent, src.ts, in_spans(src.ts, minute_spans(changed))))
                 if changed else {})
        added: list[_Rows] = []
        removed: list[_Rows] = []
        for b in changed:
            inside = kept.b0 <= b < kept.b1
            old = kept.minutes.pop(b, None)
            if old is not None and inside:
                removed.append(old)
            new = fresh.get(b)
            if new is not None:
                kept.minutes[b] = new
                if inside:
                    added.append(new)
        for b, new in (self._by_minute(came) if came is not None else {}).items():
            if b >= kept.b0 - 1:
                old = kept.minutes.get(b)
                kept.minutes[b] = new if old is None else _joined(old, new)
                if kept.b0 <= b < kept.b1:
                    added.append(new)
        removed += [kept.minutes[b] for b in range(kept.b0, min(b0, kept.b1)) if b in kept.minutes]
        added += [kept.minutes[b] for b in range(max(kept.b1, b0), b1) if b in kept.minutes]
        for b in [b for b in kept.minutes if b < b0 - 1]:
            del kept.minutes[b]
        kept.b0, kept.b1, kept.token, kept.window = b0, b1, src.token, (lo_us, hi_us)
        self._apply(kept, _concat(added), _concat(removed))
        edges = [part.take((part.t >= lo_us) & (part.t < hi_us))
                 for b in sorted({b0 - 1, b1}) if (part := kept.minutes.get(b)) is not None]
        if src.open is not None:
            edges.append(self._read(kept, src.open, src.ts, in_spans(src.ts, [(lo_us, hi_us)])))
        kept.edges = _concat(edges) or self._read(kept, src.recent, src.ts, "false")
        return how

    def _apply(self, kept: _View, plus: _Rows | None, minus: _Rows | None) -> None:
        """Add `plus`' rows and take `minus`' out of the counts and sorted values. A changed minute comes back
        mostly as it was (one trace of hundreds touched): equal values added and removed cancel first, and an
        array is rewritten only for what is left."""
        for scope in {ALL, *self._modes.values()}:
            mine = {}
            for sign, rows in ((1, plus), (-1, minus)):
                if rows is not None:
                    mine[sign] = rows.scope == scope if scope != ALL else np.ones(len(rows.t), bool)
                    for w in range(len(kept.wheres)):
                        n = int((mine[sign] & rows.holds[w]).sum())
                        kept.counts[(scope, w)] = kept.counts.get((scope, w), 0) + sign * n
            for j in range(len(kept.series)):
                side = {sign: rows.values[j][mine[sign] & rows.valid[j]]
                        for sign, rows in ((1, plus), (-1, minus)) if rows is not None}
                added, removed = _cancel(side.get(1, _NONE), side.get(-1, _NONE))
                arr = kept.sorted.get((scope, j), np.empty(0, np.float64))
                kept.sorted[(scope, j)] = _insert(_remove(arr, removed), added)
