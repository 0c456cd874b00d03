"""The journal projection ends the same whatever the order of a trade's events and however they are
chunked (one event at a time or one batch): its upserts must not depend on which event came first."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

from storage_helpers import T0, store, trade_pair

from observability.core import builders
from observability.core.io.journal import JournalProjector
from observability.paths import DataLayout


def _events() -> list[dict[str, Any]]:
    """A trade and a shadow trade whose opens carry no trace_id or symbol, while their closes do."""
    opened, closed = trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0, exit_=102.0,
                                size=1.0, fees=0.2, ts=T0)
    s_open = builders.shadow_trade_opened(shadow_id="S1", side="long", entry_price=100.0, size=1.0,
                                          blocked_by=["spread"], symbol="BTC/USDT", trace_id="tr-S1", mode="scalp",
                                          ts_event=T0)
    s_close = builders.shadow_trade_closed(shadow_id="S1", side="long", entry_price=100.0, exit_price=101.0,
                                           size=1.0, hold_seconds=60.0, exit_reason="timeout", blocked_by=["spread"],
                                           symbol="BTC/USDT", trace_id="tr-S1", mode="scalp", ts_event=T0 + 60)
    for ev in (opened, s_open):
        ev["trace_id"] = None
        ev["symbol"] = None
    return [opened, closed, s_open, s_close]


def _journal(root: Path, events: list[dict[str, Any]], chunk_rows: int) -> list[list[tuple[Any, ...]]]:
    layout = DataLayout(root).ensure()
    store(layout, events)
    JournalProjector(layout, chunk_rows=chunk_rows).run_once()
    conn = sqlite3.connect(f"file:{layout.journal_db}?mode=ro", uri=True)
    try:
        return [conn.execute(sql).fetchall() for sql in (
            "SELECT trade_id, trace_id, symbol, mode, side, status, entry_price, exit_price FROM trades",
            "SELECT shadow_id, trace_id, symbol, mode, side, status, entry_price, exit_price FROM shadow_trades")]
    finally:
        conn.close()


def test_a_trades_journal_rows_are_the_same_for_every_event_order_and_chunking(tmp_path: Path) -> None:
    events = _events()
    results = {
        (order, chunk): _journal(tmp_path / f"{'-'.join(map(str, order))}-{chunk}", [events[i] for i in order], chunk)
        for order in itertools.permutations(range(len(events)))
        for chunk in (1, 100)
    }
    expected = [[("T1", "tr-T1", "BTC/USDT", "scalp", "long", "closed", 100.0, 102.0)],
                [("S1", "tr-S1", "BTC/USDT", "scalp", "long", "closed", 100.0, 101.0)]]
    assert {k: v for k, v in results.items() if v != expected} == {}
