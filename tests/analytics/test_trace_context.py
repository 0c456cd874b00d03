"""Market context of each timeline step from live.db, where snapshots lie thousands of rows apart.

The expected snapshot of each step is worked out by hand from the rule: the snapshot of the step's
symbol with the highest seq at or before the step, its ts_event not after the step's, and fewer than
CONTEXT_SCAN_ROWS rows back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from observability.analytics.decision_trace import CONTEXT_SCAN_ROWS, SHARED_WALK_ROWS, trace_timeline
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC


def snapshot(symbol: str, spread: float, ts: float) -> dict[str, object]:
    return builders.market_context(symbol=symbol, price=100.0, spread_bps=spread, volatility_bps=5.0, ts_event=ts)


def others(n: int, ts: float) -> list[dict[str, object]]:
    """Snapshots of another symbol: rows every walk must step over."""
    return [snapshot("ETHUSDT", 50.0, ts) for _ in range(n)]


def signal(trace: str, ts: float) -> dict[str, object]:
    return builders.signal_received(signal_id=f"sig-{trace}", side="long", confidence=0.8, price=100.0,
                                    model_id="m1", symbol="BTCUSDT", trace_id=trace, mode="scalp", ts_event=ts)


def gate(trace: str, ts: float) -> dict[str, object]:
    return builders.gate_decision(gate="spread", value=3.0, threshold=8.0, direction="max", symbol="BTCUSDT",
                                  trace_id=trace, mode="scalp", signal_id=f"sig-{trace}", ts_event=ts)


def opened(trace: str, ts: float) -> dict[str, object]:
    fill = builders.execution(order_id=f"o-{trace}", side="buy", price_requested=100.0, price_filled=100.0,
                              size_requested=1.0, size_filled=1.0, fees=0.1)
    return builders.trade_opened(trade_id=f"t-{trace}", side="long", execution=fill, model_id="m1",
                                 symbol="BTCUSDT", trace_id=trace, mode="scalp", ts_event=ts)


def closed(trace: str, ts: float) -> dict[str, object]:
    return builders.trade_closed(trade_id=f"t-{trace}", side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                 fees=0.2, hold_seconds=ts - T0, exit_reason="take_profit", symbol="BTCUSDT",
                                 trace_id=trace, mode="scalp", ts_event=ts)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    layout = DataLayout(Path(tmp_path_factory.mktemp("ctx")) / "data").ensure()
    conn = open_live_db(layout.live_db)
    events = [
        snapshot("BTCUSDT", 1.0, T0),
        snapshot("BTCUSDT", 9.0, T0 + 10),  # stored before the signal, but its market time is after it
        signal("near", T0 + 1), gate("near", T0 + 1.1), opened("near", T0 + 12),
        *others(SHARED_WALK_ROWS + 500, T0 + 13),  # the close gets a walk of its own
        snapshot("BTCUSDT", 2.0, T0 + 15),
        *others(SHARED_WALK_ROWS + 500, T0 + 16),
        closed("near", T0 + 20),
        # 'edge': its signal is the last row the bound reaches back to; its close, one row farther, sees nothing
        snapshot("BTCUSDT", 3.0, T0 + 30),
        *others(CONTEXT_SCAN_ROWS - 2, T0 + 31),
        signal("edge", T0 + 32), closed("edge", T0 + 33),
    ]
    assert ingest_events(conn, events) == (len(events), 0)
    conn.close()
    return layout


@pytest.fixture(scope="module")
def history(layout: DataLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    """The same events exported to Parquet, read through the query layer (a trace pruned from live.db)."""
    export_once(layout, wait=True)
    q = QueryLayer(layout)
    yield q.connect()
    q.close()


def spreads(layout: DataLayout, trace: str) -> list[float | None]:
    tl = trace_timeline(trace, layout=layout)
    assert tl.source == "live.db"
    return [c.spread_bps if c else None for c in tl.context]


def test_each_step_gets_the_latest_snapshot_stored_before_it_and_not_after_its_market_time(
        layout: DataLayout) -> None:
    # signal, gate: the 9-bps snapshot is stored earlier but lies in their future -> the 1-bps one;
    # entry (T0+12) may use the 9-bps one; the exit, thousands of rows later, the 2-bps one stored between
    assert spreads(layout, "near") == [1.0, 1.0, 9.0, 2.0]


def test_a_snapshot_more_than_the_bound_back_is_not_used(layout: DataLayout) -> None:
    assert spreads(layout, "edge") == [3.0, None]


def test_the_history_gives_each_step_the_snapshot_live_db_gives_within_the_same_bound(
        history: duckdb.DuckDBPyConnection) -> None:
    tl = trace_timeline("near", con=history)
    assert tl.source == "query layer"
    assert [c.spread_bps if c else None for c in tl.context] == [1.0, 1.0, 9.0, 2.0]
    assert [c.spread_bps if c else None for c in trace_timeline("edge", con=history).context] == [3.0, None]
