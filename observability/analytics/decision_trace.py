"""The timeline of one trace_id: signal -> each gate -> execution -> close (or shadow outcome),
with the market context at each step and the latency between steps.

Why live.db first: `live_feed` is indexed on trace_id, so a recent trace costs one index lookup
(well under the 50 ms target) instead of a scan of Parquet. Market context is looked up by
walking `seq` backwards (the primary key), bounded to `CONTEXT_SCAN_ROWS` rows before each step,
because live.db has no (symbol, ts) index and snapshots are periodic. Steps close together in seq
share one walk: at a high event rate snapshots are thousands of rows apart, and a walk per step
(a signal and its six gates) cost ~20 ms where one costs ~3. Traces already pruned from live.db
are read from the query layer with the same bound: from its Parquet files and live rows directly
(trace_history.py; binding the wide views alone took ~40 ms at 10 M events), or through its
`events` and `market_context` views when its files are not a local list (S3) or lack a column.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Final

import duckdb
import orjson
from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact
from observability.analytics.gate_explainer import UnknownTraceError
from observability.analytics.trace_history import History, context_source, history_of, trace_rows
from observability.core.live_store import open_readonly
from observability.core.schemas import DecisionStep, DecisionTrace, utc_from_us
from observability.errors import DataDirError
from observability.paths import DataLayout

CONTEXT_SCAN_ROWS: Final = 50_000
SHARED_WALK_ROWS: Final = 1_000
"""Steps at most this many rows apart share one backward walk; farther ones (a close an hour after its
entry) get their own, so no walk crosses a long stretch of rows that no step needs."""
_COLS: Final = "seq, event_id, ts_event, event_type, symbol, mode, payload"


class MarketAt(BaseModel):
    """The latest market snapshot for the symbol at or before a step."""

    model_config = ConfigDict(frozen=True)

    ts: datetime
    seq: int | None
    price: float
    spread_bps: float
    volatility_bps: float
    liquidity_usd: float | None = None
    regime: str | None = None


class TraceTimeline(BaseModel):
    """A DecisionTrace (the shared schema) plus the market context at each step."""

    model_config = ConfigDict(frozen=True)

    trace: DecisionTrace
    context: list[MarketAt | None]
    source: str
    """'live.db' or 'query layer': where the rows came from."""
    pnl: float | None = None

    def to_facts(self) -> list[Fact]:
        t = self.trace
        ids = [s.event_id for s in t.steps if s.event_id]
        out: list[Fact] = []
        for i, s in enumerate(t.steps):
            if s.latency_ms is not None:
                out += fact(f"trace.{t.trace_id}.step{i}.latency", f"{s.stage} latency after previous step",
                            s.latency_ms, "ms", 1, [s.event_id or ""])
        if len(t.steps) >= 2:
            total = (t.steps[-1].ts - t.steps[0].ts).total_seconds() * 1000
            out += fact(f"trace.{t.trace_id}.total", "signal to last step", total, "ms", 1, ids)
        out += fact(f"trace.{t.trace_id}.pnl", f"P&L of trace {t.trace_id}", self.pnl, "USDT", 2, ids)
        return out


Row = tuple[int | None, str | None, datetime, str, str | None, str | None, dict[str, Any]]


def _stage(event_type: str, p: dict[str, Any]) -> str:
    return {"signal_received": "signal", "trade_opened": "entry", "trade_closed": "exit",
            "shadow_trade_opened": "shadow entry", "shadow_trade_closed": "shadow exit",
            "gate_decision": f"gate {p.get('gate', '?')}"}.get(event_type, event_type.replace("_", " "))


def _g(x: Any) -> str:
    return f"{x:,.6g}" if isinstance(x, int | float) else str(x)


def _summary(event_type: str, p: dict[str, Any]) -> str:
    if event_type == "signal_received":
        return (f"{p.get('side')} signal, confidence {_g(p.get('confidence'))} at {_g(p.get('price'))} "
                f"(model {p.get('model_id')}, strategy {p.get('strategy', 'default')})")
    if event_type == "gate_decision":
        op = ">=" if p.get("direction") == "min" else "<="
        verdict = "PASS" if p.get("passed") else "FAIL"
        return (f"{p.get('gate')}: {_g(p.get('value'))} {op} {_g(p.get('threshold'))} {verdict} "
                f"(margin {_g(p.get('margin'))})")
    if event_type == "trade_opened":
        e = p.get("execution") or {}
        lat = f", latency {_g(e['latency_ms'])} ms" if e.get("latency_ms") is not None else ""
        return (f"{e.get('side')} {_g(e.get('size_filled'))} at {_g(e.get('price_filled'))} (requested "
                f"{_g(e.get('price_requested'))}, slippage {e.get('slippage_bps', 0.0):.2f} bps, fees "
                f"{_g(e.get('fees'))}{lat}); trade {p.get('trade_id')}")
    if event_type == "trade_closed":
        return (f"{p.get('exit_reason')} at {_g(p.get('exit_price'))}: net {p.get('pnl_net', 0.0):+.2f} USDT "
                f"({p.get('pnl_bps', 0.0):+.1f} bps), hold {_g(p.get('hold_seconds'))} s, "
                f"MFE {_g(p.get('mfe_bps'))} / MAE {_g(p.get('mae_bps'))} bps")
    if event_type == "shadow_trade_opened":
        return (f"shadow {p.get('side')} at {_g(p.get('entry_price'))}, blocked by "
                f"{', '.join(p.get('blocked_by') or []) or '?'}; shadow {p.get('shadow_id')}")
    if event_type == "shadow_trade_closed":
        pnl = float(p.get("pnl", 0.0))
        return (f"shadow {p.get('exit_reason')} at {_g(p.get('exit_price'))}: {pnl:+.2f} USDT "
                f"({p.get('pnl_bps', 0.0):+.1f} bps) {'forgone' if pnl > 0 else 'avoided'}")
    if event_type == "error":
        return f"{p.get('component')}: {p.get('error_type')}: {p.get('message')}"
    if event_type == "market_context":
        return f"price {_g(p.get('price'))}, spread {_g(p.get('spread_bps'))} bps"
    return orjson.dumps(p).decode()[:200]


def _outcome(rows: list[Row]) -> tuple[str, float | None]:
    types = {r[3]: r[6] for r in rows}
    if "trade_closed" in types:
        pnl = float(types["trade_closed"].get("pnl_net", 0.0))
        return f"taken, closed {pnl:+.2f} USDT", pnl
    if "trade_opened" in types:
        return "taken, open", None
    if "shadow_trade_closed" in types:
        p = types["shadow_trade_closed"]
        return f"blocked by {', '.join(p.get('blocked_by') or [])}; shadow {p.get('pnl', 0.0):+.2f} USDT", None
    blocked = [r[6].get("gate") for r in rows if r[3] == "gate_decision" and not r[6].get("passed")]
    if blocked:
        return f"blocked by {', '.join(str(b) for b in blocked)}", None
    return "pending", None


def build_timeline(trace_id: str, rows: list[Row], context: list[MarketAt | None], source: str) -> TraceTimeline:
    steps: list[DecisionStep] = []
    prev: datetime | None = None
    shown: MarketAt | None = None
    for seq, eid, ts, et, _, _, p in rows:
        latency = (ts - prev).total_seconds() * 1000 if prev is not None else None
        ctx = context[len(steps)]
        note = ""
        if ctx is not None and ctx != shown:  # say the market only when it changed since the last step
            note = f" | market {_g(ctx.price)}, spread {_g(ctx.spread_bps)} bps, vol {_g(ctx.volatility_bps)} bps"
            shown = ctx
        steps.append(DecisionStep(ts=ts, stage=_stage(et, p), event_type=et, summary=_summary(et, p) + note,
                                  latency_ms=latency, seq=seq, event_id=eid))
        prev = ts
    outcome, pnl = _outcome(rows)
    symbol = next((r[4] for r in rows if r[4]), None)
    mode = next((r[5] for r in rows if r[5] and r[5] != "none"), None)
    return TraceTimeline(trace=DecisionTrace(trace_id=trace_id, symbol=symbol, mode=mode, outcome=outcome,
                                             steps=steps), context=context, source=source, pnl=pnl)


def trace_timeline(trace_id: str, *, layout: DataLayout | None = None,
                   con: duckdb.DuckDBPyConnection | None = None) -> TraceTimeline:
    """The timeline from live.db when the trace is there, else from the query layer."""
    if layout is not None:
        try:
            live = open_readonly(layout.live_db)
        except DataDirError:
            live = None
        if live is not None:
            try:
                timeline = _from_live(live, trace_id)
            finally:
                live.close()
            if timeline is not None:
                return timeline
    if con is not None:
        timeline = _from_query_layer(con, trace_id)
        if timeline is not None:
            return timeline
    raise UnknownTraceError(f"no events with trace_id {trace_id!r} in live.db or the Parquet history; "
                            "check the id (`huracan-obs query \"SELECT trace_id FROM signals LIMIT 10\"`)")


def trace_of(con: duckdb.DuckDBPyConnection, ref: str) -> str | None:
    """The trace_id of a trade id, shadow id or signal id (people paste whichever id they have)."""
    row = con.execute(
        "SELECT trace_id FROM trades WHERE trade_id = $r UNION ALL SELECT trace_id FROM shadow_trades "
        "WHERE shadow_id = $r UNION ALL SELECT trace_id FROM signals WHERE signal_id = $r LIMIT 1",
        {"r": ref}).fetchone()
    return str(row[0]) if row and row[0] else None


def _from_live(conn: sqlite3.Connection, trace_id: str) -> TraceTimeline | None:
    raw = conn.execute(f"SELECT {_COLS} FROM live_feed WHERE trace_id = ? ORDER BY ts_event, seq",
                       (trace_id,)).fetchall()
    if not raw:
        return None
    rows: list[Row] = [(r[0], r[1], utc_from_us(r[2]), r[3], r[4], r[5], orjson.loads(r[6])) for r in raw]
    symbol = next((r[4] for r in rows if r[4]), None)
    steps = {int(r[0]): int(r[2]) for r in raw if r[3] != "market_context"}
    found = _live_contexts(conn, symbol, steps) if symbol else {}
    context = [_market(ts, seq, p) if et == "market_context" else found.get(int(r[0]))
               for (seq, _, ts, et, _, _, p), r in zip(rows, raw, strict=True)]
    return build_timeline(trace_id, rows, context, "live.db")


def _live_contexts(conn: sqlite3.Connection, symbol: str, steps: dict[int, int]) -> dict[int, MarketAt]:
    """For each step (seq -> ts_event µs) the snapshot of highest seq with seq in (step - CONTEXT_SCAN_ROWS, step]
    and ts_event <= the step's; steps without one are left out."""
    found: dict[int, MarketAt] = {}
    for group in _nearby(sorted(steps)):
        todo = {seq: steps[seq] for seq in group}
        below = group[-1] + 1
        while todo:
            # One snapshot per statement: the sqlite3 module reads a row ahead, so a cursor left open would walk
            # on to the end of the range after the last snapshot any step needs.
            row = conn.execute(
                "SELECT seq, ts_event, payload FROM live_feed WHERE seq < ? AND seq > ? "
                "AND event_type = 'market_context' AND symbol = ? ORDER BY seq DESC LIMIT 1",
                (below, min(todo) - CONTEXT_SCAN_ROWS, symbol)).fetchone()
            if row is None:
                break
            below, ts = row[0], row[1]
            todo = {s: t for s, t in todo.items() if below > s - CONTEXT_SCAN_ROWS}
            hits = [s for s, t in todo.items() if s >= below and t >= ts]
            if hits:
                found.update(dict.fromkeys(hits, _market(utc_from_us(ts), below, orjson.loads(row[2]))))
                todo = {s: t for s, t in todo.items() if s not in found}
    return found


def _nearby(seqs: list[int]) -> list[list[int]]:
    """Sorted seqs cut where two neighbours are more than SHARED_WALK_ROWS apart."""
    groups = [[seqs[0]]] if seqs else []
    for seq in seqs[1:]:
        if seq - groups[-1][-1] > SHARED_WALK_ROWS:
            groups.append([seq])
        else:
            groups[-1].append(seq)
    return groups


def _market(ts: datetime, seq: int | None, p: dict[str, Any]) -> MarketAt:
    return MarketAt(ts=ts, seq=seq, price=float(p["price"]), spread_bps=float(p["spread_bps"]),
                    volatility_bps=float(p["volatility_bps"]), liquidity_usd=p.get("liquidity_usd"),
                    regime=p.get("regime"))


def _from_query_layer(con: duckdb.DuckDBPyConnection, trace_id: str) -> TraceTimeline | None:
    history = history_of(con)
    raw: list[tuple[Any, ...]] = []
    if history is not None:
        try:
            raw = trace_rows(con, history, trace_id)
        except duckdb.BinderException:  # the trace's files lack a column the payload reads: the views have it
            history = None
    if history is None:
        raw = con.execute(f"SELECT {_COLS} FROM events WHERE trace_id = ? ORDER BY ts_event, seq",
                          [trace_id]).fetchall()
    if not raw:
        return None
    rows: list[Row] = [(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6])) for r in raw]
    symbol = next((r[4] for r in rows if r[4]), None)
    steps = [i for i, r in enumerate(rows) if r[3] != "market_context"]
    found: dict[int, MarketAt] = {}
    if symbol and steps:
        points = [(i, rows[i][2], int(raw[i][0])) for i in steps]
        try:
            found = _history_contexts(con, history, symbol, points)
        except duckdb.BinderException:  # a file lacks a market_context column: the views have it
            found = _history_contexts(con, None, symbol, points)
    context = [_market(ts, None, p) if et == "market_context" else found.get(i)
               for i, (_, _, ts, et, _, _, p) in enumerate(rows)]
    return build_timeline(trace_id, rows, context, "query layer")


def _history_contexts(con: duckdb.DuckDBPyConnection, history: History | None, symbol: str,
                      points: list[tuple[int, datetime, int]]) -> dict[int, MarketAt]:
    """For each step (index, ts, seq) the live path's snapshot, from `history`'s files or, None, the views.

    One ASOF join for every step, over the snapshots of the seq ranges the live path walks (a step's
    CONTEXT_SCAN_ROWS rows before it): row groups elsewhere are skipped by their seq statistics, where
    all of the symbol's snapshots were joined (~3-5x the time at 10 M events), and the snapshot is the
    live path's, not one of another box or day that happens to be later in time.
    """
    ranges = [(group[0] - CONTEXT_SCAN_ROWS, group[-1]) for group in _nearby(sorted(seq for _, _, seq in points))]
    within = " OR ".join(f"seq BETWEEN {lo:d} AND {hi:d}" for lo, hi in ranges)
    source = (f"SELECT * FROM market_context WHERE symbol = $symbol AND ({within})" if history is None
              else context_source(history, symbol, ranges))
    if source is None:
        return {}
    return {i: MarketAt(ts=m[1], seq=m[0], price=m[2], spread_bps=m[3], volatility_bps=m[4], liquidity_usd=m[5],
                        regime=m[6]) for i, *m in con.execute(
        "SELECT s.i, m.seq, m.ts_event, m.price, m.spread_bps, m.volatility_bps, m.liquidity_usd, m.regime "
        "FROM (SELECT unnest($i) AS i, unnest($ts) AS ts, unnest($seq) AS seq) AS s ASOF JOIN "
        f"({source}) AS m ON s.ts >= m.ts_event WHERE m.seq <= s.seq AND m.seq > s.seq - {CONTEXT_SCAN_ROWS:d}",
        {"i": [p[0] for p in points], "ts": [p[1] for p in points], "seq": [p[2] for p in points],
         "symbol": symbol}).fetchall()}
