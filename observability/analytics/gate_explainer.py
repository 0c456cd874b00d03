"""Why signals pass or fail each gate: pass rate vs target, trend, value distribution against
the threshold, near misses, and one signal's verdict in a sentence plus numbers.

Targets, units and near-miss margins come from configs/gates.yaml; a gate seen in the data but
absent from the config falls back to the data (its direction, no target), so an engine running a
newer gate set is still explained. The live threshold is always the recorded one.
Counterfactual threshold sweeps live in `gate_counterfactuals`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact, limit_ids
from observability.analytics.windows import Window
from observability.config.gates_config import GatesConfig, GateSpec, load_gates_config
from observability.core.io.views import trades_matching_sql
from observability.errors import ObservabilityError


class UnknownTraceError(ObservabilityError):
    """No events carry the trace id asked about."""


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


def sql_str(text: str) -> str:
    """A SQL string literal (quotes doubled) for names that come from config, not from users."""
    return "'" + text.replace("'", "''") + "'"


def window_clause(window: Window, ts: str = "ts_event", mode: str | None = None) -> tuple[str, list[Any]]:
    """`WHERE` text and parameters for a window (and optional mode) over a view."""
    since, until = window.sql_bounds()
    sql = f"{ts} >= {since} AND {ts} < {until}"
    params: list[Any] = []
    if mode is not None:
        sql += " AND mode = ?"
        params.append(mode)
    return sql, params


def live_thresholds(con: duckdb.DuckDBPyConnection, window: Window, mode: str | None = None,
                    gate: str | None = None) -> dict[str, dict[str, float]]:
    """gate -> {mode: the threshold its last decision in the window was made at}.

    Why from the data, not gates.yaml: the Mechanic moves thresholds at run time and modes may have
    their own; the recorded threshold is what was live."""
    where, params = window_clause(window, mode=mode)
    if gate is not None:
        where += " AND gate = ?"
        params.append(gate)
    out: dict[str, dict[str, float]] = {}
    for g, m, thr in con.execute(f"SELECT gate, coalesce(mode, 'none'), arg_max(threshold, ts_event) "
                                 f"FROM gate_decisions WHERE {where} GROUP BY ALL ORDER BY ALL", params).fetchall():
        out.setdefault(g, {})[m] = thr
    return out


def single(thresholds: dict[str, float]) -> float | None:
    """The one live threshold when every mode shares it, else None."""
    values = set(thresholds.values())
    return values.pop() if len(values) == 1 else None


class GateSummary(_Result):
    gate: str
    order: int
    decisions: int
    passed: int
    pass_rate_pct: float | None
    target_pct: float | None
    threshold: float | None
    """The live threshold at the window's end (last recorded); None when the modes' differ."""
    live_thresholds: dict[str, float]
    """mode -> the threshold of its last decision in the window."""
    config_threshold: float | None
    """What gates.yaml says (the Mechanic may have moved the live one away from it)."""
    direction: str | None
    unit: str
    near_miss_margin: float | None
    near_misses: int
    blocked_alone: int
    """Signals this gate alone blocked (every other gate passed): the ones a change would free."""
    value_min: float | None
    value_median: float | None
    value_max: float | None
    window: str
    evidence: list[str]

    def to_facts(self) -> list[Fact]:
        base = f"gates.{self.window}.{self.gate}"
        ev = self.evidence
        return (fact(f"{base}.pass_rate", f"{self.gate} gate pass rate ({self.window})", self.pass_rate_pct,
                     "%", 1, ev)
                + fact(f"{base}.target", f"{self.gate} gate pass-rate target", self.target_pct, "%", 1)
                + fact(f"{base}.decisions", f"{self.gate} gate decisions ({self.window})", self.decisions,
                       "count", 0, ev)
                + fact(f"{base}.near_misses", f"{self.gate} near misses ({self.window})", self.near_misses,
                       "count", 0, ev)
                + fact(f"{base}.blocked_alone", f"signals blocked by {self.gate} alone ({self.window})",
                       self.blocked_alone, "count", 0, ev))


class TrendPoint(_Result):
    bucket_start: datetime
    decisions: int
    pass_rate_pct: float


class GateTrend(_Result):
    gate: str
    bucket: str
    points: list[TrendPoint]

    def to_facts(self) -> list[Fact]:
        return [f for p in self.points for f in fact(
            f"gates.trend.{self.gate}.{p.bucket_start:%Y%m%dT%H%M}", f"{self.gate} pass rate from {p.bucket_start}",
            p.pass_rate_pct, "%", 1)]


class HistogramBin(_Result):
    lo: float
    hi: float
    passed: int
    failed: int


class GateDistribution(_Result):
    gate: str
    threshold: float | None
    direction: str | None
    bins: list[HistogramBin]

    def to_facts(self) -> list[Fact]:
        return fact(f"gates.dist.{self.gate}.threshold", f"{self.gate} threshold", self.threshold, "ratio", 6)


class NearMiss(_Result):
    trace_id: str
    event_id: str
    ts_event: datetime
    symbol: str | None
    mode: str | None
    value: float
    threshold: float
    margin: float
    blocked_alone: bool


class NearMisses(_Result):
    gate: str
    margin: float
    count: int
    items: list[NearMiss]

    def to_facts(self) -> list[Fact]:
        return fact(f"gates.near_miss.{self.gate}", f"{self.gate} failures within {self.margin} of threshold",
                    self.count, "count", 0, [i.trace_id for i in self.items])


class GateVerdict(_Result):
    gate: str
    order: int
    value: float
    threshold: float
    direction: str
    margin: float
    passed: bool
    near_miss: bool
    unit: str
    event_id: str


class SignalExplanation(_Result):
    trace_id: str
    symbol: str | None
    mode: str | None
    side: str | None
    confidence: float | None
    taken: bool
    blocked_by: list[str]
    gates: list[GateVerdict]
    trade_id: str | None
    trade_pnl: float | None
    shadow_id: str | None
    shadow_pnl: float | None
    sentence: str

    def to_facts(self) -> list[Fact]:
        out: list[Fact] = []
        for g in self.gates:
            base = f"signal.{self.trace_id}.{g.gate}"
            out += fact(f"{base}.value", f"{g.gate} value", g.value, "ratio", 6, [g.event_id])
            out += fact(f"{base}.threshold", f"{g.gate} threshold", g.threshold, "ratio", 6, [g.event_id])
            out += fact(f"{base}.margin", f"{g.gate} margin", g.margin, "ratio", 6, [g.event_id])
        out += fact(f"signal.{self.trace_id}.trade_pnl", "trade net P&L", self.trade_pnl, "USDT", 2,
                    [self.trade_id or ""])
        out += fact(f"signal.{self.trace_id}.shadow_pnl", "shadow P&L", self.shadow_pnl, "USDT", 2,
                    [self.shadow_id or ""])
        return out


def _fmt(x: float) -> str:
    return f"{x:,.6g}"


class GateExplainer:
    """Gate analytics over the query layer's `gate_decisions`, `signals`, `trades`, `shadow_trades`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, gates: GatesConfig | None = None) -> None:
        self.con = con
        self.gates = gates if gates is not None else load_gates_config()

    def spec(self, gate: str) -> GateSpec | None:
        return self.gates.gates.get(gate)

    def summaries(self, window: Window, mode: str | None = None) -> list[GateSummary]:
        where, params = window_clause(window, mode=mode)
        margins = ", ".join(f"({sql_str(n)}, CAST({float(g.near_miss_margin)!r} AS DOUBLE))"
                            for n, g in self.gates.gates.items()) or "(NULL, NULL)"
        rows = self.con.execute(f"""
            WITH g AS (SELECT * FROM gate_decisions WHERE {where}),
            t AS (SELECT trace_id, count(*) FILTER (WHERE NOT passed) AS fails FROM g GROUP BY trace_id),
            nm(gate, near) AS (VALUES {margins})
            SELECT g.gate, count(*), count(*) FILTER (WHERE passed), arg_max(g.threshold, g.ts_event),
                   arg_max(g.direction, g.ts_event), min(g.value), median(g.value), max(g.value),
                   count(*) FILTER (WHERE NOT passed AND t.fails = 1),
                   count(*) FILTER (WHERE NOT passed AND -g.margin <= nm.near), min(g.gate_order),
                   arg_max(g.trace_id, g.ts_event, 20)
            FROM g JOIN t USING (trace_id) LEFT JOIN nm ON nm.gate = g.gate GROUP BY g.gate""", params).fetchall()
        live = live_thresholds(self.con, window, mode)
        out = []
        for (gate, n, npass, _thr, direction, vmin, vmed, vmax, alone, near, order, ids) in rows:
            spec = self.spec(gate)
            nm_margin = spec.near_miss_margin if spec else None
            out.append(GateSummary(
                gate=gate, order=spec.order if spec else 100 + int(order or 0), decisions=n, passed=npass,
                pass_rate_pct=100.0 * npass / n if n else None,
                target_pct=100.0 * spec.pass_rate_target if spec else None,
                threshold=single(live.get(gate, {})), live_thresholds=live.get(gate, {}),
                config_threshold=spec.threshold_for(mode) if spec else None,
                direction=spec.direction if spec else direction, unit=spec.unit if spec else "",
                near_miss_margin=nm_margin, near_misses=near, blocked_alone=alone, value_min=vmin,
                value_median=vmed, value_max=vmax, window=window.label, evidence=limit_ids(ids)))
        return sorted(out, key=lambda s: (s.order, s.gate))

    def trend(self, gate: str, window: Window, bucket: str = "1 hour", mode: str | None = None) -> GateTrend:
        where, params = window_clause(window, mode=mode)
        rows = self.con.execute(f"""
            SELECT time_bucket(INTERVAL '{_interval(bucket)}', ts_event) AS b, count(*),
                   100.0 * avg(CASE WHEN passed THEN 1 ELSE 0 END)
            FROM gate_decisions WHERE gate = ? AND {where} GROUP BY b ORDER BY b""", [gate, *params]).fetchall()
        return GateTrend(gate=gate, bucket=bucket,
                         points=[TrendPoint(bucket_start=b, decisions=n, pass_rate_pct=r) for b, n, r in rows])

    def distribution(self, gate: str, window: Window, bins: int = 20, mode: str | None = None) -> GateDistribution:
        """Equal-width bins over the observed values, the threshold always inside the range."""
        where, params = window_clause(window, mode=mode)
        vals = self.con.execute(f"SELECT value, passed FROM gate_decisions WHERE gate = ? AND {where}",
                                [gate, *params]).fetchall()
        spec = self.spec(gate)
        live = single(live_thresholds(self.con, window, mode, gate).get(gate, {}))
        thr = live if live is not None else spec.threshold_for(mode) if spec else self._data_threshold(gate)
        if not vals:
            return GateDistribution(gate=gate, threshold=thr, direction=spec.direction if spec else None, bins=[])
        lo = min([v for v, _ in vals] + ([thr] if thr is not None else []))
        hi = max([v for v, _ in vals] + ([thr] if thr is not None else []))
        width = (hi - lo) / bins if hi > lo else 1.0
        counts = [[0, 0] for _ in range(bins)]
        for v, ok in vals:
            i = min(int((v - lo) / width), bins - 1)
            counts[i][0 if ok else 1] += 1
        return GateDistribution(gate=gate, threshold=thr, direction=spec.direction if spec else None,
                                bins=[HistogramBin(lo=lo + i * width, hi=lo + (i + 1) * width, passed=p, failed=f)
                                      for i, (p, f) in enumerate(counts)])

    def near_misses(self, gate: str, window: Window, margin: float | None = None, mode: str | None = None,
                    limit: int = 50) -> NearMisses:
        """Failures within `margin` (default: the gate's near_miss_margin) of the threshold, closest first."""
        spec = self.spec(gate)
        m = margin if margin is not None else (spec.near_miss_margin if spec else 0.0)
        where, params = window_clause(window, ts="g.ts_event", mode=None)
        if mode is not None:
            where += " AND g.mode = ?"
            params.append(mode)
        rows = self.con.execute(f"""
            WITH g AS (SELECT * FROM gate_decisions g WHERE {where}),
            t AS (SELECT trace_id, count(*) FILTER (WHERE NOT passed) AS fails FROM g GROUP BY trace_id)
            SELECT g.trace_id, g.event_id, g.ts_event, g.symbol, g.mode, g.value, g.threshold, g.margin,
                   t.fails = 1, count(*) OVER ()
            FROM g JOIN t USING (trace_id)
            WHERE g.gate = ? AND NOT g.passed AND -g.margin <= ?
            ORDER BY -g.margin, g.ts_event LIMIT ?""", [*params, gate, m, limit]).fetchall()
        items = [NearMiss(trace_id=r[0], event_id=r[1], ts_event=r[2], symbol=r[3], mode=r[4], value=r[5],
                          threshold=r[6], margin=r[7], blocked_alone=bool(r[8])) for r in rows]
        return NearMisses(gate=gate, margin=m, count=int(rows[0][9]) if rows else 0, items=items)

    def explain_signal(self, trace_id: str) -> SignalExplanation:
        """Why one signal was taken or not: every gate's value, threshold and margin, one sentence."""
        gates = self.con.execute(
            "SELECT gate, gate_order, value, threshold, direction, margin, passed, event_id, symbol, mode "
            "FROM gate_decisions WHERE trace_id = ? ORDER BY gate_order, ts_event", [trace_id]).fetchall()
        sig = self.con.execute("SELECT symbol, mode, side, confidence FROM signals WHERE trace_id = ? LIMIT 1",
                               [trace_id]).fetchone()
        mine = "trace_id = $t"
        trade = self.con.execute(f"SELECT trade_id, pnl_net FROM ({trades_matching_sql('trades', mine)}) "
                                 f"WHERE {mine} LIMIT 1", {"t": trace_id}).fetchone()
        shadow = self.con.execute(f"SELECT shadow_id, pnl FROM ({trades_matching_sql('shadow_trades', mine)}) "
                                  f"WHERE {mine} LIMIT 1", {"t": trace_id}).fetchone()
        if not gates and sig is None and trade is None:
            raise UnknownTraceError(f"no signal, gate decision or trade has trace_id {trace_id!r}; "
                                    "list recent ones with `huracan-obs query \"SELECT trace_id FROM signals\"`")
        verdicts = []
        for gate, order, value, thr, direction, margin, passed, eid, _, _ in gates:
            spec = self.spec(gate)
            near = (not passed) and spec is not None and -margin <= spec.near_miss_margin
            verdicts.append(GateVerdict(gate=gate, order=order, value=value, threshold=thr, direction=direction,
                                        margin=margin, passed=passed, near_miss=near,
                                        unit=spec.unit if spec else "", event_id=eid))
        symbol, mode, side, conf = sig if sig else (gates[0][8] if gates else None,
                                                    gates[0][9] if gates else None, None, None)
        blocked = [v.gate for v in verdicts if not v.passed]
        taken = trade is not None
        return SignalExplanation(
            trace_id=trace_id, symbol=symbol, mode=mode, side=side, confidence=conf, taken=taken,
            blocked_by=blocked, gates=verdicts, trade_id=trade[0] if trade else None,
            trade_pnl=trade[1] if trade else None, shadow_id=shadow[0] if shadow else None,
            shadow_pnl=shadow[1] if shadow else None,
            sentence=_sentence(trace_id, symbol, mode, side, taken, verdicts, trade, shadow))

    def _data_threshold(self, gate: str) -> float | None:
        row = self.con.execute("SELECT arg_max(threshold, ts_event) FROM gate_decisions WHERE gate = ?",
                               [gate]).fetchone()
        return row[0] if row else None


def _interval(bucket: str) -> str:
    """'15m', '1h', '1 hour' -> a DuckDB interval literal body (validated: digits and a unit)."""
    b = bucket.strip().lower()
    short = {"m": "minutes", "h": "hours", "d": "days"}
    if b[:-1].isdigit() and b[-1] in short:
        return f"{int(b[:-1])} {short[b[-1]]}"
    num, _, unit = b.partition(" ")
    if num.isdigit() and unit.rstrip("s") in ("minute", "hour", "day"):
        return f"{int(num)} {unit}"
    raise ObservabilityError(f"trend bucket must look like 15m, 1h or 1d, got {bucket!r}")


def _sentence(trace_id: str, symbol: str | None, mode: str | None, side: str | None, taken: bool,
              verdicts: list[GateVerdict], trade: Any, shadow: Any) -> str:
    who = " ".join(x for x in (symbol, mode, side) if x)
    head = f"Signal {trace_id}" + (f" ({who})" if who else "")
    n = len(verdicts)
    if taken or (verdicts and all(v.passed for v in verdicts)):
        # relative to the threshold: margins of gates in different units are not comparable
        tight = min(verdicts, key=lambda v: abs(v.margin / v.threshold) if v.threshold else abs(v.margin),
                    default=None)
        tail = (f"; tightest: {tight.gate} {_fmt(tight.value)} vs {tight.direction} {_fmt(tight.threshold)} "
                f"(margin {_fmt(tight.margin)}{' ' + tight.unit if tight.unit else ''})") if tight else ""
        result = f"; trade {trade[0]} net P&L {trade[1]:+.2f} USDT" if trade and trade[1] is not None else ""
        return f"{head} was TAKEN: all {n} gates passed{tail}{result}."
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return f"{head} was NOT taken although no gate failed (no gate decisions recorded)."
    parts = [f"{v.gate} {_fmt(v.value)} vs {v.direction} {_fmt(v.threshold)} (margin {_fmt(v.margin)}"
             f"{' ' + v.unit if v.unit else ''}{', near miss' if v.near_miss else ''})" for v in failed]
    outcome = (f"; its shadow trade {shadow[0]} made {shadow[1]:+.2f} USDT" if shadow and shadow[1] is not None
               else "")
    return (f"{head} was BLOCKED by {len(failed)} of {n} gates: {'; '.join(parts)}; "
            f"{n - len(failed)} passed{outcome}.")
