"""EngineHook: a signal's whole story is logged in order, and calls that cannot be right are refused."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from observability.config.gates_config import GatesConfig
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.core.schemas import EVENT_LIST_ADAPTER
from observability.errors import EventValidationError, LeakageError
from observability.integration import EngineHook, HookError, UnknownGateError
from observability.paths import DataLayout
from observability.sim.generate import EventBuffer

T0 = 1_767_225_600.0
PASSING = {"spread": 3.0, "volatility": 20.0, "liquidity": 900_000.0, "model_confidence": 0.7, "regime": 0.8,
           "risk_budget": 0.3}


@pytest.fixture
def buf() -> EventBuffer:
    return EventBuffer()


@pytest.fixture
def hook(buf: EventBuffer) -> EngineHook:
    return EngineHook(buf, GatesConfig(), venue="test", git_sha="abc1234")


def _signal(hook: EngineHook, **kw: Any) -> str:
    args: dict[str, Any] = {"symbol": "BTC/USDT", "side": "long", "confidence": 0.7, "price": 100.0,
                            "model_id": "m1", "mode": "scalp", "ts": T0}
    args.update(kw)
    return hook.on_signal(**args)


def _types(buf: EventBuffer) -> list[str]:
    return [e["event_type"] for e in buf.events]


def test_every_gate_is_logged_even_after_the_first_failure(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook)
    values = {**PASSING, "spread": 9.0, "regime": 0.1}  # spread fails first, regime fails later
    verdict = hook.on_gate_decisions(trace, values, ts=T0 + 0.001)
    gates = [e["payload"] for e in buf.events if e["event_type"] == "gate_decision"]
    assert [g["gate"] for g in gates] == GatesConfig().names()
    assert [g["gate_order"] for g in gates] == [1, 2, 3, 4, 5, 6]
    assert not verdict.passed and verdict.blocked_by == ("spread", "regime")
    assert verdict.near_misses == ("spread",)  # 9.0 is within spread's 1.0 bps near-miss margin of 8.0
    spread = gates[0]
    assert not spread["passed"] and spread["margin"] == pytest.approx(-1.0) and "max 8" in spread["reason"]
    assert all(e["trace_id"] == trace for e in buf.events)


def test_per_mode_threshold_is_used_for_runner_signals(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook, mode="runner")
    verdict = hook.on_gate_decisions(trace, {**PASSING, "spread": 10.0})  # runner allows 12 bps
    assert verdict.passed and verdict.thresholds["spread"] == 12.0


def test_a_full_trade_logs_pnl_from_both_fills_and_all_fees(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=100.0, price_filled=100.05, size_requested=2.0,
                                 size_filled=2.0, fees=0.08, ts=T0 + 0.05)
    assert hook.open_trade_ids == {trade}
    closed = hook.on_trade_closed(trade, price_requested=101.0, price_filled=100.95, fees=0.09,
                                  exit_reason="take_profit", mfe_bps=120.0, mae_bps=-5.0, ts=T0 + 60)
    p = closed["payload"]
    assert p["pnl_gross"] == pytest.approx((100.95 - 100.05) * 2.0)
    assert p["fees"] == pytest.approx(0.17)
    assert p["pnl_net"] == pytest.approx((100.95 - 100.05) * 2.0 - 0.17)
    assert p["hold_seconds"] == pytest.approx(59.95)
    opened = next(e for e in buf.events if e["event_type"] == "trade_opened")["payload"]
    assert opened["execution"]["slippage_bps"] == pytest.approx(5.0)
    assert opened["thresholds"] == GatesConfig().thresholds("scalp")
    assert opened["config_hash"] == GatesConfig().config_hash() and opened["git_sha"] == "abc1234"
    assert p["exit_execution"]["side"] == "sell"
    assert p["exit_execution"]["slippage_bps"] == pytest.approx(0.05 / 101 * 1e4)
    assert hook.open_trade_ids == frozenset()
    assert _types(buf) == ["signal_received"] + ["gate_decision"] * 6 + ["trade_opened", "trade_closed"]


def test_a_blocked_signal_is_followed_as_a_shadow_trade_with_counterfactuals(hook: EngineHook,
                                                                             buf: EventBuffer) -> None:
    trace = _signal(hook, side="short")
    hook.on_gate_decisions(trace, {**PASSING, "model_confidence": 0.53, "liquidity": 100_000.0}, ts=T0)
    shadow = hook.on_shadow_trade_opened(trace, size=1.5, ts=T0 + 0.01)
    assert shadow is not None and hook.open_shadow_ids == {shadow}
    opened = buf.events[-1]["payload"]
    assert opened["blocked_by"] == ["liquidity", "model_confidence"] and opened["entry_price"] == 100.0
    cf = {c["gate"]: c for c in opened["counterfactuals"]}
    assert cf["model_confidence"]["alternative_threshold"] == pytest.approx(0.52)
    assert cf["model_confidence"]["would_pass"] and not cf["liquidity"]["would_pass"]
    closed = hook.on_shadow_trade_closed(shadow, exit_price=99.0, exit_reason="stop_loss", fees=0.1, ts=T0 + 30)
    assert closed["payload"]["pnl"] == pytest.approx(1.5 - 0.1)  # a short gains when the price falls
    assert closed["payload"]["blocked_by"] == ["liquidity", "model_confidence"]


def test_every_hook_event_validates_and_lands_in_live_db(hook: EngineHook, buf: EventBuffer,
                                                         layout: DataLayout) -> None:
    trace = _signal(hook, features={"ret_60s": 1.5}, feature_ts={"ret_60s": T0 - 1.0})
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0,
                                 size_filled=0.5, fees=0.02, latency_ms=12.0, stop_loss=99.0, take_profit=101.0,
                                 ts=T0 + 0.01)
    hook.on_trade_closed(trade, price_requested=99.0, price_filled=98.9, fees=0.02, exit_reason="stop_loss",
                         ts=T0 + 10)
    hook.on_market_context("BTC/USDT", price=100.0, spread_bps=2.0, volatility_bps=30.0, regime="trend", ts=T0)
    try:
        raise TimeoutError("order ack took 2.5 s")
    except TimeoutError as exc:
        hook.on_error("order_router", exc, symbol="BTC/USDT", trace_id=trace, ts=T0 + 1)
    hook.on_error("exchange_ws", "ConnectionResetError", message="stream reset", severity="WARNING", ts=T0 + 2)
    EVENT_LIST_ADAPTER.validate_python(buf.events)
    err = next(e for e in buf.events if e["event_type"] == "error")["payload"]
    assert err["error_type"] == "TimeoutError" and "raise TimeoutError" in err["traceback"]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, buf.events)
    conn.close()
    ro = sqlite3.connect(f"file:{layout.live_db}?mode=ro", uri=True)
    assert ro.execute("SELECT count(*) FROM live_feed").fetchone()[0] == len(buf.events)
    assert ro.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 0
    ro.close()


def test_update_gates_applies_new_thresholds_to_later_signals(hook: EngineHook) -> None:
    hook.update_gates(GatesConfig().with_threshold("spread", 2.0))
    trace = _signal(hook)
    verdict = hook.on_gate_decisions(trace, PASSING)
    assert verdict.blocked_by == ("spread",)


# ------------------------------------------------------------ bad calls


def test_unknown_gate_is_refused_and_nothing_is_logged(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook)
    before = len(buf.events)
    with pytest.raises(UnknownGateError, match=r"unknown gate\(s\) \['spred'\]; configured gates are"):
        hook.on_gate_decisions(trace, {**PASSING, "spred": 1.0})
    assert len(buf.events) == before


def test_skipping_a_gate_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    partial = {k: v for k, v in PASSING.items() if k != "risk_budget"}
    with pytest.raises(HookError, match=r"every gate must be evaluated .* missing \['risk_budget'\]"):
        hook.on_gate_decisions(trace, partial)


def test_negative_size_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING)
    with pytest.raises(HookError, match=r"size_requested must be > 0, got -1.0"):
        hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=-1.0,
                             size_filled=1.0, fees=0.0)
    with pytest.raises(HookError, match=r"size_filled must be > 0"):
        hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=0.0, fees=0.0)
    assert hook.open_trade_ids == frozenset()


def test_close_without_open_is_refused(hook: EngineHook) -> None:
    with pytest.raises(HookError, match=r"close without open: trade 'nope' is not open"):
        hook.on_trade_closed("nope", price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout")
    with pytest.raises(HookError, match=r"close without open: shadow trade 'nope'"):
        hook.on_shadow_trade_closed("nope", exit_price=1.0, exit_reason="timeout")


def test_closing_twice_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0,
                                 size_filled=1.0, fees=0.0, ts=T0)
    hook.on_trade_closed(trade, price_requested=100.0, price_filled=100.0, fees=0.0, exit_reason="timeout", ts=T0 + 1)
    with pytest.raises(HookError, match="already closed"):
        hook.on_trade_closed(trade, price_requested=100.0, price_filled=100.0, fees=0.0, exit_reason="timeout")


def test_feature_from_after_the_decision_is_refused_as_leakage(hook: EngineHook, buf: EventBuffer) -> None:
    with pytest.raises(LeakageError, match=r"leakage: feature 'next_bar' has timestamp .* after the decision"):
        _signal(hook, features={"next_bar": 1.0}, feature_ts={"next_bar": T0 + 5.0}, decision_ts=T0)
    assert buf.events == []


def test_trading_a_blocked_signal_or_shadowing_a_passed_one_is_refused(hook: EngineHook) -> None:
    blocked = _signal(hook)
    hook.on_gate_decisions(blocked, {**PASSING, "spread": 50.0})
    with pytest.raises(HookError, match=r"blocked by \['spread'\]; a blocked signal is followed with"):
        hook.on_order_filled(blocked, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                             fees=0.0)
    passed = _signal(hook)
    hook.on_gate_decisions(passed, PASSING)
    with pytest.raises(HookError, match="shadow trades follow blocked signals only"):
        hook.on_shadow_trade_opened(passed, size=1.0)


def test_trading_before_the_gates_or_on_an_unknown_trace_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    with pytest.raises(HookError, match="record on_gate_decisions before opening a trade"):
        hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                             fees=0.0)
    with pytest.raises(HookError, match="unknown trace_id 'ghost'"):
        hook.on_gate_decisions("ghost", PASSING)
    hook.on_gate_decisions(trace, PASSING)
    with pytest.raises(HookError, match="already recorded"):
        hook.on_gate_decisions(trace, PASSING)


def test_bad_mode_and_non_finite_values_are_refused(hook: EngineHook) -> None:
    with pytest.raises(HookError, match=r"mode must be one of \['scalp', 'runner'\]"):
        _signal(hook, mode="swing")
    trace = _signal(hook)
    with pytest.raises(EventValidationError, match="value must be a finite number"):
        hook.on_gate_decisions(trace, {**PASSING, "spread": float("nan")})


def test_hook_errors_are_one_line_observability_errors() -> None:
    from observability.errors import ObservabilityError

    assert issubclass(HookError, EventValidationError) and issubclass(UnknownGateError, ObservabilityError)


def test_a_refused_shadow_open_keeps_the_trace_so_a_corrected_call_succeeds(hook: EngineHook,
                                                                             buf: EventBuffer) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, {**PASSING, "spread": 20.0}, ts=T0)
    before = len(buf.events)
    with pytest.raises(EventValidationError, match="entry_price must be > 0"):
        hook.on_shadow_trade_opened(trace, size=1.0, entry_price=-5.0, ts=T0)
    assert len(buf.events) == before
    shadow = hook.on_shadow_trade_opened(trace, size=1.0, entry_price=100.0, ts=T0)
    assert shadow is not None and buf.events[-1]["event_type"] == "shadow_trade_opened"


def test_the_steps_of_a_trace_cannot_go_back_in_time(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook, ts=T0)
    with pytest.raises(HookError, match=r"gate decisions .* before the signal"):
        hook.on_gate_decisions(trace, PASSING, ts=T0 - 1)
    hook.on_gate_decisions(trace, PASSING, ts=T0 + 1)
    with pytest.raises(HookError, match=r"entry fill .* before the gate decisions"):
        hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0, size_filled=1.0,
                             fees=0.0, ts=T0 + 0.5)
    blocked = _signal(hook, ts=T0)
    hook.on_gate_decisions(blocked, {**PASSING, "spread": 20.0}, ts=T0 + 1)
    with pytest.raises(HookError, match=r"shadow trade .* before the gate decisions"):
        hook.on_shadow_trade_opened(blocked, size=1.0, ts=T0)
    assert hook.on_shadow_trade_opened(blocked, size=1.0, ts=T0 + 1) is not None
    stamps = [e["ts_event"] for e in buf.events if e["trace_id"] == blocked]
    assert stamps == sorted(stamps)


def test_a_trace_id_still_open_as_a_trade_or_shadow_cannot_start_another_signal(hook: EngineHook) -> None:
    traded = _signal(hook)
    hook.on_gate_decisions(traded, PASSING, ts=T0)
    hook.on_order_filled(traded, price_requested=100.0, price_filled=100.0, size_requested=1.0, size_filled=1.0,
                         fees=0.0, ts=T0)
    with pytest.raises(HookError, match="already in use"):
        _signal(hook, trace_id=traded)
    shadowed = _signal(hook)
    hook.on_gate_decisions(shadowed, {**PASSING, "spread": 20.0}, ts=T0)
    shadow = hook.on_shadow_trade_opened(shadowed, size=1.0, ts=T0)
    assert shadow is not None
    with pytest.raises(HookError, match="already in use"):
        _signal(hook, trace_id=shadowed)
    hook.on_shadow_trade_closed(shadow, exit_price=101.0, exit_reason="timeout", ts=T0 + 5)
    assert _signal(hook, trace_id=shadowed) == shadowed  # its story has ended: the id is free again


def test_excursions_with_the_wrong_sign_are_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0,
                                 size_filled=1.0, fees=0.0, ts=T0)
    with pytest.raises(HookError, match=r"mae_bps .* <= 0"):
        hook.on_trade_closed(trade, price_requested=100.0, price_filled=101.0, fees=0.0, exit_reason="take_profit",
                             mfe_bps=120.0, mae_bps=15.0, ts=T0 + 1)
    with pytest.raises(HookError, match=r"mfe_bps .* >= 0"):
        hook.on_trade_closed(trade, price_requested=100.0, price_filled=101.0, fees=0.0, exit_reason="take_profit",
                             mfe_bps=-3.0, mae_bps=-15.0, ts=T0 + 1)
    assert hook.open_trade_ids == {trade}


def test_an_empty_symbol_is_refused(hook: EngineHook, buf: EventBuffer) -> None:
    with pytest.raises(HookError, match="symbol"):
        _signal(hook, symbol=" ")
    assert buf.events == []


def test_numpy_scalars_from_a_model_are_accepted_and_logged_as_plain_floats(hook: EngineHook,
                                                                           buf: EventBuffer) -> None:
    import numpy as np
    import orjson

    trace = _signal(hook, confidence=np.float32(0.7), price=np.float64(100.0))
    values = {**PASSING, "spread": np.float32(3.0), "liquidity": np.int64(900_000)}
    assert hook.on_gate_decisions(trace, values, ts=T0).passed
    hook.on_order_filled(trace, price_requested=np.float32(100.0), price_filled=100.0, size_requested=np.float32(1),
                         size_filled=np.float32(1), fees=np.float32(0.01), ts=T0)
    EVENT_LIST_ADAPTER.validate_python(buf.events)
    orjson.dumps(buf.events)  # no OPT_SERIALIZE_NUMPY needed: only plain floats went in
    assert type(buf.events[0]["payload"]["confidence"]) is float
    assert type(buf.events[1]["payload"]["value"]) is float


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"model_id": ""}, "model_id"),
    ({"model_id": "m" * 129}, "model_id"),
    ({"signal_id": "s" * 129}, "signal_id"),
    ({"trace_id": "t" * 65}, "trace_id"),
    ({"symbol": "S" * 41}, "symbol"),
    ({"strategy": "x" * 201}, "strategy"),
    ({"features": {"": 1.0}}, "feature name"),
])
def test_ids_the_store_would_dead_letter_are_refused_at_the_call(hook: EngineHook, buf: EventBuffer,
                                                                 kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(HookError, match=field):
        _signal(hook, **kwargs)
    assert buf.events == []


def test_ids_at_their_longest_allowed_length_validate(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook, model_id="m" * 128, signal_id="s" * 128, trace_id="t" * 64, symbol="S" * 40,
                    strategy="x" * 200, features={"f" * 128: 1.0})
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                                 fees=0.0, trade_id="d" * 128, order_id="o" * 128, ts=T0)
    with pytest.raises(HookError, match="order_id"):
        hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout",
                             order_id="o" * 129, ts=T0 + 1)
    hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout", ts=T0 + 1)
    EVENT_LIST_ADAPTER.validate_python(buf.events)


def test_a_trade_or_shadow_id_the_store_would_dead_letter_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    with pytest.raises(HookError, match="trade_id"):
        hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                             fees=0.0, trade_id="x" * 129, ts=T0)
    blocked = _signal(hook)
    hook.on_gate_decisions(blocked, {**PASSING, "spread": 20.0}, ts=T0)
    with pytest.raises(HookError, match="shadow_id"):
        hook.on_shadow_trade_opened(blocked, size=1.0, shadow_id="x" * 129, ts=T0)
    assert hook.on_shadow_trade_opened(blocked, size=1.0, ts=T0) is not None  # the trace survived the refusal


def test_a_huge_error_is_shortened_not_lost(hook: EngineHook, buf: EventBuffer) -> None:
    def recurse(n: int) -> int:
        return recurse(n + 1)

    try:
        recurse(0)
    except RecursionError as exc:
        hook.on_error("feature_store", exc, message="x" * 10_000 + " the end", ts=T0)
    hook.on_error("c" * 300, "E" * 300, message="m", ts=T0)
    EVENT_LIST_ADAPTER.validate_python(buf.events)  # the writer would not dead-letter them
    err = buf.events[0]["payload"]
    assert err["message"].startswith("xxx") and len(err["message"]) <= 4000
    assert "RecursionError" in err["traceback"][-300:] and len(err["traceback"]) <= 16_000
    long_names = buf.events[1]["payload"]
    assert long_names["component"].startswith("ccc") and long_names["error_type"].startswith("EEE")


@pytest.mark.parametrize(("symbol", "kwargs", "field"), [
    ("S" * 41, {}, "symbol"), ("BTC/USDT", {"regime": "r" * 201}, "regime"),
    ("BTC/USDT", {"trace_id": "t" * 65}, "trace_id"),
])
def test_market_context_the_store_would_dead_letter_is_refused(hook: EngineHook, buf: EventBuffer, symbol: str,
                                                               kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(HookError, match=field):
        hook.on_market_context(symbol, price=1.0, spread_bps=1.0, volatility_bps=1.0, **kwargs)
    assert buf.events == []


def test_a_fill_after_a_threshold_change_records_the_thresholds_the_decision_used(hook: EngineHook,
                                                                                  buf: EventBuffer) -> None:
    before = GatesConfig()
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    hook.update_gates(before.with_threshold("spread", 2.0))  # Mechanic tightens while the order is working
    hook.on_order_filled(trace, price_requested=100.0, price_filled=100.0, size_requested=1.0, size_filled=1.0,
                         fees=0.0, ts=T0 + 1)
    opened = buf.events[-1]["payload"]
    assert opened["thresholds"] == before.thresholds("scalp") and opened["config_hash"] == before.config_hash()


def test_a_shadow_opened_after_its_blocking_gate_was_removed_still_logs(hook: EngineHook, buf: EventBuffer) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, {**PASSING, "spread": 20.0, "regime": 0.1}, ts=T0)
    full = GatesConfig()
    hook.update_gates(full.model_copy(update={"gates": {k: v for k, v in full.gates.items() if k != "spread"}}))
    assert hook.on_shadow_trade_opened(trace, size=1.0, ts=T0) is not None
    opened = buf.events[-1]["payload"]
    assert opened["blocked_by"] == ["spread", "regime"]  # what blocked it when it was decided
    assert [c["gate"] for c in opened["counterfactuals"]] == ["regime"]  # no margin known for a removed gate


def test_steps_the_hook_stamps_itself_never_land_before_the_previous_step(hook: EngineHook,
                                                                           buf: EventBuffer) -> None:
    import time

    ahead = time.time() + 30.0  # a signal stamped by an exchange clock ahead of ours (or ours stepped back)
    trace = _signal(hook, ts=ahead)
    hook.on_gate_decisions(trace, PASSING)  # no ts: the hook stamps it, and must not refuse the engine's call
    trade = hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                                 fees=0.0)
    hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout")
    stamps = [e["ts_event"] for e in buf.events]
    assert stamps == sorted(stamps) and stamps[0] == ahead


def test_a_close_stamped_before_its_open_is_refused(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                                 fees=0.0, ts=T0 + 1)
    with pytest.raises(HookError, match=r"close of trade .* is before the entry fill"):
        hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout", ts=T0)
    assert hook.open_trade_ids == {trade}


def test_threads_sharing_one_hook_keep_every_story_whole() -> None:
    import sys
    import threading

    buf = EventBuffer()
    hook = EngineHook(buf, GatesConfig(), max_pending_traces=8)  # tiny: eviction runs while others insert
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        try:
            for i in range(400):
                trace = _signal(hook, ts=T0 + i)
                if i % 2:
                    continue  # left pending: evicted by the others' signals
                try:
                    hook.on_gate_decisions(trace, PASSING, ts=T0 + i)
                    trade = hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0,
                                                 size_filled=1.0, fees=0.0, ts=T0 + i)
                except HookError as exc:
                    assert "evicted" in str(exc)  # a pending trace may be evicted: said so, nothing else
                    continue
                hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout",
                                     ts=T0 + i + 1)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose unguarded check-then-act
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert hook.open_trade_ids == frozenset()
    EVENT_LIST_ADAPTER.validate_python(buf.events)


def test_a_timestamp_that_is_neither_unix_seconds_nor_a_datetime_is_a_hook_error(hook: EngineHook) -> None:
    with pytest.raises(HookError, match=r"timestamp '2026-01-01' .* unix seconds"):
        _signal(hook, ts="2026-01-01")
    with pytest.raises(HookError, match="timestamp"):
        _signal(hook, feature_ts={"f": "yesterday"}, features={"f": 1.0})


def test_sizes_and_excursions_that_are_not_numbers_are_hook_errors(hook: EngineHook) -> None:
    trace = _signal(hook)
    hook.on_gate_decisions(trace, PASSING, ts=T0)
    with pytest.raises(HookError, match="size_requested must be"):
        hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested="1",  # type: ignore[arg-type]
                             size_filled=1.0, fees=0.0, ts=T0)
    trade = hook.on_order_filled(trace, price_requested=1.0, price_filled=1.0, size_requested=1.0, size_filled=1.0,
                                 fees=0.0, ts=T0)
    with pytest.raises(HookError, match="size_filled must be"):
        hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout",
                             size_filled="1", ts=T0 + 1)  # type: ignore[arg-type]
    with pytest.raises(HookError, match="mfe_bps must be"):
        hook.on_trade_closed(trade, price_requested=1.0, price_filled=1.0, fees=0.0, exit_reason="timeout",
                             mfe_bps=None, ts=T0 + 1)  # type: ignore[arg-type]
    blocked = _signal(hook)
    hook.on_gate_decisions(blocked, {**PASSING, "spread": 20.0}, ts=T0)
    with pytest.raises(HookError, match="size must be"):
        hook.on_shadow_trade_opened(blocked, size=float("nan"), ts=T0)
