"""Evidence ids of metric groups over held views, kept between live refreshes instead of looked up again.

Why: looking up each group's most recent row ids at every refresh cost a top-N query per metric group over
the window's last minutes (and over the whole window for a rare group, or for every group of a view updated
in place: a tail of it scans the whole table). That was a quarter of a warm refresh at 10 M events. Here each
metric group keeps, per (scope, group), its newest rows as (time µs, id) and folds in only what changed:
the rows appended to a held view since the last refresh, or, for a view updated in place, the rows its one update
since inserted (kept rows with their ids are dropped first: those rows were replaced), else the rows of its changed
minutes (the kept rows of those minutes are dropped first), unless it has rows out of those minutes (a trade view's
open rows): then its ids are looked up again. The minutes of trades closing hours after they opened hold every trade
since: re-reading them grew with the trade rate times the hold.

Invariant per (scope, group): `top` holds rows of the group (at most KEEP), and every row of the group before
`horizon` at or above its `floor` (by time, then id); `ahead` holds every row of the group at or after
`horizon` (a close logged ahead of the clock). Then the newest `evidence_ids` kept rows inside a window, of
those at or above the floor or ahead, are its most recent rows whenever there are that many, or all of the
group's rows in it (the metric's row count says); otherwise the group's ids are looked up again, each longer
tail of the window read only for the groups still lacking ids (as `MetricsComputer._evidence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import duckdb

from observability.analytics.buckets import BUCKET_US, HeldView, key_literal
from observability.analytics.views import Source, grouping
from observability.analytics.windows import EPOCH, Window, window_us

Key = tuple[str, str | None]
Entry = tuple[int, str]
"""A kept row: (time in µs since the epoch, id)."""
TAILS: Final = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2))
"""The window's last stretches read for a group's ids before all of it, when they must be looked up. The first
one is short: where rows arrive fast, ten minutes hold far more than `evidence_ids` rows of each busy group,
and the top-N over them cost as much as the metric itself."""
KEEP_FACTOR: Final = 3
"""Rows kept per group, in multiples of `evidence_ids`: spares for rows an in-place change takes away (an open
trade that closed), so that the newest ones still fill the ids without a lookup."""


def one_of(group_by: str, groups: set[str | None]) -> str:
    """SQL: the row's group (as `views.group_query` casts it) is one of `groups`."""
    grp = f"CAST(({group_by}) AS VARCHAR)"
    names = ", ".join("'" + g.replace("'", "''") + "'" for g in groups if g is not None)
    parts = ([f"{grp} IN ({names})"] if names else []) + ([f"{grp} IS NULL"] if None in groups else [])
    return "(" + (" OR ".join(parts) or "false") + ")"


@dataclass
class _Kept:
    generation: int
    covered: object
    horizon: int
    base: Entry
    """The floor of a group without its own: the window start the ids were looked up for (the group had no
    row in that window)."""
    top: dict[Key, list[Entry]] = field(default_factory=dict)
    floor: dict[Key, Entry] = field(default_factory=dict)
    ahead: dict[Key, list[Entry]] = field(default_factory=dict)

    def keep(self, key: Key, entries: list[Entry], floor: Entry, keep: int) -> None:
        """Kept rows of `key`: `entries` (newest first), the KEEP newest of them; with that many (some may
        have been cut), the floor rises to the oldest kept one."""
        if len(entries) >= keep:
            entries = entries[:keep]
            floor = max(floor, entries[-1])
        self.top[key], self.floor[key] = entries, floor


def _us(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)


def _entries(values: list[dict[str, Any]] | None) -> list[Entry]:
    return [(int(v["t"]), str(v["id"])) for v in values or []]


class KeptIds:
    """Kept evidence ids of every metric group over a held view, for one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, evidence: int) -> None:
        self.con = con
        self.evidence = evidence
        self.keep = evidence * KEEP_FACTOR
        self._kept: dict[tuple[str, str | None, str | None], _Kept] = {}
        self._pending: dict[tuple[str, str | None, str | None], tuple[object, list[tuple[Key, list[Entry],
                                                                                         list[Entry]]]]] = {}
        """Per group: the changed rows another group's query read for it, and for what (generation, covered,
        top key)."""
        self._came: dict[str, tuple[object, set[str]]] = {}
        """Per in-place view: the changes (generation, since, top key) the ids of its new rows were read for."""
        self.lookups = 0
        """Groups whose ids were looked up again (not served from the kept rows), for tests and benches."""

    @staticmethod
    def serves(held: HeldView | None) -> bool:
        """True when the ids of groups over this held view can be kept: it is appended to, or updated in place
        with a table of its changed minutes' rows."""
        return held is not None and (held.changed is None or held.recent is not None)

    def ids(self, window: Window, src: Source, where: str | None, group_by: str | None, held: HeldView,
            counts: dict[Key, int]) -> tuple[dict[Key, list[str]], int]:
        """The `evidence` most recent ids per (scope, group) with `counts` rows in the window, and the queries run."""
        if self.evidence <= 0:
            return {}, 0
        sig = (src.name, where, group_by)
        kept = self._kept.get(sig)
        queries = 0
        lo, hi = window_us(window)
        if kept is not None and kept.generation == held.generation and kept.covered != held.max_key:
            if held.changed is not None and (kept.covered != held.since_key
                                             or (held.came is None and held.open is not None)):
                kept = None
            elif self._advance(kept, src, where, group_by, held, hi):
                queries += 1
        elif kept is not None and kept.generation != held.generation:
            kept = None
        found = self._serve(kept, counts, lo, hi) if kept is not None else None
        if found is not None:
            return found, queries
        self.lookups += 1
        kept, found, looked = self._lookup(window, src, where, group_by, held, counts)
        self._kept[sig] = kept
        return found, queries + looked

    # ------------------------------------------------------------------ internals

    def _serve(self, kept: _Kept, counts: dict[Key, int], lo: int, hi: int) -> dict[Key, list[str]] | None:
        out: dict[Key, list[str]] = {}
        for key, n in counts.items():
            floor = kept.floor.get(key, kept.base)
            rows = [e for e in kept.top.get(key, ()) if lo <= e[0] < hi and e >= floor]
            rows += [e for e in kept.ahead.get(key, ()) if lo <= e[0] < hi]
            if len(rows) < min(self.evidence, n) and floor > (lo, ""):  # else every row in the window is kept
                return None
            rows.sort(reverse=True)
            out[key] = [i for _, i in rows[:self.evidence]]
        return out

    def _rows(self, src: Source, where: str | None, group_by: str | None, relation: str, cond: str) -> str:
        grp = f"CAST(({group_by}) AS VARCHAR)" if group_by else "CAST(NULL AS VARCHAR)"
        # Rows without an id are no evidence (a top-n of ids skips NULLs: `views.group_query`).
        filt = f"({cond}) AND {src.ts} IS NOT NULL AND {src.id_col} IS NOT NULL" + (f" AND ({where})" if where else "")
        return (f"SELECT *, {grp} AS _grp, epoch_us({src.ts}) AS _t, CAST({src.id_col} AS VARCHAR) AS _id "
                f"FROM {relation} WHERE {filt}")

    def _query(self, src: Source, group_by: str | None, rows: str, horizon: int) -> list[tuple[Any, ...]]:
        """Per (scope, group) of `rows`: rows before `horizon`, the KEEP newest of them, every one at or after it."""
        scope, grp_out, groups = grouping(src, group_by)
        entry = "{'t': _t, 'id': _id}"
        sql = (f"SELECT {scope} AS scope, {grp_out} AS grp, count(*) FILTER (WHERE _t < {horizon}) AS _n, "
               f"max({entry}, {self.keep}) FILTER (WHERE _t < {horizon}) AS _top, "
               f"list({entry}) FILTER (WHERE _t >= {horizon}) AS _ahead FROM ({rows}){groups}")
        return self.con.execute(sql).fetchall()

    def _advance(self, kept: _Kept, src: Source, where: str | None, group_by: str | None, held: HeldView,
                 hi: int) -> bool:
        """Fold in the rows changed since `kept.covered`, and move the horizon up to the window's end; returns
        whether a query ran (not when another group's query read this group's rows too)."""
        sig = (src.name, where, group_by)
        state = (kept.generation, kept.covered, held.max_key)
        pending = self._pending.pop(sig, None)
        queried = pending is None or pending[0] != state
        delta = self._query_delta(sig, kept, src, held, hi) if queried else pending[1] if pending else []
        horizon = max(kept.horizon, hi)
        if held.changed is not None:
            # Replaced rows go: those with the ids of the rows the one update inserted, else every row of the minutes
            # the updates changed (their rows are read again).
            ids = self._came_ids(src, held) if held.came is not None else None
            buckets = set(held.minutes)
            for part in (kept.top, kept.ahead):
                for key, entries in part.items():
                    part[key] = [e for e in entries if (e[1] not in ids if ids is not None
                                                        else e[0] // BUCKET_US not in buckets)]
        moved: dict[Key, list[Entry]] = {}
        for key, entries in kept.ahead.items():
            moved[key] = [e for e in entries if e[0] < horizon]
            kept.ahead[key] = [e for e in entries if e[0] >= horizon]
        for key, top_rows, ahead_rows in delta:
            moved.setdefault(key, []).extend(top_rows)
            if ahead_rows:
                kept.ahead.setdefault(key, []).extend(ahead_rows)
        for key, entries in moved.items():
            if entries:
                kept.keep(key, sorted([*kept.top.get(key, []), *entries], reverse=True),
                          kept.floor.get(key, kept.base), self.keep)
        kept.horizon, kept.covered = horizon, held.max_key
        return queried

    def _query_delta(self, sig: tuple[str, str | None, str | None], kept: _Kept, src: Source, held: HeldView,
                     hi: int) -> list[tuple[Key, list[Entry], list[Entry]]]:
        """The rows changed since `kept.covered` of this group, by (scope, group): those before the new horizon
        (the KEEP newest) and those at or after it. One query reads them for every group over the same view,
        grouped alike and kept up to the same key (their filters in the aggregates): the others' are kept for
        their own call (`_pending`)."""
        if held.changed is None:
            cond = f"{held.key} > {key_literal(kept.covered)} AND {held.key} <= {key_literal(held.max_key)}"
            relation = held.table
        elif held.came is not None:
            cond, relation = "true", held.came
        else:
            cond = f"epoch_us({src.ts}) // {BUCKET_US} IN (SELECT b FROM {held.changed})"
            relation = str(held.recent)
        groups = [(other, k) for other, k in self._kept.items()
                  if other[0] == sig[0] and other[2] == sig[2] and other != sig
                  and (k.generation, k.covered) == (kept.generation, kept.covered)]
        groups.insert(0, (sig, kept))
        scope, grp_out, grouped = grouping(src, sig[2])
        entry = "{'t': _t, 'id': _id}"
        cols = []
        for i, ((_, where, _), k) in enumerate(groups):
            horizon, match = max(k.horizon, hi), f"({where})" if where else "true"
            cols.append(f"max({entry}, {self.keep}) FILTER (WHERE _t < {horizon} AND {match}) AS _top{i}, "
                        f"list({entry}) FILTER (WHERE _t >= {horizon} AND {match}) AS _ahead{i}")
        rows = self._rows(src, None, sig[2], relation, cond)
        result = self.con.execute(f"SELECT {scope} AS scope, {grp_out} AS grp, {', '.join(cols)} "
                                  f"FROM ({rows}){grouped}").fetchall()
        deltas: list[list[tuple[Key, list[Entry], list[Entry]]]] = [[] for _ in groups]
        for row in result:
            for i in range(len(groups)):
                top_rows, ahead_rows = row[2 + 2 * i], row[3 + 2 * i]
                if top_rows or ahead_rows:
                    deltas[i].append(((row[0], row[1]), _entries(top_rows), _entries(ahead_rows)))
        for ((other, k), delta) in list(zip(groups, deltas, strict=True))[1:]:
            self._pending[other] = ((k.generation, k.covered, held.max_key), delta)
        return deltas[0]

    def _came_ids(self, src: Source, held: HeldView) -> set[str]:
        """The ids of the rows the last update of an in-place view inserted (`held.came`), read once per update."""
        seen = (held.generation, held.since_key, held.max_key)
        cached = self._came.get(src.name)
        if cached is None or cached[0] != seen:
            # A row without an id is never replaced (trace_latency's rows of signals without a trace): only added.
            rows = self.con.execute(f"SELECT DISTINCT CAST({src.id_col} AS VARCHAR) FROM {held.came} "
                                    f"WHERE {src.id_col} IS NOT NULL").fetchall()
            cached = self._came[src.name] = (seen, {str(i) for (i,) in rows})
        return cached[1]

    def _lookup(self, window: Window, src: Source, where: str | None, group_by: str | None, held: HeldView,
                counts: dict[Key, int]) -> tuple[_Kept, dict[Key, list[str]], int]:
        """Kept rows of every group from the window's tails (shortest first; each longer one only for the groups
        still lacking ids, as long as the window holds rows of them), and the ids they give. Every tail is read
        up to the newest row, past the window's end: the first one gives the rows ahead of it."""
        lo, hi = window_us(window)
        kept = _Kept(held.generation, held.max_key, hi, (lo, ""))
        lacking = dict(counts)
        starts: list[datetime | None] = [window.until - t for t in TAILS if window.until - t > window.since]
        starts.append(None)
        queries = 0
        for queries, start in enumerate(starts, 1):
            first = start or window.since
            cond = f"{src.ts} >= TIMESTAMPTZ '{first.astimezone(UTC).isoformat()}'"
            if group_by and queries > 1:
                cond += f" AND {one_of(group_by, {g for _, g in lacking})}"
            for scope, grp, n, top_rows, ahead_rows in self._query(
                    src, group_by, self._rows(src, where, group_by, held.table, cond), hi):
                key = (scope, grp)
                if queries == 1 and ahead_rows:
                    kept.ahead[key] = _entries(ahead_rows)
                if key in lacking and (start is None or int(n) >= min(self.evidence, lacking[key])):
                    kept.keep(key, sorted(_entries(top_rows), reverse=True), (_us(first), ""), self.keep)
                    del lacking[key]
            if not lacking:
                break
        found = self._serve(kept, counts, lo, hi)
        assert found is not None  # every group's rows in the window were read
        return kept, found, queries
