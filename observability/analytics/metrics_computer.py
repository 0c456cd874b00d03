"""Compute every metric of metrics.yaml per scope (all, scalp, runner) and window, with status.

Why it is fast: each base view's window is held in a temp table (window_cache: only new rows are
added for a live window), then one aggregate query per (view, where, group_by) computes all the
metrics sharing them, rolled up per mode and overall with GROUPING SETS. For a live window over an
append-only view, the metrics that split into count/sum/avg/min/max are combined from per-minute
partial aggregates (buckets.py) instead of re-reading every held row; plain `quantile_cont`s of a view
kept between refreshes (the in-place trade views, trace_latency) come from kept sorted values
(quantiles.py); the others still aggregate the rows. Evidence per value is the most recent row ids it was
computed from (`evidence_ids` of them): for a live window kept per group between refreshes from the
rows each one changed (kept_ids.py); otherwise looked for among the window's last minutes first: a
top-N of ids over millions of rows cost as much as the metrics themselves, and the last minutes usually
hold enough rows of each group (else the next, longer tail; else every row).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, Final, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from observability.analytics.buckets import BucketCache
from observability.analytics.evidence import Fact, fact
from observability.analytics.kept_ids import TAILS, KeptIds, one_of
from observability.analytics.quantiles import QuantileCache, parse_quantile
from observability.analytics.views import (
    ALL_SOURCES,
    DERIVED_SOURCES,
    Source,
    group_query,
    needed_bases,
    needed_columns,
)
from observability.analytics.window_cache import APPEND_KEYS, LIVE_SLACK, ON_IN_PLACE, WindowCache
from observability.analytics.windows import Window, window_us
from observability.config.metrics_config import MetricsConfig, MetricSpec, load_metrics_config
from observability.core.io.duck_threads import one_thread

Status = Literal["ok", "warn", "critical", "insufficient", "no_data", "info"]
_RANK = {"ok": 0, "warn": 1, "critical": 2}
PROBE_EVERY: Final = 8
"""Refreshes a longer evidence tail serves first try before a live computer tries the next shorter one."""


class MetricValue(BaseModel):
    """One metric for one scope (and group, e.g. one gate) over one window."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    scope: str
    group: str | None = None
    window: str
    value: float | None
    unit: str
    precision: int
    n: int = Field(description="rows the value was aggregated from")
    status: Status
    warn: float | None = None
    critical: float | None = None
    good: Literal["high", "low"] | None = None
    target: float | None = None
    view: str
    evidence: list[str] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.name}[{self.group}]" if self.group is not None else self.name

    def to_facts(self) -> list[Fact]:
        base = f"metrics.{self.window}.{self.scope}.{self.key}"
        label = f"{self.label} ({self.scope}{', ' + self.group if self.group else ''}, {self.window})"
        out = fact(base, label, self.value, self.unit, self.precision, self.evidence)
        out += fact(f"{base}.n", f"{label}: rows", float(self.n), "count", 0, self.evidence)
        if self.target is not None:
            out += fact(f"{base}.target", f"{label}: target", self.target, self.unit, self.precision)
        return out


class MetricAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    scope: str
    group: str | None
    severity: str
    level: Literal["warn", "critical"]
    message: str
    value: float
    threshold: float
    unit: str
    evidence: list[str]

    def to_facts(self) -> list[Fact]:
        key = f"alerts.{self.scope}.{self.metric}" + (f"[{self.group}]" if self.group else "")
        return fact(key, f"{self.message} ({self.metric}, {self.scope})", self.value, self.unit, 4, self.evidence)


class MetricsReport(BaseModel):
    window: Window
    computed_at: datetime
    values: list[MetricValue]
    alerts: list[MetricAlert]
    queries: int
    elapsed_ms: float

    def get(self, name: str, scope: str = "all", group: str | None = None) -> MetricValue | None:
        for v in self.values:
            if v.name == name and v.scope == scope and v.group == group:
                return v
        return None

    def value(self, name: str, scope: str = "all", group: str | None = None) -> float | None:
        v = self.get(name, scope, group)
        return v.value if v else None

    def to_facts(self) -> list[Fact]:
        return [f for v in self.values for f in v.to_facts()] + [f for a in self.alerts for f in a.to_facts()]


def status_of(spec: MetricSpec, value: float | None, n: int) -> Status:
    """Too few rows is 'insufficient' even when the value is undefined (a Sharpe ratio of one day)."""
    if n > 0 and n < spec.min_samples:
        return "insufficient"
    if value is None:
        return "no_data"
    th = spec.thresholds
    if th is None:
        return "info"

    def worse(limit: float | None) -> bool:
        return limit is not None and (value < limit if th.good == "high" else value > limit)

    if worse(th.critical):
        return "critical"
    return "warn" if worse(th.warn) else "ok"


class MetricsComputer:
    """Computes metrics over a DuckDB connection holding the query layer's views.

    Keep one instance per connection and call `QueryLayer.refresh()` before each `compute()` of a
    live window: the window cache then only adds the rows logged since the last refresh.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, config: MetricsConfig | None = None, *,
                 incremental: bool = True) -> None:
        """`incremental=False` recomputes everything from the rows each time (the reference)."""
        self.con = con
        self.config = config or load_metrics_config()
        self.cache = WindowCache(con, incremental=incremental)
        self.buckets = BucketCache(con)
        self.quantiles = QuantileCache(con)
        self.kept_ids = KeptIds(con, self.config.evidence_ids)
        """Evidence ids of the metric groups over held views, kept between refreshes (kept_ids.py)."""
        self._first_tail: dict[tuple[str, str | None, str | None], tuple[int, int]] = {}
        """Per metric group: the evidence tail (index into the tails, then the whole window) that served last,
        and how many refreshes in a row it served first try."""

    def compute(self, window: Window, *, metrics: list[str] | None = None,
                scopes: list[str] | None = None) -> MetricsReport:
        """Every metric (or `metrics`) per scope over `window`.

        Runs with DuckDB's preserve_insertion_order off (restored after): nothing here reads rows in
        insertion order (aggregates, tables, and ORDER BY where order counts), and copies and inserts
        run ~10% faster without it. A warm refresh (the last call held its views for a live window, and this one
        is live too: small statements over new rows and changed minutes) runs on one DuckDB thread (duck_threads.py)."""
        ((kept,),) = self.con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        self.con.execute("SET preserve_insertion_order = false")
        try:
            warm = (window.until >= datetime.now(UTC) - LIVE_SLACK
                    and any(self.cache.held(view) is not None for view in APPEND_KEYS))
            with one_thread(self.con) if warm else nullcontext():
                return self._compute(window, metrics, scopes)
        finally:
            self.con.execute(f"SET preserve_insertion_order = {'true' if kept else 'false'}")

    def _compute(self, window: Window, metrics: list[str] | None, scopes: list[str] | None) -> MetricsReport:
        t0 = time.perf_counter()
        specs = {k: v for k, v in self.config.metrics.items() if metrics is None or k in metrics}
        queries = self._materialise(window, specs)
        self._apply_trade_changes()
        groups: dict[tuple[str, str | None, str | None], list[str]] = defaultdict(list)
        for name, spec in specs.items():
            groups[(spec.view, spec.where, spec.group_by)].append(name)
            if spec.group_by is None and (q := parse_quantile(spec.expr)) is not None:
                self.quantiles.plan(spec.view, [(spec.where, q[0])])
        values: list[MetricValue] = []
        for (view, where, group_by), names in groups.items():
            exprs = [(f"m{i}", specs[n].expr) for i, n in enumerate(names)]
            results, inline_ids = self._group(window, view, where, group_by, exprs)
            queries += len(results)
            merged: dict[tuple[str, str | None], tuple[int, dict[str, object]]] = {}
            inline: dict[tuple[str, str | None], list[str]] = {}
            for aliases, rows in results:
                for row in rows:
                    n, vals = merged.setdefault((row[0], row[1]), (int(row[2]), {}))
                    inline.setdefault((row[0], row[1]), row[3] or [])
                    vals.update(zip(aliases, row[4:], strict=True))
            held = self.cache.held(view)
            counts = {key: n for key, (n, _) in merged.items()}
            src = ALL_SOURCES[view]
            evidence: dict[tuple[str, str | None], list[str]] = {}
            if not inline_ids:
                if held is not None and src.recent_evidence and self.kept_ids.serves(held):
                    evidence, extra = self.kept_ids.ids(window, src, where, group_by, held, counts)
                else:
                    evidence, extra = self._evidence(window, src, where, group_by, counts)
                queries += extra
            evidence = evidence or inline
            for (scope, grp), (n, vals) in merged.items():
                if scope is None or (scopes is not None and scope not in scopes and scope != "all"):
                    continue
                ids = evidence.get((scope, grp), [])
                for i, name in enumerate(names):
                    values.append(self._value(name, specs[name], window, scope, grp, n, vals.get(f"m{i}"), ids))
        values.sort(key=lambda v: (list(specs).index(v.name), v.scope != "all", v.scope, v.group or ""))
        return MetricsReport(window=window, computed_at=datetime.now(UTC), values=values,
                             alerts=self._alerts(values), queries=queries,
                             elapsed_ms=(time.perf_counter() - t0) * 1000)

    def _apply_trade_changes(self) -> None:
        """Minute partials over the in-place trade views follow their updates (`buckets.apply`); those of a source
        derived from one (shadow_gates) recompute their changed minutes from the base view's rows of them."""
        changed: dict[str, str | None] = {}
        for view in ("trades", "shadow_trades", *ON_IN_PLACE, "trace_latency"):
            held = self.cache.held(view)
            if held is None:
                continue
            base = ON_IN_PLACE.get(view)
            rows = changed.get(base) if base is not None else None
            derived = f"({DERIVED_SOURCES[view].sql.format(**{base: rows})})" if base is not None and rows else None
            changed[view] = self.buckets.apply(view, held, derived)

    def _group(self, window: Window, view: str, where: str | None, group_by: str | None,
               exprs: list[tuple[str, str]]) -> tuple[list[tuple[list[str], list[tuple[Any, ...]]]], bool]:
        """(aliases, rows) of each query computing one metric group: from minute partials where the
        view is held for a live window and the expression splits, over the rows otherwise; and whether
        those rows carry the evidence ids."""
        if view == "equity" and where is None and group_by is None:
            rows = self.cache.equity.aggregates(exprs, self.config.evidence_ids)
            if rows is not None:
                return [([a for a, _ in exprs], rows)], True
        src = ALL_SOURCES[view]
        held = self.cache.held(view)
        # Evidence ids are kept between refreshes for held views (kept_ids.py) or come from `_evidence`, but a
        # source without recent rows gets them with its values, and so does a group_by over a view updated in
        # place that the kept ids cannot follow: its minute partials keep each minute's most recent ids (only
        # changed minutes are recomputed), while a tail of it scans the whole table.
        in_place = held is not None and held.changed is not None and group_by is not None
        ev = 0 if src.recent_evidence and (not in_place or self.kept_ids.serves(held)) else self.config.evidence_ids
        splits = self.buckets.splits(src, exprs, where, group_by, held) if held is not None else {}
        out: list[tuple[list[str], list[tuple[Any, ...]]]] = []
        if splits and held is not None:
            sql = self.buckets.query(src, splits, where, group_by, ev, held, window.since, window.until)
            out.append((list(splits), self.con.execute(sql).fetchall()))
        rest = [(a, e) for a, e in exprs if a not in splits]
        kept = self._kept_quantiles(window, view, src, where, group_by, rest)
        if kept is not None:
            out.append(kept)
            rest = [(a, e) for a, e in rest if a not in kept[0]]
        if rest:  # same rows as the partials' query: its evidence ids (taken first) serve both
            sql = group_query(src, rest, where, group_by, 0 if out or in_place else ev)
            out.append(([a for a, _ in rest], self.con.execute(sql).fetchall()))
        return out, ev > 0 and bool(splits)

    def _kept_quantiles(self, window: Window, view: str, src: Source, where: str | None, group_by: str | None,
                        exprs: list[tuple[str, str]]) -> tuple[list[str], list[tuple[Any, ...]]] | None:
        """(aliases, rows) of the plain `quantile_cont` metrics among `exprs`, from the quantile cache's kept
        values; None when there are none or the view's rows are not kept between refreshes."""
        parsed = [(a, *q) for a, e in exprs if (q := parse_quantile(e)) is not None]
        if not parsed or group_by is not None or src.scoping != "mode":
            return None
        source = self.cache.quantile_source(view)
        rows = None if source is None else self.quantiles.rows(view, source, where, parsed, *window_us(window))
        return None if rows is None else ([a for a, _, _ in parsed], rows)

    def _evidence(self, window: Window, src: Source, where: str | None, group_by: str | None,
                  rows: dict[tuple[str, str | None], int]) -> tuple[dict[tuple[str, str | None], list[str]], int]:
        """The `evidence_ids` most recent row ids per (scope, group) with `rows` rows in the window, and
        the queries run. A tail of the window holding at least that many rows of a group (or all of its
        rows) holds that group's most recent ones: the same ids as a top-N over every row. Each longer
        tail, and at last the whole window, is read only for the groups still lacking ids."""
        ev = self.config.evidence_ids
        if ev <= 0 or not src.recent_evidence:
            return {}, 0
        found: dict[tuple[str, str | None], list[str]] = {}
        lacking = dict(rows)
        starts: list[datetime | None] = [window.until - t for t in TAILS if window.until - t > window.since]
        starts.append(None)
        # Start at the tail that served last time (a group too sparse for the short tails costs a query per
        # tail at each refresh otherwise), one shorter every PROBE_EVERY refreshes it served first try.
        sig = (src.name, where, group_by)
        served, streak = self._first_tail.get(sig, (0, 0))
        first = min(served - 1 if served > 0 and streak >= PROBE_EVERY else served, len(starts) - 1)
        queries = 0
        for i, start in enumerate(starts[first:], first):
            conds = [f"({where})"] if where else []
            if start is not None:
                conds.append(f"{src.ts} >= TIMESTAMPTZ '{start.astimezone(UTC).isoformat()}'")
            if group_by and queries:
                conds.append(one_of(group_by, {g for _, g in lacking}))
            sql = group_query(src, [], " AND ".join(conds) or None, group_by, ev)
            queries += 1
            for scope, grp, n, ids, *_ in self.con.execute(sql).fetchall():
                key = (scope, grp)
                if key in lacking and (start is None or int(n) >= min(ev, lacking[key])):
                    found[key] = ids or []
                    del lacking[key]
            if not lacking:
                self._first_tail[sig] = (i, streak + 1 if i == first == served else 0)
                break
        return found, queries

    def _materialise(self, window: Window, specs: dict[str, MetricSpec]) -> int:
        """Windowed copies of each base view, with only the columns some metric may use."""
        sources = {s.view for s in specs.values()}
        columns = {}
        for view in needed_bases(sources):
            texts = [t for s in specs.values() if view in (ALL_SOURCES[s.view].bases or (s.view,))
                     for t in (s.expr, s.where or "", s.group_by or "")]
            columns[view] = needed_columns(view, texts, sources)
        readers = {(s.view, s.where, s.group_by) for s in specs.values() if s.view in DERIVED_SOURCES}
        derived = {name: sum(1 for r in readers if r[0] == name) for name in sources & DERIVED_SOURCES.keys()}
        equity = [t for s in specs.values() if s.view == "equity" for t in (s.expr, s.where or "", s.group_by or "")]
        return self.cache.prepare(window, columns, derived, needed_columns("trades", equity, {"equity"}))

    @staticmethod
    def _value(name: str, spec: MetricSpec, window: Window, scope: str, grp: str | None, n: int,
               raw: object, ids: list[str]) -> MetricValue:
        value = float(raw) if isinstance(raw, int | float) and raw == raw else None  # NaN -> no data
        th = spec.thresholds
        return MetricValue(
            name=name, label=spec.label, scope=scope, group=grp, window=window.label, value=value,
            unit=spec.unit, precision=spec.precision, n=n, status=status_of(spec, value, n),
            warn=th.warn if th else None, critical=th.critical if th else None, good=th.good if th else None,
            target=spec.targets.get(scope), view=spec.view, evidence=ids)

    def _alerts(self, values: list[MetricValue]) -> list[MetricAlert]:
        out = []
        for rule in self.config.alerts:
            for v in values:
                if v.name != rule.metric or v.scope not in rule.scopes or v.value is None:
                    continue
                rank = _RANK.get(v.status)
                if rank is None or rank < _RANK[rule.level]:
                    continue
                limit = v.critical if v.status == "critical" else v.warn
                out.append(MetricAlert(metric=v.name, scope=v.scope, group=v.group, severity=rule.severity,
                                       level=rule.level, message=rule.message or v.label, value=v.value,
                                       threshold=float(limit if limit is not None else 0.0), unit=v.unit,
                                       evidence=v.evidence))
        return out
