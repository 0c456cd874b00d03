"""Counterfactual threshold sweeps: what an alternative threshold for one gate would have done.

For each alternative threshold, over the signals in the window:
- how many more or fewer signals would have passed the gate;
- how many would have been TAKEN (this gate passes at the alternative and every other gate passed);
- newly taken signals (blocked today, taken at the alternative): their shadow outcomes, i.e. the
  P&L forgone today (positive) or the losses the gate avoided (negative);
- newly blocked signals (taken today, blocked at the alternative): their realised trade P&L, i.e.
  profits that would have been lost or losses that would have been avoided.
Other gates' verdicts are held as recorded; shadow outcomes are joined by trace_id.
When mode is None the alternative applies to every mode's decisions alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact, limit_ids
from observability.analytics.gate_explainer import live_thresholds, single, sql_str, window_clause
from observability.analytics.windows import Window
from observability.config.gates_config import GatesConfig, load_gates_config
from observability.errors import ObservabilityError


class CounterfactualRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    threshold: float
    is_current: bool
    passed_gate: int
    delta_passed: int
    taken: int
    delta_taken: int
    newly_taken: int
    newly_taken_with_outcome: int
    newly_taken_wins: int
    shadow_pnl: float
    """Sum of shadow P&L of newly taken signals: > 0 is P&L forgone today, < 0 losses avoided."""
    newly_blocked: int
    blocked_trade_pnl: float
    """Sum of realised P&L of trades the alternative would have blocked."""
    net_effect: float
    """shadow_pnl - blocked_trade_pnl: the P&L change had this threshold been live."""
    newly_taken_ids: list[str]
    newly_blocked_ids: list[str]


class CounterfactualSweep(BaseModel):
    model_config = ConfigDict(frozen=True)

    gate: str
    direction: str
    current_threshold: float | None
    """The recorded live threshold at the window's end; None when the modes' differ."""
    live_thresholds: dict[str, float]
    mode: str | None
    window: str
    signals: int
    rows: list[CounterfactualRow]

    def best(self) -> CounterfactualRow | None:
        """The alternative that would have added the most P&L, or None when none adds any.

        Net effects are against what was actually done (which is 0 by definition), not against the
        row at the current threshold: that row differs from the record whenever the threshold moved
        during the window or per-mode thresholds differ."""
        best = max((r for r in self.rows if not r.is_current), key=lambda r: r.net_effect, default=None)
        return best if best is not None and best.net_effect > 1e-9 else None

    def to_facts(self) -> list[Fact]:
        out: list[Fact] = []
        for r in self.rows:
            base = f"counterfactual.{self.window}.{self.gate}.{r.threshold:g}"
            ev = r.newly_taken_ids + r.newly_blocked_ids
            out += fact(f"{base}.delta_taken", f"{self.gate} at {r.threshold:g}: change in trades taken",
                        r.delta_taken, "count", 0, ev)
            out += fact(f"{base}.shadow_pnl", f"{self.gate} at {r.threshold:g}: shadow P&L of newly taken",
                        r.shadow_pnl, "USDT", 2, r.newly_taken_ids)
            out += fact(f"{base}.blocked_trade_pnl", f"{self.gate} at {r.threshold:g}: P&L of trades blocked",
                        r.blocked_trade_pnl, "USDT", 2, r.newly_blocked_ids)
            out += fact(f"{base}.net_effect", f"{self.gate} at {r.threshold:g}: net P&L effect",
                        r.net_effect, "USDT", 2, ev)
        return out


def default_sweep(current: float, step: float, points: int = 4) -> list[float]:
    """current ± k·step for k = 1..points (step defaults to the gate's near-miss margin)."""
    return sorted({round(current + k * step, 10) for k in range(-points, points + 1)})


def counterfactual_sweep(con: duckdb.DuckDBPyConnection, gate: str, window: Window,
                         thresholds: Sequence[float] | None = None, *, mode: str | None = None,
                         gates: GatesConfig | None = None, evidence_limit: int = 20) -> CounterfactualSweep:
    """One gate's sweep (`thresholds`, else its default sweep around the live threshold)."""
    return counterfactual_sweeps(con, [gate], window, {gate: thresholds} if thresholds else None, mode=mode,
                                 gates=gates, evidence_limit=evidence_limit)[gate]


def counterfactual_sweeps(con: duckdb.DuckDBPyConnection, names: Sequence[str], window: Window,
                          thresholds: Mapping[str, Sequence[float]] | None = None, *, mode: str | None = None,
                          gates: GatesConfig | None = None, evidence_limit: int = 20) -> dict[str, CounterfactualSweep]:
    """The sweeps of several gates from one pass over the window's decisions.

    Why one pass: each gate's sweep groups every decision of the window by signal and joins the signals'
    outcomes; once per gate, `huracan-obs gates` took ~3 s per gate at 10 M events. A gate's other gates
    all passed when every failed decision of the signal is this gate's.
    """
    if not names:
        return {}
    cfg = gates if gates is not None else load_gates_config()
    where, params = window_clause(window, mode=mode)
    heads = {g: (thr, d, n) for g, thr, d, n in con.execute(
        f"SELECT gate, arg_max(threshold, ts_event), arg_max(direction, ts_event), count(*) FROM gate_decisions "
        f"WHERE {where} AND gate IN (SELECT unnest(?)) GROUP BY gate", [*params, list(names)]).fetchall()}
    missing = [g for g in names if g not in heads]
    if missing:
        raise ObservabilityError(f"no decisions of gate {missing[0]!r} in window {window.label}; "
                                 "check the gate name (`huracan-obs gates`) or widen --since")
    live = live_thresholds(con, window, mode)
    plans: dict[str, tuple[float | None, str, list[float]]] = {}
    for gate in names:
        spec, (data_thr, data_dir, _) = cfg.gates.get(gate), heads[gate]
        current = single(live.get(gate, {}))
        center = current if current is not None else spec.threshold_for(mode) if spec else data_thr
        step = spec.near_miss_margin if spec and spec.near_miss_margin > 0 else abs(center) * 0.05 or 1.0
        alts = sorted(set(thresholds[gate])) if thresholds and thresholds.get(gate) else default_sweep(center, step)
        plans[gate] = (current, str(spec.direction if spec else data_dir), alts)
    cols = {g: f"g{i}" for i, g in enumerate(names)}
    pivot = ", ".join(f"bool_and(passed) FILTER (WHERE gate = {sql_str(g)}) AS {c}_passed, "
                      f"any_value(value) FILTER (WHERE gate = {sql_str(g)}) AS {c}_v, "
                      f"any_value(direction) FILTER (WHERE gate = {sql_str(g)}) AS {c}_dir, "
                      f"count(*) FILTER (WHERE gate = {sql_str(g)} AND NOT passed) AS {c}_failed"
                      for g, c in cols.items())
    # One row per signal: its failed decisions, each swept gate's verdict, value and failed decisions (the other
    # gates all passed when the two counts are equal), and its outcome.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cf AS
        WITH sig AS (SELECT trace_id, count(*) FILTER (WHERE NOT passed) AS failed, {pivot}
                     FROM gate_decisions WHERE {where} GROUP BY trace_id)
        SELECT sig.*, t.trade_id, t.pnl_net, s.shadow_id, s.pnl AS shadow_pnl
        FROM sig
        LEFT JOIN (SELECT trace_id, any_value(trade_id) AS trade_id, sum(pnl_net) AS pnl_net
                   FROM trades GROUP BY trace_id) t USING (trace_id)
        LEFT JOIN (SELECT trace_id, any_value(shadow_id) AS shadow_id, sum(pnl) AS pnl
                   FROM shadow_trades GROUP BY trace_id) s USING (trace_id)""", params)
    try:
        return {gate: _sweep(gate, plans[gate], live.get(gate, {}), mode, window,
                             _rows(con, cols[gate], plans[gate][2], evidence_limit)) for gate in names}
    finally:
        con.execute("DROP TABLE IF EXISTS _cf")


def _rows(con: duckdb.DuckDBPyConnection, c: str, alts: list[float], evidence_limit: int) -> list[tuple[Any, ...]]:
    """One gate's counts, sums and first ids per alternative threshold, over `_cf` (its signals only)."""
    values = ", ".join(f"(CAST({float(a)!r} AS DOUBLE))" for a in alts)
    new = "would AND others_ok AND NOT passed_now"
    lost = "NOT would AND others_ok AND passed_now"
    return con.execute(f"""
        WITH out AS (SELECT trace_id, trade_id, pnl_net, shadow_id, shadow_pnl, {c}_passed AS passed_now,
                            {c}_v AS v, {c}_dir AS dir, failed = {c}_failed AS others_ok
                     FROM _cf WHERE {c}_passed IS NOT NULL),
        alt(thr) AS (VALUES {values}),
        x AS (SELECT alt.thr, out.*, CASE WHEN dir = 'min' THEN v >= alt.thr ELSE v <= alt.thr END AS would
              FROM out, alt)
        SELECT thr,
               count(*) FILTER (WHERE would),
               count(*) FILTER (WHERE passed_now),
               count(*) FILTER (WHERE would AND others_ok),
               count(*) FILTER (WHERE passed_now AND others_ok),
               count(*) FILTER (WHERE {new}),
               count(*) FILTER (WHERE {new} AND shadow_pnl IS NOT NULL),
               count(*) FILTER (WHERE {new} AND shadow_pnl > 0),
               coalesce(sum(shadow_pnl) FILTER (WHERE {new}), 0),
               count(*) FILTER (WHERE {lost}),
               coalesce(sum(pnl_net) FILTER (WHERE {lost}), 0),
               list(coalesce(shadow_id, trace_id) ORDER BY trace_id) FILTER (WHERE {new})[1:{evidence_limit}],
               list(coalesce(trade_id, trace_id) ORDER BY trace_id) FILTER (WHERE {lost})[1:{evidence_limit}],
               count(*)
        FROM x GROUP BY thr ORDER BY thr""").fetchall()


def _sweep(gate: str, plan: tuple[float | None, str, list[float]], live: dict[str, float], mode: str | None,
           window: Window, rows: list[tuple[Any, ...]]) -> CounterfactualSweep:
    current, direction, _ = plan
    out = []
    for (thr, passed_gate, passed_now, taken, taken_now, new_taken, with_outcome, wins, shadow_pnl,
         new_blocked, blocked_pnl, taken_ids, blocked_ids, _) in rows:
        out.append(CounterfactualRow(
            threshold=thr, is_current=current is not None and abs(thr - current) < 1e-12,
            passed_gate=passed_gate, delta_passed=passed_gate - passed_now, taken=taken,
            delta_taken=taken - taken_now, newly_taken=new_taken, newly_taken_with_outcome=with_outcome,
            newly_taken_wins=wins, shadow_pnl=shadow_pnl, newly_blocked=new_blocked,
            blocked_trade_pnl=blocked_pnl, net_effect=shadow_pnl - blocked_pnl,
            newly_taken_ids=limit_ids(taken_ids or []), newly_blocked_ids=limit_ids(blocked_ids or [])))
    return CounterfactualSweep(gate=gate, direction=direction, current_threshold=current, live_thresholds=live,
                               mode=mode, window=window.label, signals=int(rows[0][-1]) if rows else 0, rows=out)
