"""Schemas: every builder validates, leakage is rejected with names and values, versions upgrade."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from observability.core import builders
from observability.core.live_store import LIVE_FEED_COLUMNS
from observability.core.schemas import (
    CURRENT_EVENT_VERSION,
    EVENT_ADAPTER,
    EVENT_TYPES,
    EventEnvelope,
    ModelDelta,
    parse_event,
    upgrade_event_dict,
)
from observability.errors import EventValidationError, SchemaVersionError

T0 = 1_790_000_000.0


def one_of_each() -> list[dict]:
    fill = builders.execution(order_id="o1", side="buy", price_requested=100.0, price_filled=100.05,
                              size_requested=1.0, size_filled=1.0, fees=0.1)
    return [
        builders.signal_received(signal_id="s1", side="long", confidence=0.7, price=100.0, model_id="m1",
                                 symbol="BTC/USDT", trace_id="t1", features={"rsi": 55.0},
                                 feature_ts={"rsi": T0 - 1}, decision_timestamp=T0, ts_event=T0),
        builders.gate_decision(gate="spread", value=3.0, threshold=5.0, direction="max", symbol="BTC/USDT",
                               trace_id="t1", ts_event=T0),
        builders.trade_opened(trade_id="tr1", side="long", execution=fill, model_id="m1", symbol="BTC/USDT",
                              trace_id="t1", mode="scalp", thresholds={"spread": 5.0}),
        builders.trade_closed(trade_id="tr1", side="long", entry_price=100.05, exit_price=101.0, size=1.0,
                              fees=0.2, hold_seconds=30, exit_reason="take_profit", symbol="BTC/USDT",
                              trace_id="t1", mode="scalp"),
        builders.shadow_trade_opened(shadow_id="sh1", side="short", entry_price=100.0, size=1.0,
                                     blocked_by=["spread"], symbol="ETH/USDT", trace_id="t2", mode="runner",
                                     counterfactuals=[{"gate": "spread", "threshold": 5.0,
                                                       "alternative_threshold": 6.0, "would_pass": True}]),
        builders.shadow_trade_closed(shadow_id="sh1", side="short", entry_price=100.0, exit_price=99.0,
                                     size=1.0, hold_seconds=60, exit_reason="timeout", blocked_by=["spread"],
                                     symbol="ETH/USDT", trace_id="t2", mode="runner"),
        builders.market_context(symbol="BTC/USDT", price=100.0, spread_bps=2.0, volatility_bps=30.0),
        builders.model_updated(model_id="m2", metrics={"auc": 0.61}, parent_model_id="m1",
                               metrics_before={"auc": 0.58}),
        builders.config_changed(key="gates.spread.threshold", old_value=5.0, new_value=6.0, changed_by="mechanic",
                                gate="spread"),
        builders.error(component="exchange", error_type="Timeout", message="no answer"),
        builders.health(status="degraded", queue_depth=10, fill_ratio=0.85, dropped={"DEBUG": 3},
                        writer_lag_s=0.2, events_per_s=1000.0, kill_switch=False),
        builders.kill_switch(action="fired", fill_ratio=0.95, queue_depth=9500, threshold=0.95),
    ]


def test_every_builder_output_validates_against_its_model() -> None:
    events = one_of_each()
    assert sorted(e["event_type"] for e in events) == sorted(EVENT_TYPES)
    for ev in events:
        model = EVENT_ADAPTER.validate_python(ev)
        assert model.event_type == ev["event_type"]


def test_gate_decision_margin_and_passed_follow_direction() -> None:
    below_max = builders.gate_decision(gate="spread", value=3.0, threshold=5.0, direction="max", symbol="X",
                                       trace_id="t")
    below_min = builders.gate_decision(gate="liquidity", value=3.0, threshold=5.0, direction="min", symbol="X",
                                       trace_id="t")
    assert below_max["payload"]["passed"] and below_max["payload"]["margin"] == 2.0
    assert not below_min["payload"]["passed"] and below_min["payload"]["margin"] == -2.0


def test_trade_closed_pnl_is_implied_by_prices_size_and_fees() -> None:
    ev = builders.trade_closed(trade_id="t", side="short", entry_price=200.0, exit_price=190.0, size=2.0,
                               fees=1.5, hold_seconds=5, exit_reason="stop_loss", symbol="X", trace_id="t",
                               mode="runner")
    p = ev["payload"]
    assert p["pnl_gross"] == 20.0 and p["pnl_net"] == 18.5
    assert p["pnl_bps"] == pytest.approx(18.5 / 400.0 * 10_000)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "3.0", None, True])
def test_builders_reject_non_finite_or_non_numeric_values_at_the_call(bad: object) -> None:
    with pytest.raises(EventValidationError, match="value must be a finite number"):
        builders.gate_decision(gate="spread", value=bad, threshold=5.0, direction="max",  # type: ignore[arg-type]
                               symbol="X", trace_id="t")


def test_builders_reject_negative_size_and_unknown_enums() -> None:
    with pytest.raises(EventValidationError, match="size must be > 0"):
        builders.trade_closed(trade_id="t", side="long", entry_price=1.0, exit_price=1.0, size=-1.0, fees=0.0,
                              hold_seconds=1, exit_reason="timeout", symbol="X", trace_id="t", mode="scalp")
    with pytest.raises(EventValidationError, match="exit_reason must be one of"):
        builders.trade_closed(trade_id="t", side="long", entry_price=1.0, exit_price=1.0, size=1.0, fees=0.0,
                              hold_seconds=1, exit_reason="bored", symbol="X", trace_id="t", mode="scalp")


def test_leakage_names_the_feature_and_both_timestamps() -> None:
    ev = builders.signal_received(signal_id="s", side="long", confidence=0.5, price=1.0, model_id="m", symbol="X",
                                  trace_id="t", decision_timestamp=T0)
    ev["payload"]["feature_ts"] = {"funding": T0 + 5}
    with pytest.raises(ValidationError) as info:
        EVENT_ADAPTER.validate_python(ev)
    text = str(info.value)
    assert "feature_ts['funding']" in text and "decision_timestamp" in text and "2026-09-21" in text


def test_leakage_rejects_decision_after_label_cutoff() -> None:
    ev = builders.trade_closed(trade_id="t", side="long", entry_price=1.0, exit_price=1.1, size=1.0, fees=0.0,
                               hold_seconds=1, exit_reason="timeout", symbol="X", trace_id="t", mode="scalp")
    ev["payload"]["decision_timestamp"] = T0
    ev["payload"]["label_cutoff"] = T0 - 60
    with pytest.raises(ValidationError, match="label_cutoff"):
        EVENT_ADAPTER.validate_python(ev)


def test_builder_rejects_leakage_at_the_call() -> None:
    with pytest.raises(EventValidationError, match="leakage: feature_ts"):
        builders.signal_received(signal_id="s", side="long", confidence=0.5, price=1.0, model_id="m", symbol="X",
                                 trace_id="t", feature_ts={"rsi": T0 + 1}, decision_timestamp=T0)


def test_v0_prototype_row_is_upgraded_to_the_current_model() -> None:
    v0 = {"event_version": 0, "id": 17, "event_id": "0123456789abcdef", "event": "error", "severity": "error",
          "timestamp": "2025-11-06T12:00:00+00:00", "source": "engine",
          "payload": {"component": "x", "error_type": "Boom", "message": "prototype row"}}
    ev = parse_event(v0)
    assert ev.event_type == "error" and ev.event_version == CURRENT_EVENT_VERSION
    assert ev.severity == "ERROR" and ev.mode == "none"


def test_v1_row_reads_through_the_upgrader_unchanged() -> None:
    row = builders.error(component="x", error_type="E", message="m", ts_event=T0)
    assert upgrade_event_dict(row) == row
    assert parse_event(row).payload.message == "m"  # type: ignore[union-attr]


def test_newer_event_version_is_a_clear_error() -> None:
    row = dict(builders.error(component="x", error_type="E", message="m"), event_version=CURRENT_EVENT_VERSION + 1)
    with pytest.raises(SchemaVersionError, match="newer than this code understands"):
        upgrade_event_dict(row)


def test_live_feed_columns_are_derived_from_the_envelope_model() -> None:
    assert set(EventEnvelope.model_fields) <= set(LIVE_FEED_COLUMNS)
    assert LIVE_FEED_COLUMNS[: len(EventEnvelope.model_fields)] == tuple(EventEnvelope.model_fields)


def test_model_delta_changes_are_after_minus_before() -> None:
    d = ModelDelta(model_id="m2", metrics_before={"auc": 0.5, "x": 1.0}, metrics_after={"auc": 0.6, "y": 2.0})
    assert d.changes() == {"auc": pytest.approx(0.1)}


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [builders.error(component="c", error_type="e", message="m")["event_id"] for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
