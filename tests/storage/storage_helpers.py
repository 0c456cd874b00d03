"""Helpers for the storage tests: deterministic events written into a real live.db."""

from __future__ import annotations

from typing import Any

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.spool import FLUSH_ROWS, SpoolWriter
from observability.core.live_store import box_id, open_live_db
from observability.paths import DataLayout
from observability.sim.generate import generate_events

T0 = 1_764_115_200.0  # 2025-11-26 00:00:00 UTC
SYMBOLS = ("BTC/USDT", "ETH-USDT", None)


def gate_events(n: int, *, start: int = 0, day_seconds: float = 60.0) -> list[dict[str, Any]]:
    """n gate decisions spread over symbols (incl. none) and days; event i is at T0 + i*day_seconds."""
    out = []
    for i in range(start, start + n):
        symbol = SYMBOLS[i % 3]
        out.append(builders.gate_decision(
            gate=f"g{i % 6}", value=float(i % 10), threshold=5.0, direction="min", symbol=symbol or "X",
            trace_id=f"t{i}", mode="scalp" if i % 2 else "runner", ts_event=T0 + i * day_seconds,
        ))
        if symbol is None:
            out[-1]["symbol"] = None
    return out


def store(layout: DataLayout, events: list[dict[str, Any]], *, spooled: bool = False) -> None:
    """Store events in live.db; `spooled`: also in the export spool, as the writer process does."""
    conn = open_live_db(layout.live_db)
    spool = SpoolWriter(layout.export_spool_dir) if spooled else None
    try:
        stored, dead = ingest_events(conn, events, spool)
        assert dead == 0 and stored == len(events)
    finally:
        conn.close()
        if spool is not None:
            spool.close()


def trade_pair(trade_id: str, *, symbol: str, mode: str, side: str, entry: float, exit_: float, size: float,
               fees: float, ts: float) -> list[dict[str, Any]]:
    ex = builders.execution(order_id=f"o-{trade_id}", side="buy" if side == "long" else "sell",
                            price_requested=entry, price_filled=entry, size_requested=size, size_filled=size,
                            fees=fees / 2)
    return [
        builders.trade_opened(trade_id=trade_id, side=side, execution=ex, model_id="m1", symbol=symbol,
                              trace_id=f"tr-{trade_id}", mode=mode, thresholds={"spread": 5.0}, ts_event=ts),
        builders.trade_closed(trade_id=trade_id, side=side, entry_price=entry, exit_price=exit_, size=size,
                              fees=fees, hold_seconds=30.0, exit_reason="take_profit", symbol=symbol,
                              trace_id=f"tr-{trade_id}", mode=mode, ts_event=ts + 30.0),
    ]


def own_box(layout: DataLayout) -> str:
    """This data directory's box id (it is part of every Parquet file name it exports)."""
    conn = open_live_db(layout.live_db)
    try:
        return box_id(conn)
    finally:
        conn.close()


def every_type() -> list[dict[str, Any]]:
    """Simulator events (signals, gates, trades, shadows, context, model updates) and the rarer types."""
    events = list(generate_events(seed=5, sim_seconds=120.0, events_per_second=40.0))
    events += [
        builders.error(component="ws", error_type="Timeout", message="m", traceback="tb", ts_event=T0),
        builders.health(status="ok", queue_depth=1, fill_ratio=0.1, dropped={"INFO": 2}, writer_lag_s=0.1,
                        events_per_s=3.0, kill_switch=False),
        builders.kill_switch(action="fired", fill_ratio=0.9, queue_depth=9, threshold=0.95),
        builders.config_changed(key="k", old_value=None, new_value={"a": [1, 2.5e-05], "é": "ü"}, changed_by="me",
                                ts_event=T0),
    ]
    return events


def spool_in_batches(layout: DataLayout, events: list[dict[str, Any]], batch: int, *,
                     flush_rows: int = FLUSH_ROWS) -> None:
    """Store events in commits of `batch`, spooled as one writer process does (`flush_rows=1`: one stream
    batch per commit)."""
    spool = SpoolWriter(layout.export_spool_dir, flush_rows=flush_rows)
    conn = open_live_db(layout.live_db)
    for i in range(0, len(events), batch):
        ingest_events(conn, events[i:i + batch], spool)
    conn.close()
    spool.close()
