"""Per-minute partial aggregates of a held (append-only) view, combined into a live window's metrics.

Why: with 10 M events in a 24 h window, aggregating the held rows again at every refresh costs
seconds; combining ~1440 minute buckets per (mode, group) costs milliseconds. Each metric group
(view, where, group_by) keeps a table of partials per (minute, mode, group): row count, the most
recent evidence ids when asked for (metrics_computer asks only for views updated in place; for the
others it looks them up in the window's tail), and the partial columns of `partials.split_expr`.
A refresh adds the partials of the rows appended to the held table since the last one (late rows
land in their own, older minute: buckets are summed, never replaced), then combines the buckets
that lie wholly inside the window with the rows of the two partial minutes at its edges, read from
the held table. A rebuilt held table (new window start before the held one, other columns) rebuilds the partials. Tables
the query layer updates in place (`trades`, `shadow_trades`, and `shadow_gates` over the latter)
keep partials of their closed rows only (`apply`, with trade_changes.py): the minutes that lost a closed row
(rare) are recomputed from the small table of their recent rows the window cache copies (`HeldView.recent`), the
partials of the closed rows an update inserted are added (`HeldView.came`), and the open rows (`HeldView.open`, the
trades open now) are aggregated whole at each refresh with the edge rows. Why: a close moves its row from the open's
minute to the close's; with open rows kept, that old minute (every trade closed in it since) was recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import duckdb

from observability.analytics.partials import Partial, Split, split_expr
from observability.analytics.views import Source, grouping
from observability.analytics.windows import EPOCH
from observability.core.io.trade_tables import MINUTE_US

BUCKET_US: Final = MINUTE_US
COMPACT_EVERY: Final = 64
"""Appends after which a partials table is re-summed to one row per (minute, mode, group)."""
COMPACT_STAGGER: Final = 7
"""The k-th partials table first compacts after COMPACT_EVERY + (k * 7 mod COMPACT_EVERY) appends: tables created
by one refresh and appended to at each one compact at different refreshes (all in one cost it ~50 ms at 10 M
events, every COMPACT_EVERY refreshes)."""


def us_literal(us: int) -> str:
    """Exact to the microsecond (no float seconds on the way)."""
    return f"TIMESTAMPTZ '{(EPOCH + timedelta(microseconds=us)).isoformat()}'"


def minute_spans(buckets: list[int]) -> list[tuple[int, int]]:
    """Minute buckets as [lo, hi) microsecond spans, consecutive minutes as one."""
    runs: list[tuple[int, int]] = []
    for b in sorted(set(buckets)):
        if runs and runs[-1][1] == b * BUCKET_US:
            runs[-1] = (runs[-1][0], (b + 1) * BUCKET_US)
        else:
            runs.append((b * BUCKET_US, (b + 1) * BUCKET_US))
    return runs


def in_spans(ts: str, spans: Sequence[tuple[int, int | None]]) -> str:
    """SQL: `ts` in one of the [lo, hi) microsecond spans (hi None: no end), compared on the time expression
    itself (so that a scan of a table skips the row groups outside them)."""
    parts = [f"({ts} >= {us_literal(lo)}" + ("" if hi is None else f" AND {ts} < {us_literal(hi)}") + ")"
             for lo, hi in spans if hi is None or lo < hi]
    return " OR ".join(parts) or "false"


def _us(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)


@dataclass
class _Parts:
    table: str
    generation: int
    covered: object
    group: tuple[Source, list[Partial], str | None, str | None, int]
    appends: int = 0
    """Appends since the last compaction, less a stagger before the first (COMPACT_STAGGER)."""
    trimmed: int | None = None
    """Minutes before this one were deleted (an appended table: once per window minute, not at each refresh)."""


@dataclass(frozen=True)
class HeldView:
    """What the window cache tells about one held table: its name, key, rebuild generation, top key.

    For a table updated in place (trade_changes.py): `changed` names a table of the buckets whose kept rows (`kept`)
    must be recomputed for the updates between `since_key` and `max_key` (seq of the query layer's trade events):
    when `came` is set, at least the buckets where that one update deleted a kept row (the kept rows it inserted
    elsewhere are added, from `came`); else every bucket where the updates deleted or inserted one.
    """

    table: str
    key: str
    generation: int
    max_key: object
    changed: str | None = None
    since_key: object = None
    minutes: tuple[int, ...] = ()
    """The buckets `changed` holds, read once by whoever made the view (its readers need them in Python too)."""
    recent: str | None = None
    """For a table updated in place: a small table (or parenthesised SELECT) of its rows in the changed
    buckets and in the window's first minute, and in its last one unless `latest_us` says it holds no row at or
    past the window's end (window_cache.py), with every column a metric reads. Partials of changed buckets and
    edge rows are read from it instead of the whole table."""
    came: str | None = None
    """For a table updated in place, when one update took it from `since_key` to `max_key`: the rows that update
    inserted (the new versions of the rows it replaced, which have the same ids, and new rows)."""
    kept: str = "true"
    """SQL condition of the rows kept in minute partials and kept quantiles; the others are in `open`."""
    open: str | None = None
    """For a trade table: its open rows (trade_tables.OPEN), left out of every kept aggregate and read whole at
    each refresh (a close moves its row to another minute: kept, the open's minute was recomputed)."""
    edge: tuple[str, int] | None = None
    """For an appended table: a small table holding every one of its rows in a minute, and that minute."""
    latest_us: int | None = None
    """No kept row has a time after this (µs; None: unknown). Below the window's end, the partials of its last
    minute hold exactly the window's kept rows of that minute, so they need not be read again."""


def key_literal(key: object) -> str:
    """A key bound as a literal: DuckDB prunes row groups by a literal, not by a parameter."""
    if isinstance(key, datetime):
        return f"TIMESTAMPTZ '{key.astimezone(UTC).isoformat()}'"
    return str(int(str(key)))


def _shared(splits: dict[str, Split]) -> tuple[list[Partial], str]:
    """The distinct partial columns of these splits (metrics of one group share many: sum(pnl_net) for the
    net P&L, the expectancy and the win/loss averages) and the SELECT list of their finals over them. Why:
    DuckDB's cost per aggregate expression, not per row, is most of a partials query and of its inserts."""
    canon: dict[tuple[str, str], str] = {}
    partials: list[Partial] = []
    finals = []
    for alias, split in splits.items():
        final = split.final
        for p in split.partials:
            first = canon.setdefault((p.expr, p.combine), p.alias)
            if first == p.alias:
                partials.append(p)
            else:
                final = final.replace(f'"{p.alias}"', f'"{first}"')
        finals.append(f'({final}) AS "{alias}"')
    return partials, ", ".join(finals)


@dataclass
class BucketCache:
    """Partials tables of the metric groups over held views, kept for one DuckDB connection."""

    con: duckdb.DuckDBPyConnection
    _parts: dict[tuple[str, ...], _Parts] = field(default_factory=dict)
    _checked: dict[tuple[str, ...], bool] = field(default_factory=dict)
    _tables: int = 0

    def splits(self, src: Source, exprs: list[tuple[str, str]], where: str | None, group_by: str | None,
               held: HeldView) -> dict[str, Split]:
        """The expressions (by alias) that combine exactly from partials; checked once against DuckDB."""
        out: dict[str, Split] = {}
        for alias, expr in exprs:
            split = split_expr(expr, f"{alias}_p")
            if split is not None and self._valid(src, split, where, group_by, held):
                out[alias] = split
        return out

    def query(self, src: Source, splits: dict[str, Split], where: str | None, group_by: str | None,
              evidence: int, held: HeldView, since: datetime, until: datetime) -> str:
        """The aggregate query (same output columns as `views.group_query`) for the split expressions."""
        partials, finals = _shared(splits)
        parts = self._update(src, partials, where, group_by, evidence, held)
        table = parts.table
        lo_us, hi_us = _us(since), _us(until)
        first = -(-lo_us // BUCKET_US)
        if held.changed is None and parts.trimmed != first:  # appended: later windows start no earlier
            self.con.execute(f"DELETE FROM {table} WHERE b < {first}")
            parts.trimmed = first
        b0, b1 = first, hi_us // BUCKET_US
        # The rows of the partial minutes at both ends, aggregated per minute by one partials select (its
        # expressions bound once: parsing, binding and optimising them costs more than running them). The last
        # minute's partials serve when no held row lies at or past the window's end (a minute of rows arriving
        # at 20k/s was most of a refresh, read again at each one).
        if held.latest_us is not None and held.latest_us < hi_us and b0 <= b1:
            b1 += 1
            ranges = [(lo_us, b0 * BUCKET_US)]
        else:
            ranges = [(lo_us, hi_us)] if b0 >= b1 else [(lo_us, b0 * BUCKET_US), (b1 * BUCKET_US, hi_us)]
        edges = [f"{src.ts} >= {us_literal(start)} AND {src.ts} < {us_literal(end)}" for start, end in ranges]
        if held.recent is not None:  # a small table: one filter; and the open rows in the window, read whole
            rows = f"SELECT * FROM {held.recent} WHERE {' OR '.join(f'({e})' for e in edges)}"
            if held.open is not None:
                rows += f" UNION ALL SELECT * FROM {held.open} WHERE {in_spans(src.ts, [(lo_us, hi_us)])}"
            rows = f"({rows})"
        else:  # each a plain range: the held table's row groups are pruned by it, or its minute's rows
            def rows_of(start: int, end: int) -> str:
                if held.edge is not None and start // BUCKET_US == held.edge[1] == (end - 1) // BUCKET_US:
                    return held.edge[0]
                return held.table
            rows = "(" + " UNION ALL ".join(f"SELECT * FROM {rows_of(*r)} WHERE {e}"
                                            for r, e in zip(ranges, edges, strict=True)) + ")"
        keys = self._keys(src)
        cols = ", ".join(["_n", "_ev", *(f'"{p.alias}"' for p in partials)])
        inner = (f"SELECT b, {keys}, {cols} FROM {table} WHERE b >= {b0} AND b < {b1} UNION ALL "
                 + self._partial_select(src, partials, where, group_by, evidence, rows, "true", bucketed=True))
        scope, grp_out, groups = grouping(src, group_by)
        values = (f"SELECT {scope} AS scope, {grp_out} AS grp, CAST(coalesce(sum(_n), 0) AS BIGINT) AS _n, "
                  f"CAST(NULL AS VARCHAR[]) AS _ids, {finals} FROM ({inner}){groups}")
        if evidence <= 0:
            return values
        # The `evidence` most recent rows of a group lie in its newest minutes holding at least that many
        # rows: those from the `cut` minute on, the oldest one with fewer rows in newer minutes (found by a
        # running count over the keys alone). Only those partial rows' id lists are merged and sorted:
        # carrying every minute's list through a window or sort cost more than the metrics.
        per = "mode, _grp" if src.scoping == "mode" else "_grp"
        newer = "sum(_n) OVER (PARTITION BY {} ORDER BY b DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        counts = (f"SELECT {keys}, b, coalesce({newer.format('_grp')}, 0) AS _na, "
                  f"coalesce({newer.format(per)}, 0) AS _nm FROM (SELECT b, {keys}, _n FROM ({inner}))")
        cuts = (f"SELECT {keys}, min(b) FILTER (WHERE _na < {evidence}) AS _ca, "
                f"min(b) FILTER (WHERE _nm < {evidence}) AS _cm FROM ({counts}) GROUP BY {keys}")
        match = " AND ".join(f"r.{k} IS NOT DISTINCT FROM c.{k}" for k in keys.split(", "))
        # Only the minutes from a cut on carry their id lists into the aggregate (the others are filtered out
        # by it anyway; joining every minute's list cost most of the query).
        rows = (f"SELECT r.*, c._ca, c._cm FROM (SELECT b, {keys}, _ev FROM ({inner})) r JOIN ({cuts}) c ON {match} "
                "AND r.b >= least(c._ca, c._cm)")

        def top(cut: str) -> str:
            return (f"list_transform(list_slice(list_sort(flatten(list(_ev) FILTER (WHERE b >= {cut})), "
                    f"'DESC'), 1, {evidence}), lambda x: x.id)")
        ids = (f"CASE WHEN grouping(mode) = 1 THEN {top('_ca')} ELSE {top('_cm')} END"
               if src.scoping == "mode" else top("_ca"))
        id_rows = f"SELECT {scope} AS scope, {grp_out} AS grp, {ids} AS _ids FROM ({rows}){groups}"
        aliases = "".join(f', v."{alias}"' for alias in splits)
        return (f"SELECT v.scope, v.grp, v._n, i._ids{aliases} FROM ({values}) v LEFT JOIN ({id_rows}) i "
                "ON v.scope IS NOT DISTINCT FROM i.scope AND v.grp IS NOT DISTINCT FROM i.grp")

    def apply(self, view: str, held: HeldView, rows: str | None = None) -> str | None:
        """Bring every partials table over the in-place `view` to its update: recompute the buckets it changed, add
        the kept rows the one update inserted elsewhere (`held.came`). The rows of the changed buckets (`rows`, a
        table or a parenthesised SELECT, when the caller has them) are copied once, not looked for in the whole
        table by each partials table. Returns the table or SELECT of those rows, None when none was read."""
        stale = [sig for sig, parts in self._parts.items() if sig[0] == view and parts.covered != held.max_key]
        if not stale:
            return rows
        for sig in stale:
            parts = self._parts[sig]
            if parts.generation != held.generation or parts.covered != held.since_key or held.changed is None:
                del self._parts[sig]  # rebuilt from all rows when next asked for
                continue
            src, partials, where, group_by, evidence = parts.group
            bucket = f"epoch_us({src.ts}) // {BUCKET_US}"
            if held.minutes:
                if rows is None and held.recent is not None:
                    rows = f"(SELECT * FROM {held.recent} WHERE {bucket} IN (SELECT b FROM {held.changed}))"
                elif rows is None:
                    rows = f"_obs_changed_{view}"
                    self.con.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS SELECT * FROM {held.table} "
                                     f"WHERE {bucket} IN (SELECT b FROM {held.changed})")
                self.con.execute(f"DELETE FROM {parts.table} WHERE b IN (SELECT b FROM {held.changed})")
                self.con.execute(f"INSERT INTO {parts.table} "
                                 + self._partial_select(src, partials, where, group_by, evidence, rows, held.kept,
                                                        bucketed=True))
            if held.came is not None:
                cond = (f"({held.kept}) AND {bucket} NOT IN (SELECT b FROM {held.changed})" if held.minutes
                        else held.kept)
                self.con.execute(f"INSERT INTO {parts.table} "
                                 + self._partial_select(src, partials, where, group_by, evidence, held.came, cond,
                                                        bucketed=True))
                parts.appends += 1
                if parts.appends >= COMPACT_EVERY:
                    self._compact(src, parts, partials, evidence)
            parts.covered = held.max_key
        return rows

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _keys(src: Source) -> str:
        return "mode, _grp" if src.scoping == "mode" else "_grp"

    def _partial_select(self, src: Source, partials: list[Partial], where: str | None, group_by: str | None,
                        evidence: int, held_table: str, cond: str, *, bucketed: bool) -> str:
        grp = f"CAST(({group_by}) AS VARCHAR)" if group_by else "CAST(NULL AS VARCHAR)"
        bucket = f", epoch_us({src.ts}) // {BUCKET_US} AS b" if bucketed else ""
        filt = f"({cond})" + (f" AND ({where})" if where else "")
        ev = (f"max({{'t': {src.ts}, 'id': CAST({src.id_col} AS VARCHAR)}}, {evidence})"
              if evidence > 0 else "CAST(NULL AS STRUCT(t TIMESTAMPTZ, id VARCHAR)[])")
        parts = "".join(f', {p.expr} AS "{p.alias}"' for p in partials)
        keys = self._keys(src)
        out_keys = f"b, {keys}" if bucketed else keys
        return (f"SELECT {out_keys}, count(*) AS _n, {ev} AS _ev{parts} "
                f"FROM (SELECT *, {grp} AS _grp{bucket} FROM {held_table} WHERE {filt}) GROUP BY {out_keys}")

    def _update(self, src: Source, partials: list[Partial], where: str | None, group_by: str | None,
                evidence: int, held: HeldView) -> _Parts:
        sig = (src.name, where or "", group_by or "", str(evidence), *(f"{p.alias}={p.expr}" for p in partials))
        parts = self._parts.get(sig)
        if parts is not None and parts.generation == held.generation and held.changed is not None:
            if parts.covered == held.max_key:
                return parts
        elif parts is not None and parts.generation == held.generation:
            if held.max_key is not None and (parts.covered is None or held.max_key > parts.covered):  # type: ignore[operator]
                top = f"{held.key} <= {key_literal(held.max_key)}"
                cond = top if parts.covered is None else f"{held.key} > {key_literal(parts.covered)} AND {top}"
                sql = self._partial_select(src, partials, where, group_by, evidence, held.table, cond, bucketed=True)
                self.con.execute(f"INSERT INTO {parts.table} {sql}")
                parts.covered, parts.appends = held.max_key, parts.appends + 1
                if parts.appends >= COMPACT_EVERY:
                    self._compact(src, parts, partials, evidence)
            return parts
        if parts is None:
            self._tables += 1
        table = parts.table if parts is not None else f"_obs_p_{self._tables}"
        cond = (held.kept if held.changed is not None else "true" if held.max_key is None
                else f"{held.key} <= {key_literal(held.max_key)}")
        sql = self._partial_select(src, partials, where, group_by, evidence, held.table, cond, bucketed=True)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        group = (src, partials, where, group_by, evidence)
        stagger = int(table.rsplit("_", 1)[1]) * COMPACT_STAGGER % COMPACT_EVERY
        parts = self._parts[sig] = _Parts(table, held.generation, held.max_key, group, appends=-stagger)
        return parts

    def _compact(self, src: Source, parts: _Parts, partials: list[Partial], evidence: int) -> None:
        keys = f"b, {self._keys(src)}"
        ev = (f"list_slice(list_sort(flatten(list(_ev)), 'DESC'), 1, {evidence})" if evidence > 0
              else "CAST(NULL AS STRUCT(t TIMESTAMPTZ, id VARCHAR)[])")
        cols = "".join(f', {p.combine}("{p.alias}") AS "{p.alias}"' for p in partials)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {parts.table} AS SELECT {keys}, sum(_n) AS _n, {ev} AS _ev"
                         f"{cols} FROM {parts.table} GROUP BY {keys}")
        parts.appends = 0

    def _valid(self, src: Source, split: Split, where: str | None, group_by: str | None, held: HeldView) -> bool:
        """True when the partials aggregate the held rows and the residue holds no aggregate or window
        function (DuckDB refuses those in WHERE): then `final` is exactly the metric."""
        key = (src.name, where or "", group_by or "", split.residue, *(p.expr for p in split.partials))
        if key not in self._checked:
            cols = ", ".join(f'NULL::DOUBLE AS "{p.alias}"' for p in split.partials) or "1 AS _x"
            try:
                self.con.execute(f"SELECT 1 FROM (SELECT {cols}) WHERE ({split.residue}) IS NULL LIMIT 0")
                if split.partials:
                    self.con.execute(self._partial_select(src, list(split.partials), where, group_by, 0,
                                                          held.table, "false", bucketed=True) + " LIMIT 0")
                self._checked[key] = True
            except duckdb.Error:
                self._checked[key] = False
        return self._checked[key]
