"""The `equity` derived source computed in one ordered pass instead of two SQL window functions.

Why: `views.DERIVED_SOURCES["equity"]` (a running sum, then a running max over it, per scope)
sorts every closed trade of the window twice per scope; at 10 M events (~360k trades in 24 h)
that alone took 0.5-0.8 s of a refresh. Here DuckDB sorts the closed trades once, by
(closed_at, trade_id) as the SQL does, and numpy folds each scope's running sum and peak. The rows
and columns are the SQL's (only the columns the metrics read are carried); values agree up to
the order of floating-point additions.

For a live window the closed trades in curve order are kept between refreshes (`EquityCache`):
only trades with new trade events (trade_changes.py; their rows read from those the update inserted when the cache
saw the version before it) are replaced, appended in place when they
close after every kept trade (the usual case), else the table is re-sorted; the window is then
a slice by close time. Close times, mode codes and the summed P&L columns are kept as numpy arrays
beside the rows, and the metrics of the plain forms (max or min of cum_pnl or drawdown, their value
at the curve's end) are read from the window's folds (`EquityCache.aggregates`) instead of by SQL
over its rows; any other form is SQL over the registered rows, as for a window not kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from observability.analytics.buckets import HeldView
from observability.analytics.trace_latency import TRADE_EVENTS
from observability.analytics.views import window_table

ROWS: Final = "_obs_equity_rows"
DAYS: Final = "_obs_equity_days"
"""Per mode and UTC day of the kept closes in the window: the sums `daily_pnl` starts from (`register`)."""
DAY_US: Final = 86_400_000_000
SUMMED: Final = ("pnl_net", "pnl_gross", "fees")
"""Columns `_mode_days` sums (those the kept rows carry are kept as arrays too)."""
MAX_CHUNKS: Final = 32
"""Chunks of the kept rows (one per refresh that added trades) before they are combined into one."""


def _fold(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cum_pnl, drawdown) over pnl values in curve order: NaN (NULL) pnl adds nothing; before the first
    non-NULL pnl both are NaN (as SQL's sum over only NULLs: NULL); the peak starts at 0."""
    valid = ~np.isnan(values)
    if valid.all():  # the usual case: no NULL pnl, no NaN to carry
        cum = np.cumsum(values)
        return cum, np.maximum(np.maximum.accumulate(cum), 0.0) - cum if len(cum) else cum
    cum = np.cumsum(np.where(valid, values, 0.0))
    cum[np.cumsum(valid) == 0] = np.nan
    drawdown = np.maximum(np.fmax.accumulate(cum), 0.0) - cum if len(cum) else cum
    return cum, drawdown


def _arrow(values: np.ndarray) -> pa.Array:
    """NaN as NULL; without a NaN, the array itself (no copy, no scan for NaN)."""
    return pa.array(values, from_pandas=True) if np.isnan(values).any() else pa.array(values)


def _columns(columns: list[str]) -> str:
    return ", ".join(dict.fromkeys([*columns, "mode", "closed_at", "trade_id", "pnl_net"]))


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    values: np.ndarray = column.to_numpy(zero_copy_only=False).astype(np.float64)  # NULL -> NaN
    return values


@dataclass(frozen=True)
class _Curve:
    """Closed trades in curve order, with what each refresh folds or sums of them as numpy arrays beside the rows.

    Why: converting the columns (a chunk per refresh), encoding the modes and sorting the (mode, day) keys of
    every kept trade again at each refresh cost more than the folds themselves; kept arrays are sliced instead.
    """

    rows: pa.Table
    closed_us: np.ndarray
    """int64 µs since the epoch."""
    mode: np.ndarray
    """int64 index into the owner's mode names, -1 for NULL."""
    sums: dict[str, np.ndarray]
    """float64 (NaN for NULL) of the SUMMED columns the rows carry."""

    @staticmethod
    def of(rows: pa.Table, modes: dict[str, int]) -> _Curve:
        """Arrays of `rows`; a mode not in `modes` is added to it."""
        codes = rows["mode"].combine_chunks().dictionary_encode()
        names = codes.dictionary.to_pylist()
        slot = np.array([modes.setdefault(m, len(modes)) for m in names] + [-1], np.int64)
        local = pc.fill_null(codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        closed = pc.cast(rows["closed_at"], pa.int64()).to_numpy(zero_copy_only=False)
        return _Curve(rows, closed, slot[local], {n: _floats(rows[n]) for n in SUMMED if n in rows.column_names})

    def slice(self, lo: int, hi: int) -> _Curve:
        return _Curve(self.rows.slice(lo, hi - lo), self.closed_us[lo:hi], self.mode[lo:hi],
                      {n: v[lo:hi] for n, v in self.sums.items()})

    def take(self, rows: np.ndarray) -> _Curve:
        return _Curve(self.rows.take(pa.array(rows)), self.closed_us[rows], self.mode[rows],
                      {n: v[rows] for n, v in self.sums.items()})

    def concat(self, other: _Curve) -> _Curve:
        rows = pa.concat_tables([self.rows, other.rows])
        if rows["trade_id"].num_chunks > MAX_CHUNKS:  # a chunk per refresh: scans slow down as they pile up
            rows = rows.combine_chunks()
        return _Curve(rows, np.concatenate([self.closed_us, other.closed_us]), np.concatenate([self.mode, other.mode]),
                      {n: np.concatenate([v, other.sums[n]]) for n, v in self.sums.items()})


@dataclass(frozen=True)
class Scoped:
    """One scope's rows of a window's curve: their indices into the curve's rows, and their cum_pnl and drawdown."""

    rows: np.ndarray
    cum_pnl: np.ndarray
    drawdown: np.ndarray


def _scopes(curve: _Curve, names: list[str]) -> dict[str | None, Scoped]:
    """The curve folded under 'all' and under each mode present (None: rows without a mode, as SQL's NULL scope)."""
    pnl = curve.sums["pnl_net"]
    out: dict[str | None, Scoped] = {"all": Scoped(np.arange(len(pnl)), *_fold(pnl))}
    for code in range(-1, int(curve.mode.max(initial=-1)) + 1):
        rows = np.flatnonzero(curve.mode == code)
        if len(rows):
            out[names[code] if code >= 0 else None] = Scoped(rows, *_fold(pnl[rows]))
    return out


def _register(con: duckdb.DuckDBPyConnection, curve: _Curve, scopes: dict[str | None, Scoped]) -> str:
    """Register the curve's rows with each row's curve under 'all' and under its mode, and return the SELECT
    giving one row per (row, scope). Why not one table per scope: filtering and concatenating every column per
    scope cost more than the folds."""
    every = scopes["all"]
    cum_mode, dd_mode = np.empty_like(every.cum_pnl), np.empty_like(every.cum_pnl)
    for scope, part in scopes.items():
        if scope != "all":
            cum_mode[part.rows], dd_mode[part.rows] = part.cum_pnl, part.drawdown
    curves = {"_cum_all": every.cum_pnl, "_dd_all": every.drawdown, "_cum_mode": cum_mode, "_dd_mode": dd_mode}
    table = curve.rows
    for name, values in curves.items():
        table = table.append_column(name, _arrow(values))
    con.register(ROWS, table)
    rest = f"SELECT * EXCLUDE ({', '.join(curves)})"
    return (f"{rest}, 'all' AS scope, _cum_all AS cum_pnl, _dd_all AS drawdown FROM {ROWS} UNION ALL "
            f"{rest}, mode AS scope, _cum_mode AS cum_pnl, _dd_mode AS drawdown FROM {ROWS}")


_EXTREME: Final = re.compile(r"(max|min)\((cum_pnl|drawdown)\)")
_LAST: Final = re.compile(r"arg_max\((cum_pnl|drawdown),\(closed_at,trade_id\)\)")


def _form(expr: str) -> tuple[str, str] | None:
    """(max | min | last, column) of an expression `aggregates` reads from the arrays; None for any other."""
    text = re.sub(r"\s+", "", expr).lower()
    if (m := _EXTREME.fullmatch(text)) is not None:
        return m.group(1), m.group(2)
    if (m := _LAST.fullmatch(text)) is not None:
        return "last", m.group(1)
    return None


def _aggregate(form: tuple[str, str], part: Scoped) -> float | None:
    """The form over one scope's rows as SQL computes it: NULL values skipped, NULL when every one is."""
    kind, column = form
    values = part.cum_pnl if column == "cum_pnl" else part.drawdown
    if not len(values):
        return None
    # NaN (NULL) only before the scope's first non-NULL pnl (`_fold`): the last row has a value unless none has, and
    # fmax/fmin skip NaN without copying the values that have one.
    if kind == "last":
        value = float(values[-1])
    else:
        value = float(np.fmax.reduce(values) if kind == "max" else np.fmin.reduce(values))
    return None if np.isnan(value) else value


def register_equity(con: duckdb.DuckDBPyConnection, columns: list[str]) -> str:
    """Register the window's equity rows (from `_obs_w_trades`) and return a SELECT over them."""
    base = con.sql(f"SELECT {_columns(columns)} FROM {window_table('trades')} WHERE status = 'closed' "
                   "ORDER BY closed_at, trade_id").to_arrow_table()
    modes: dict[str, int] = {}
    curve = _Curve.of(base, modes)
    return _register(con, curve, _scopes(curve, list(modes)))


class EquityCache:
    """All closed trades of the query layer in curve order, for one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._base: _Curve | None = None
        self._seen: tuple[str, int, object] | None = None
        self._modes: dict[str, int] = {}
        """Index of each mode name in the kept curve's `mode` codes."""
        self._window: tuple[_Curve, dict[str | None, Scoped]] | None = None
        """The last `register`'s window and its folds, until `forget`."""

    def forget(self) -> None:
        """Another relation may serve `equity` from here on (a window cache's new `prepare`)."""
        self._window = None

    def aggregates(self, exprs: list[tuple[str, str]], evidence: int) -> list[tuple[Any, ...]] | None:
        """`views.group_query`'s rows for these (alias, expression) over the last registered window's equity (no
        filter, no grouping), when every expression is max or min of cum_pnl or drawdown or their value at the end
        of the curve (`arg_max(x, (closed_at, trade_id))`): read from the folded arrays, with the `evidence` most
        recent trade ids per scope. None otherwise. Why: the SQL compared a (time, id) struct per row per scope,
        ~5x the cost of a scan of the rows, where the curve already is in that order."""
        forms = [_form(expr) for _, expr in exprs]
        if self._window is None or None in forms:
            return None
        curve, scopes = self._window
        out: list[tuple[Any, ...]] = []
        for scope, part in scopes.items():
            if scope is None or not len(part.rows):  # SQL's NULL scope (no report shows it); no rows, no group
                continue
            recent = part.rows[::-1][:evidence] if evidence > 0 else part.rows[:0]
            # One id at a time: a take over the chunked column combined every chunk it spans (~4-8 ms per scope at
            # 10 M events, for a scope whose newest rows reach far back).
            trade_ids = curve.rows["trade_id"]
            ids = [trade_ids[int(i)].as_py() for i in recent]
            out.append((scope, None, len(part.rows), ids, *(_aggregate(f, part) for f in forms if f is not None)))
        return out

    def register(self, columns: list[str], trades: HeldView, since_us: int, until_us: int, *,
                 days: bool = False) -> str:
        """Like `register_equity`, from the kept trades brought up to date with `trades`' changes; `days`: also
        register their sums per mode and UTC day as DAYS."""
        base = self._current(_columns(columns), trades)
        lo, hi = np.searchsorted(base.closed_us, [since_us, until_us], side="left")
        window = base.slice(int(lo), int(hi))
        if days:
            self.con.register(DAYS, _mode_days(window, list(self._modes)))
        scopes = _scopes(window, list(self._modes))
        self._window = (window, scopes)
        return _register(self.con, window, scopes)

    def _current(self, cols: str, trades: HeldView) -> _Curve:
        closed = f"SELECT {cols} FROM trades WHERE status = 'closed'"
        order = " ORDER BY closed_at, trade_id"
        seen = self._seen
        if self._base is None or seen is None or seen[:2] != (cols, trades.generation):
            self._modes = {}
            base = _Curve.of(self.con.sql(closed + order).to_arrow_table(), self._modes)
        elif seen[2] == trades.max_key:
            return self._base
        else:
            kept = self._base
            if trades.came is not None and trades.since_key == seen[2]:
                # One update since: its inserted rows are the new versions of every trade it touched, and it replaced
                # a kept (closed) row only if it logged a minute that lost one (trade_changes.py).
                rows = self.con.sql(f"SELECT {cols} FROM {trades.came} WHERE status = 'closed'{order}").to_arrow_table()
                ids = (self.con.sql(f"SELECT trade_id FROM {trades.came}").to_arrow_table()["trade_id"]
                       if trades.minutes else None)
            else:
                touched = f"SELECT DISTINCT trade_id FROM {TRADE_EVENTS} WHERE seq > {int(str(seen[2]))}"
                ids = self.con.sql(touched).to_arrow_table()["trade_id"]
                rows = self.con.sql(f"{closed} AND trade_id IN ({touched}){order}").to_arrow_table()
            if ids is not None:
                gone = pc.is_in(kept.rows["trade_id"], value_set=ids.combine_chunks())
                # Usually only trades that just closed (not kept yet): no copy of the kept rows then.
                if pc.any(gone).as_py():
                    kept = kept.take(np.flatnonzero(~gone.to_numpy(zero_copy_only=False)))
            new = _Curve.of(rows, self._modes)
            base = kept.concat(new)
            if kept.rows.num_rows and new.rows.num_rows and _key(kept.rows, kept.rows.num_rows - 1) > _key(new.rows, 0):
                order_keys = [("closed_at", "ascending"), ("trade_id", "ascending")]
                base = base.take(pc.sort_indices(base.rows, sort_keys=order_keys).to_numpy())
        self._base, self._seen = base, (cols, trades.generation, trades.max_key)
        return base


def _mode_days(curve: _Curve, modes: list[str]) -> pa.Table:
    """Per mode (`scope`, NULL too) and UTC day `d` of these closes: the sums of pnl_net, pnl_gross and fees (NULL
    when every value is) and the count of `trades`, as `views.DAILY_PNL_FROM_MODE_DAYS` reads them. Why: the
    same sums in SQL converted every trade's close time to its day at each refresh (a fifth of the metrics)."""
    day = np.floor_divide(curve.closed_us, DAY_US)
    first = int(day.min()) if len(day) else 0
    span = int(day.max()) - first + 1 if len(day) else 1
    key = (curve.mode + 1) * span + (day - first)
    size = (len(modes) + 1) * span
    counts = np.bincount(key, minlength=size)
    keys = np.flatnonzero(counts)
    index = keys // span - 1
    out: dict[str, pa.Array] = {
        "scope": pa.array([modes[i] if i >= 0 else None for i in index.tolist()], pa.string()),
        "d": pa.array(first + keys % span, pa.int32()).cast(pa.date32()),
    }
    for name in SUMMED:
        values = curve.sums[name]
        valid = ~np.isnan(values)
        if valid.all():  # the usual case: every group has a value
            out[name] = pa.array(np.bincount(key, weights=values, minlength=size)[keys])
            continue
        sums = np.bincount(key, weights=np.where(valid, values, 0.0), minlength=size)[keys]
        seen = np.bincount(key, weights=valid, minlength=size)[keys]
        out[name] = pa.array(sums, mask=seen == 0)
    out["trades"] = pa.array(counts[keys], pa.int64())
    return pa.table(out)


def _key(table: pa.Table, i: int) -> tuple[int, str]:
    return int(pc.cast(table["closed_at"][i], pa.int64()).as_py()), str(table["trade_id"][i].as_py())
