"""Decision timelines of crafted traces: steps, latencies, market context, outcome, fallback."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from observability.analytics.decision_trace import trace_timeline
from observability.analytics.gate_explainer import UnknownTraceError
from observability.paths import DataLayout

STAGES = ["signal", "gate spread", "gate liquidity", "gate model_confidence"]


def test_taken_trace_has_every_step_with_latencies_and_context(fixed_layout: DataLayout) -> None:
    tl = trace_timeline("tr-S1", layout=fixed_layout)
    t = tl.trace
    assert tl.source == "live.db"
    assert [s.stage for s in t.steps] == [*STAGES, "entry", "exit"]
    assert [s.latency_ms for s in t.steps] == pytest.approx([None, 100.0, 100.0, 100.0, 200.0, 60_000.0])
    assert t.symbol == "BTCUSDT" and t.mode == "scalp"
    assert t.outcome == "taken, closed +1.80 USDT" and tl.pnl == pytest.approx(1.8)
    assert t.steps[0].ts == datetime(2026, 1, 5, 0, 58, 59, 500000, tzinfo=UTC)
    # the only BTCUSDT snapshot before S1's steps is the 00:30 one (spread 2 bps)
    assert all(c is not None and c.spread_bps == 2.0 for c in tl.context)
    assert "spread: 5 <= 8 PASS (margin 3)" in t.steps[1].summary
    assert "slippage 10.01 bps" in t.steps[4].summary
    assert t.steps[5].summary.startswith("take_profit at 102: net +1.80 USDT (+180.0 bps), hold 60 s")


def test_context_is_the_latest_snapshot_at_or_before_each_step(fixed_layout: DataLayout) -> None:
    tl = trace_timeline("tr-S2", layout=fixed_layout)
    assert [c.spread_bps if c else None for c in tl.context] == [4.0] * 6  # the 01:30 snapshot


def test_blocked_trace_ends_with_its_shadow_outcome(fixed_layout: DataLayout) -> None:
    tl = trace_timeline("tr-B1", layout=fixed_layout)
    assert [s.stage for s in tl.trace.steps] == [*STAGES, "shadow entry", "shadow exit"]
    assert tl.trace.outcome == "blocked by spread; shadow +1.00 USDT"
    assert "FAIL" in tl.trace.steps[1].summary
    assert tl.trace.steps[-1].summary.startswith("shadow timeout at 101: +1.00 USDT (+100.0 bps) forgone")


def test_query_layer_fallback_gives_the_same_timeline(fixed_layout: DataLayout,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    live = trace_timeline("tr-S1", layout=fixed_layout)
    history = trace_timeline("tr-S1", con=con)
    assert history.source == "query layer"
    assert [(s.stage, s.ts, s.event_id, s.latency_ms) for s in history.trace.steps] == [
        (s.stage, s.ts, s.event_id, s.latency_ms) for s in live.trace.steps]
    assert [c.spread_bps if c else None for c in history.context] == [2.0] * 6
    assert history.trace.outcome == live.trace.outcome


def test_timeline_facts_cite_event_ids(fixed_layout: DataLayout) -> None:
    facts = {f.id: f for f in trace_timeline("tr-S1", layout=fixed_layout).to_facts()}
    assert facts["trace.tr-S1.total"].value == pytest.approx(60_500.0)
    assert facts["trace.tr-S1.pnl"].value == pytest.approx(1.8)
    assert len(facts["trace.tr-S1.total"].evidence) == 6


def test_unknown_trace_is_a_one_line_error(fixed_layout: DataLayout, con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnknownTraceError, match="no events with trace_id 'missing'"):
        trace_timeline("missing", layout=fixed_layout, con=con)
