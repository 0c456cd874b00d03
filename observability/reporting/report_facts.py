"""Gather a report's facts for one period through the query layer and the analytics modules.

Why the query layer: a weekly report must see days already exported to Parquet and pruned from
live.db; the views give both, exactly once. The report's own section facts (trades, notable trades,
shadow outcomes, model and config changes) are SQL over those views; gate findings come from
`GateExplainer.summaries` and metric alerts from `MetricsComputer`, converted to our `Fact`.
Each fact's evidence (trade, trace, model ids) comes from the rows that produced it, so
`huracan-obs explain ID` can recompute it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeGuard

import duckdb
import orjson

from observability.ai.facts import from_analytics
from observability.analytics.gate_explainer import GateExplainer
from observability.analytics.metrics_computer import MetricsComputer, MetricValue
from observability.analytics.windows import Window
from observability.core.io.query import QueryLayer
from observability.errors import DataDirError
from observability.paths import DataLayout
from observability.reporting.report_data import (
    ConfigChange,
    GateFinding,
    MetricFinding,
    ModelChange,
    NotableTrade,
    Period,
    ReportData,
)

NOTABLE_PER_SIDE = 3
EVIDENCE = 50
HEADLINE_METRICS = ("profit_factor", "expectancy_bps", "max_drawdown_usdt", "take_rate_pct",
                    "slippage_round_trip_avg_bps", "fill_latency_avg_ms", "events_dropped")


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimals(value: float, cap: int = 6) -> int:
    """Decimals needed to show a configured value exactly (10.0 -> 0, 0.55 -> 2)."""
    text = f"{value:.{cap}f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


class _Gatherer:
    def __init__(self, con: duckdb.DuckDBPyConnection, period: Period) -> None:
        self.con = con
        self.period = period
        self.window = Window(label=period.end.isoformat() if period.kind == "daily" else "week",
                             since=datetime(period.start.year, period.start.month, period.start.day, tzinfo=UTC),
                             until=datetime.fromtimestamp(period.end_us / 1e6, tz=UTC))
        self.since, self.until = self.window.sql_bounds()
        self.data = ReportData(period)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        cur = self.con.execute(sql.format(since=self.since, until=self.until))
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def count(self, view: str, ts: str = "ts_event") -> int:
        row = self.con.execute(
            f"SELECT count(*) FROM {view} WHERE {ts} >= {self.since} AND {ts} < {self.until}").fetchone()
        return int(row[0]) if row else 0

    def trades(self) -> None:
        d = self.data
        opened = self.rows("SELECT trade_id FROM trades WHERE opened_at >= {since} AND opened_at < {until} "
                           "ORDER BY opened_at")
        d.add("trades.opened", "trades opened", len(opened), "count", 0, [r["trade_id"] for r in opened][:EVIDENCE])
        closed = self.rows("SELECT * FROM trades WHERE status = 'closed' AND closed_at >= {since} "
                           "AND closed_at < {until} ORDER BY closed_at")
        ids = [r["trade_id"] for r in closed][:EVIDENCE]
        d.add("trades.closed", "trades closed", len(closed), "count", 0, ids)
        if not closed:
            return
        wins = [r for r in closed if r["pnl_net"] > 0]
        d.add("trades.wins", "winning trades", len(wins), "count", 0, [r["trade_id"] for r in wins][:EVIDENCE])
        d.add("trades.win_rate", "win rate", len(wins) / len(closed), "ratio", 3, ids)
        d.add("trades.pnl_net_total", "net PnL", sum(r["pnl_net"] for r in closed), "USDT", 2, ids)
        d.add("trades.pnl_bps_avg", "average net PnL per trade", _mean([r["pnl_bps"] for r in closed]), "bps", 1,
              ids)
        d.add("trades.fees_total", "fees paid", sum(r["fees"] or 0.0 for r in closed), "USDT", 2, ids)
        d.add("trades.hold_avg", "average hold", _mean([r["hold_seconds"] for r in closed]), "s", 0, ids)
        d.add("trades.entry_slippage_avg", "average entry slippage",
              _mean([r["entry_slippage_bps"] for r in closed if r["entry_slippage_bps"] is not None]), "bps", 2, ids)
        for mode in sorted({r["mode"] for r in closed}):
            rows = [r for r in closed if r["mode"] == mode]
            mids = [r["trade_id"] for r in rows][:EVIDENCE]
            d.add(f"mode.{mode}.closed", f"{mode} trades closed", len(rows), "count", 0, mids)
            d.add(f"mode.{mode}.pnl_net", f"{mode} net PnL", sum(r["pnl_net"] for r in rows), "USDT", 2, mids)
        ranked = sorted(closed, key=lambda r: r["pnl_bps"])
        best = ranked[-NOTABLE_PER_SIDE:][::-1]
        for r in best + [r for r in ranked[:NOTABLE_PER_SIDE] if r not in best]:
            self.notable(r)

    def notable(self, r: dict[str, Any]) -> None:
        d = self.data
        tid, trace = r["trade_id"], r["trace_id"] or ""
        ev = [tid, trace] if trace else [tid]
        d.add(f"trade.{tid}.pnl_bps", f"trade {tid} net PnL in bps", r["pnl_bps"], "bps", 1, ev)
        d.add(f"trade.{tid}.pnl_net", f"trade {tid} net PnL", r["pnl_net"], "USDT", 2, ev)
        d.add(f"trade.{tid}.hold", f"trade {tid} hold", r["hold_seconds"], "s", 0, ev)
        d.notable.append(NotableTrade(tid, trace, r["symbol"] or "", r["mode"] or "none", r["side"] or "",
                                      r["exit_reason"] or ""))
        d.entity_ids.update(x for x in (tid, trace, r["model_id"]) if x)

    def gates(self) -> None:
        d = self.data
        d.add("gates.decisions", "gate decisions", self.count("gate_decisions"), "count", 0)
        for s in GateExplainer(self.con).summaries(self.window):
            d.facts.extend(from_analytics(f) for f in s.to_facts())
            d.gates.append(GateFinding(s.gate, f"gates.{self.window.label}.{s.gate}"))
            d.entity_ids.update([s.gate, *s.evidence])
        shadows = self.rows("SELECT shadow_id, pnl, pnl_bps FROM shadow_trades WHERE status = 'closed' "
                            "AND closed_at >= {since} AND closed_at < {until}")
        d.add("shadow.closed", "shadow trades closed", len(shadows), "count", 0)
        if shadows:
            sids = [r["shadow_id"] for r in shadows][:EVIDENCE]
            d.add("shadow.pnl_total", "shadow net PnL", sum(r["pnl"] for r in shadows), "USDT", 2, sids)
            d.add("shadow.pnl_bps_avg", "average shadow PnL per trade", _mean([r["pnl_bps"] for r in shadows]),
                  "bps", 1, sids)

    def models(self) -> None:
        d = self.data
        for r in self.rows("SELECT * FROM model_updates WHERE ts_event >= {since} AND ts_event < {until} "
                           "ORDER BY seq"):
            mid = r["model_id"]
            metrics = orjson.loads(r["metrics"] or "{}")
            before = (orjson.loads(r["delta"]) if r["delta"] else {}) or {}
            before = before.get("metrics_before") or {}
            names = []
            for name, after in sorted(metrics.items()):
                if not _is_number(after):
                    continue
                names.append(name)
                shown = _decimals(after, cap=4)
                d.add(f"model.{mid}.{name}", f"{name} after", after, "", shown, [mid])
                if _is_number(before.get(name)):
                    shown = max(shown, _decimals(before[name], cap=4))
                    d.add(f"model.{mid}.{name}.before", f"{name} before", before[name], "", shown, [mid])
                    d.add(f"model.{mid}.{name}.delta", f"{name} change", after - before[name], "", shown, [mid])
            d.models.append(ModelChange(mid, r["parent_model_id"], r["reason"] or "", tuple(names)))
            d.entity_ids.update(x for x in (mid, r["parent_model_id"]) if x)
        d.add("models.updated", "model updates", len(d.models), "count", 0, [m.model_id for m in d.models])

    def configs(self) -> None:
        d = self.data
        rows = self.rows("SELECT * FROM config_changes WHERE ts_event >= {since} AND ts_event < {until} "
                         "ORDER BY seq")
        # a first record (no old value) is the value a setting started with, not a change: counting it
        # made a restart look like a burst of config changes
        changed = [r["event_id"] for r in rows if r["old_value"] not in (None, "", "null")]
        d.add("config.changes", "config changes", len(changed), "count", 0, changed[:EVIDENCE])
        if len(changed) < len(rows):
            firsts = [r["event_id"] for r in rows if r["old_value"] in (None, "", "null")]
            d.add("config.first_records", "config starting values recorded", len(firsts), "count", 0,
                  firsts[:EVIDENCE])
        for i, r in enumerate(rows):
            old = orjson.loads(r["old_value"]) if r["old_value"] else None
            new = orjson.loads(r["new_value"]) if r["new_value"] else None
            numeric = False
            if _is_number(old) and _is_number(new):
                numeric = True
                d.add(f"config.{i}.old", f"{r['key']} old value", old, "", _decimals(old), [r["event_id"]])
            if _is_number(new):  # a first record has no old value; its value is still what the quant asks
                d.add(f"config.{i}.new", f"{r['key']} new value", new, "", _decimals(new), [r["event_id"]])
            d.configs.append(ConfigChange(i, r["key"], r["changed_by"] or "", r["reason"] or "", numeric))
            d.entity_ids.add(r["key"])

    def metrics(self) -> None:
        """Headline metrics and every metric in warn/critical (scope 'all'), with their thresholds."""
        report = MetricsComputer(self.con).compute(self.window, scopes=["all"])
        for v in report.values:
            if v.scope != "all" or v.group is not None or v.value is None:
                continue
            flagged = v.status in ("warn", "critical")
            if flagged or v.name in HEADLINE_METRICS:
                self.metric(v, flagged)

    def metric(self, v: MetricValue, flagged: bool) -> None:
        d = self.data
        base = f"metrics.{v.window}.{v.scope}.{v.key}"
        d.facts.extend(from_analytics(f) for f in v.to_facts() if not f.id.endswith(".n"))
        limit = v.critical if v.status == "critical" else v.warn
        if flagged and limit is not None:
            unit = from_analytics(v.to_facts()[0]).unit
            d.add(f"{base}.limit", f"{v.label} {v.status} threshold", limit, unit, v.precision)
        d.metrics.append(MetricFinding(base, v.label, v.status if flagged else "", v.name))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _has_data(layout: DataLayout) -> bool:
    return layout.live_db.exists() or any(layout.parquet_events.rglob("*.parquet"))


def gather(layout: DataLayout, period: Period) -> ReportData:
    """All facts of `period`; raises DataDirError when the data directory holds no events at all."""
    if not _has_data(layout):
        raise DataDirError(f"{layout.root}: no live feed database and no Parquet events here; start the engine "
                           "(or `huracan-obs demo`) or pass --data-dir")
    q = QueryLayer(layout)
    try:
        g = _Gatherer(q.connect(), period)
        g.data.add("signals.count", "signals", g.count("signals"), "count", 0)
        # Symbols may carry digits (1000PEPEUSDT, ETH-2412): a summary may name any traded in the period.
        g.data.entity_ids.update(r["symbol"] for r in g.rows(
            "SELECT DISTINCT symbol FROM events WHERE ts_event >= {since} AND ts_event < {until} "
            "AND symbol IS NOT NULL"))
        g.trades()
        g.gates()
        g.models()
        g.configs()
        g.data.add("errors.count", "errors", g.count("errors"), "count", 0)
        g.metrics()
    finally:
        q.close()
    return g.data
