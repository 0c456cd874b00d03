"""Property: the SQL counterfactual sweep equals a direct recount over random signal sets."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.analytics.gate_counterfactuals import counterfactual_sweep, counterfactual_sweeps
from observability.analytics.windows import Window
from observability.config.gates_config import GatesConfig, GateSpec
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

T0 = 1_767_571_200.0
GATES = GatesConfig(gates={
    "spread": GateSpec(order=1, threshold=8.0, direction="max", pass_rate_target=0.8, near_miss_margin=1.0),
    "regime": GateSpec(order=2, threshold=0.5, direction="min", pass_rate_target=0.8, near_miss_margin=0.1),
})
WINDOW = Window(label="day", since=datetime(2026, 1, 5, tzinfo=UTC), until=datetime(2026, 1, 6, tzinfo=UTC))
ALTS = [4.0, 6.0, 8.0, 9.5, 12.0]
T = TypeVar("T")

signal = st.tuples(st.sampled_from([3.0, 5.0, 7.0, 8.0, 9.0, 10.0, 13.0]),  # spread value
                   st.sampled_from([0.2, 0.5, 0.9]),  # regime value
                   st.integers(-5, 5))  # outcome P&L (USDT, size 1 at 100)


def events(signals: list[tuple[float, float, int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, (spread, regime, pnl) in enumerate(signals):
        ts, trace = T0 + 10 * i, f"tr{i}"
        failed = []
        for order, (gate, value) in enumerate((("spread", spread), ("regime", regime)), start=1):
            spec = GATES.gates[gate]
            ev = builders.gate_decision(gate=gate, value=value, threshold=spec.threshold, direction=spec.direction,
                                        symbol="X", trace_id=trace, mode="scalp", gate_order=order, ts_event=ts)
            out.append(ev)
            if not ev["payload"]["passed"]:
                failed.append(gate)
        common: dict[str, Any] = {"side": "long", "entry_price": 100.0, "exit_price": 100.0 + pnl, "size": 1.0,
                                  "hold_seconds": 1.0, "exit_reason": "timeout", "symbol": "X", "trace_id": trace,
                                  "mode": "scalp", "ts_event": ts + 1}
        if failed:
            out.append(builders.shadow_trade_closed(shadow_id=f"s{i}", blocked_by=failed, **common))
        else:
            out.append(builders.trade_closed(trade_id=f"t{i}", fees=0.0, **common))
    return out


def recount(signals: list[tuple[float, float, int]], alt: float) -> tuple[int, int, int, float, int, float]:
    passed_gate = taken = newly_taken = newly_blocked = 0
    shadow_pnl = blocked_pnl = 0.0
    for spread, regime, pnl in signals:
        now, would, others = spread <= 8.0, spread <= alt, regime >= 0.5
        passed_gate += would
        taken += would and others
        if would and others and not now:
            newly_taken += 1
            shadow_pnl += pnl
        if now and others and not would:
            newly_blocked += 1
            blocked_pnl += pnl
    return passed_gate, taken, newly_taken, shadow_pnl, newly_blocked, blocked_pnl


def over(signals: list[tuple[float, float, int]], sweep: Callable[[duckdb.DuckDBPyConnection], T], *,
         materialize_trades: bool = True) -> T:
    """`sweep` run on the query layer over a fresh data dir holding these signals' events."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp) / "data").ensure()
        conn = open_live_db(layout.live_db)
        ingest_events(conn, events(signals))
        conn.close()
        q = QueryLayer(layout, materialize_trades=materialize_trades)
        try:
            return sweep(q.connect())
        finally:
            q.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(signal, min_size=1, max_size=12))
def test_sweep_matches_a_direct_recount(signals: list[tuple[float, float, int]]) -> None:
    sweep = over(signals, lambda con: counterfactual_sweep(con, "spread", WINDOW, ALTS, gates=GATES))
    for row in sweep.rows:
        got = (row.passed_gate, row.taken, row.newly_taken, row.shadow_pnl, row.newly_blocked,
               row.blocked_trade_pnl)
        assert got == pytest.approx(recount(signals, row.threshold)), row.threshold


REGIME_ALTS = [0.1, 0.3, 0.5, 0.7, 1.0]


def recount_regime(signals: list[tuple[float, float, int]], alt: float) -> tuple[int, int, int, float, int, float]:
    """`recount` with the roles swapped: the regime gate (min 0.5) swept, spread held as recorded."""
    return recount([(8.0 + 0.5 - regime, 0.5 + 8.0 - spread, pnl) for spread, regime, pnl in signals], 8.0 + 0.5 - alt)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(signal, min_size=1, max_size=12))
def test_sweeps_of_every_gate_from_one_pass_match_direct_recounts(signals: list[tuple[float, float, int]]) -> None:
    sweeps = over(signals, lambda con: counterfactual_sweeps(con, ["spread", "regime"], WINDOW,
                                                             {"spread": ALTS, "regime": REGIME_ALTS}, gates=GATES),
                  materialize_trades=False)
    for gate, count in (("spread", recount), ("regime", recount_regime)):
        assert [r.threshold for r in sweeps[gate].rows] == (ALTS if gate == "spread" else REGIME_ALTS)
        for row in sweeps[gate].rows:
            got = (row.passed_gate, row.taken, row.newly_taken, row.shadow_pnl, row.newly_blocked,
                   row.blocked_trade_pnl)
            assert got == pytest.approx(count(signals, row.threshold)), (gate, row.threshold)
