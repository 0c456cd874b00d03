"""Trade journal: views equal numbers computed by hand on a small fixed event set; projection is idempotent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import T0, store, trade_pair

from observability.core import builders
from observability.core.io.journal import JournalProjector, journal_watermark
from observability.errors import SchemaVersionError
from observability.paths import DataLayout


def shadow(sid: str, *, mode: str, side: str, entry: float, exit_: float | None, blocked: list[str],
           ts: float) -> list[dict[str, Any]]:
    out = [builders.shadow_trade_opened(shadow_id=sid, side=side, entry_price=entry, size=1.0, blocked_by=blocked,
                                        symbol="BTC/USDT", trace_id=f"tr-{sid}", mode=mode, ts_event=ts)]
    if exit_ is not None:
        out.append(builders.shadow_trade_closed(shadow_id=sid, side=side, entry_price=entry, exit_price=exit_,
                                                size=1.0, hold_seconds=60.0, exit_reason="timeout", blocked_by=blocked,
                                                symbol="BTC/USDT", trace_id=f"tr-{sid}", mode=mode, ts_event=ts + 60))
    return out


def gate(name: str, value: float, threshold: float, direction: str, mode: str, ts: float) -> dict[str, Any]:
    return builders.gate_decision(gate=name, value=value, threshold=threshold, direction=direction,
                                  symbol="BTC/USDT", trace_id="g", mode=mode, ts_event=ts)


def fixed_events() -> list[dict[str, Any]]:
    t1 = trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0, exit_=102.0, size=1.0,
                    fees=0.2, ts=T0)
    t2 = trade_pair("T2", symbol="ETH-USDT", mode="scalp", side="short", entry=50.0, exit_=51.0, size=2.0,
                    fees=0.1, ts=T0 + 100)
    t3 = trade_pair("T3", symbol="BTC/USDT", mode="runner", side="long", entry=200.0, exit_=210.0, size=0.5,
                    fees=0.3, ts=T0 + 200)
    t4 = trade_pair("T4", symbol="BTC/USDT", mode="runner", side="long", entry=300.0, exit_=301.0, size=1.0,
                    fees=0.1, ts=T0 + 300)[:1]  # still open
    t5 = trade_pair("T5", symbol="ETH-USDT", mode="scalp", side="long", entry=10.0, exit_=10.5, size=10.0,
                    fees=1.0, ts=T0 + 400)[::-1]  # the close is logged before the open
    signal = builders.signal_received(signal_id="s1", side="long", confidence=0.8, price=100.0, model_id="m1",
                                      symbol="BTC/USDT", trace_id="tr-T1", mode="scalp", features={"rsi": 55.0},
                                      feature_ts={"rsi": T0 - 1}, decision_timestamp=T0 - 0.5, ts_event=T0 - 0.5)
    shadows = (shadow("S1", mode="scalp", side="long", entry=100.0, exit_=103.0, blocked=["spread"], ts=T0)
               + shadow("S2", mode="scalp", side="short", entry=100.0, exit_=101.0, blocked=["spread", "vol"],
                        ts=T0)
               + shadow("S3", mode="runner", side="long", entry=100.0, exit_=None, blocked=["vol"], ts=T0))
    gates = [gate("spread", 3.0, 5.0, "max", "scalp", T0), gate("spread", 6.0, 5.0, "max", "scalp", T0),
             gate("spread", 4.0, 5.0, "max", "scalp", T0), gate("spread", 7.0, 5.0, "max", "runner", T0),
             gate("vol", 12.0, 10.0, "min", "scalp", T0), gate("vol", 11.0, 10.0, "min", "runner", T0),
             gate("vol", 9.0, 10.0, "min", "runner", T0)]
    noise = [builders.market_context(symbol="BTC/USDT", price=100.0, spread_bps=1.0, volatility_bps=5.0, ts_event=T0)]
    return [signal, *t1, *t2, *t3, *t4, *t5, *shadows, *gates, *noise]


def rows(layout: DataLayout, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{layout.journal_db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def dump(layout: DataLayout) -> list[list[tuple[Any, ...]]]:
    return [rows(layout, f"SELECT * FROM {t} ORDER BY 1, 2") for t in
            ("trades", "trade_outcomes", "trade_features", "shadow_trades", "gate_daily")]


@pytest.fixture
def journaled(layout: DataLayout) -> DataLayout:
    store(layout, fixed_events())
    assert JournalProjector(layout, chunk_rows=7).run_once() == 21  # 9 trade + 5 shadow + 7 gate events
    return layout


def test_win_rate_by_mode_matches_hand_computed_numbers(journaled: DataLayout) -> None:
    # scalp: T1 +1.8 (180 bps), T2 -2.1 (-210 bps), T5 +4.0 (400 bps); runner: T3 +4.7 (470 bps); T4 open
    got = rows(journaled, "SELECT mode, trades, wins, win_rate, pnl_net, avg_pnl_bps, fees FROM win_rate_by_mode "
                          "ORDER BY mode")
    assert got[0][:3] == ("runner", 1, 1)
    assert got[0][3:] == pytest.approx((1.0, 4.7, 470.0, 0.3))
    assert got[1][:3] == ("scalp", 3, 2)
    assert got[1][3:] == pytest.approx((2 / 3, 3.7, 370.0 / 3, 1.3))
    assert rows(journaled, "SELECT trade_id, status FROM trades ORDER BY 1") == [
        ("T1", "closed"), ("T2", "closed"), ("T3", "closed"), ("T4", "open"), ("T5", "closed")]


def test_shadow_summary_matches_hand_computed_numbers(journaled: DataLayout) -> None:
    # S1 scalp long 100 -> 103: +3; S2 scalp short 100 -> 101: -1; S3 runner still open
    got = rows(journaled, "SELECT mode, shadow_trades, closed, would_win, would_win_rate, pnl "
                          "FROM shadow_trades_summary ORDER BY mode")
    assert got == [("runner", 1, 0, 0, None, None), ("scalp", 2, 2, 1, 0.5, 2.0)]
    by_gate = rows(journaled, "SELECT gate, mode, shadow_trades, would_win, pnl FROM shadow_trades_by_gate "
                              "ORDER BY gate, mode")
    assert by_gate == [("spread", "scalp", 2, 1, 2.0), ("vol", "runner", 1, 0, None), ("vol", "scalp", 1, 0, -1.0)]


def test_gate_pass_rate_matches_hand_computed_numbers(journaled: DataLayout) -> None:
    # spread (max 5): scalp 3 pass, 6 fail, 4 pass; runner 7 fail. vol (min 10): scalp 12 pass; runner 11 pass, 9 fail
    got = rows(journaled, "SELECT gate, mode, evaluated, passed, pass_rate, avg_margin FROM gate_pass_rate "
                          "ORDER BY gate, mode")
    assert [g[:4] for g in got] == [("spread", "runner", 1, 0), ("spread", "scalp", 3, 2),
                                    ("vol", "runner", 2, 1), ("vol", "scalp", 1, 1)]
    assert [g[4] for g in got] == pytest.approx([0.0, 2 / 3, 0.5, 1.0])
    assert [g[5] for g in got] == pytest.approx([-2.0, 2 / 3, 0.0, 2.0])


def test_trade_features_are_typed_key_values_with_the_signals_features(journaled: DataLayout) -> None:
    got = rows(journaled, "SELECT name, kind, value_real, value_text, source FROM trade_features "
                          "WHERE trade_id = 'T1' ORDER BY name")
    assert got == [
        ("feature.rsi", "float", 55.0, None, "signal_received"),
        ("signal.confidence", "float", 0.8, None, "signal_received"),
        ("signal.strategy", "text", None, "default", "signal_received"),
        ("threshold.spread", "float", 5.0, None, "trade_opened"),
    ]


def test_replaying_changes_nothing(journaled: DataLayout) -> None:
    before = dump(journaled)
    assert JournalProjector(journaled).run_once() == 0
    conn = sqlite3.connect(journaled.journal_db)
    conn.execute("UPDATE projection_state SET projected_seq = 0")  # force a replay of every trade event
    conn.execute("DELETE FROM gate_daily")  # (gate counts are guarded by the watermark, not by keys)
    conn.commit()
    conn.close()
    JournalProjector(journaled).run_once()
    assert dump(journaled) == before
    assert journal_watermark(journaled) == 23  # also past the signal and market events it skips


def test_a_chunk_projected_in_one_batch_equals_one_event_at_a_time(layout: DataLayout, tmp_path: Path) -> None:
    """Batching groups statements across events (T5's close precedes its open): the upserts must not care."""
    single = DataLayout(tmp_path / "single").ensure()
    events = fixed_events()
    store(layout, events)
    store(single, events)
    JournalProjector(layout, chunk_rows=10_000).run_once()
    JournalProjector(single, chunk_rows=1).run_once()
    assert dump(layout) == dump(single)


def test_init_creates_a_versioned_journal_and_a_newer_one_is_refused(layout: DataLayout) -> None:
    out = subprocess.run([sys.executable, "-m", "observability.cli.main", "--data-dir", str(layout.root), "init"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert rows(layout, "SELECT value FROM schema_meta WHERE key = 'schema_version'") == [("1",)]
    views = {r[0] for r in rows(layout, "SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert {"win_rate_by_mode", "shadow_trades_summary", "gate_pass_rate"} <= views
    conn = sqlite3.connect(layout.journal_db)
    conn.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="schema version 99 is newer"):
        journal_watermark(layout)
