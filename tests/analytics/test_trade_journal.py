"""Trade journal: fills, costs, excursions and lineage (event thresholds vs the registry's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from observability.analytics.trade_journal import TradeJournal, UnknownTradeError
from observability.analytics.windows import make_window
from observability.core.registry import Registry
from observability.paths import DataLayout
from tests.analytics.dataset import DAY1

DAY1_DT = datetime.fromtimestamp(DAY1, tz=UTC)


def test_entry_has_fill_costs_excursions_and_event_lineage(con: duckdb.DuckDBPyConnection) -> None:
    e = TradeJournal(con).entry("S1")
    r = e.record
    assert (r.symbol, r.mode, r.side, r.exit_reason) == ("BTCUSDT", "scalp", "long", "take_profit")
    assert (r.entry_price, r.exit_price, r.pnl_net, r.fees) == pytest.approx((100.0, 102.0, 1.8, 0.2))
    assert (r.mfe_bps, r.mae_bps, e.hold_seconds) == (250.0, -50.0, 60.0)
    assert e.entry_slippage_bps == pytest.approx((100.0 - 99.9) / 99.9 * 10_000)
    [fill] = e.fills
    assert (fill.kind, fill.order_id, fill.price_requested, fill.price_filled, fill.fees, fill.latency_ms) == (
        "entry", "o-S1", 99.9, 100.0, 0.1, 20.0)
    lin = e.lineage
    assert (lin.model_id, lin.git_sha, lin.data_snapshot_id, lin.config_hash) == ("model-a", "abc1234", "snap-1",
                                                                                "cfg-1")
    assert lin.thresholds == {"spread": 8.0, "liquidity": 250_000.0, "model_confidence": 0.55}
    assert fill.event_id in e.evidence
    assert {f.id: f.value for f in e.to_facts()}["trade.S1.pnl_net"] == pytest.approx(1.8)


def test_registry_thresholds_live_at_entry_and_mismatches(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with Registry(DataLayout(tmp_path / "reg")) as reg:
        reg.record_config_change("gates.spread.threshold", 10.0, 8.0, changed_by="quant", gate="spread",
                                 ts=DAY1_DT - timedelta(days=1))
        reg.record_config_change("gates.spread.threshold", 8.0, 9.0, changed_by="mechanic", gate="spread",
                                 ts=DAY1_DT + timedelta(hours=1.5))
        journal = TradeJournal(con, reg)
        s1, s2 = journal.entry("S1"), journal.entry("S2")
    assert s1.lineage.registry_thresholds == {"spread": 8.0}
    assert "model model-a is not in the registry" in s1.lineage.mismatches
    assert not any(m.startswith("spread") for m in s1.lineage.mismatches)
    assert s2.lineage.registry_thresholds == {"spread": 9.0}  # S2 opened after the 01:30 change
    assert "spread: engine used 8, registry had 9 live" in s2.lineage.mismatches


def test_entries_in_a_window_newest_first_and_filtered(con: duckdb.DuckDBPyConnection) -> None:
    j = TradeJournal(con)
    week = make_window("7d", until=datetime(2026, 1, 8, tzinfo=UTC))
    assert [e.record.trade_id for e in j.entries(week)] == ["R3", "R2", "S4", "S3", "R1", "S2", "S1"]
    assert [e.record.trade_id for e in j.entries(week, mode="runner")] == ["R3", "R2", "R1"]
    assert [e.status for e in j.entries(week, mode="runner", limit=1)] == ["open"]


def test_unknown_trade_is_a_one_line_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnknownTradeError, match="no trade with id 'T404'"):
        TradeJournal(con).entry("T404")
