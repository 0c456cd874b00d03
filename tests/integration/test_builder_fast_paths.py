"""The builders' inline fast paths accept and refuse exactly what their checking helpers do.

The hot builders test `type(x) is float and 0.0 < x < inf` inline and hand anything else to the
helpers; these tests pin that every other kind of number is still converted (ints, numpy
scalars) and every bad value still refused with the field's name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from observability.core import builders
from observability.core.schemas import parse_event
from observability.errors import EventValidationError

TS = 1_767_225_600.0
EXECUTION: dict[str, Any] = dict(order_id="o", side="buy", price_requested=100.0, price_filled=100.01,
                                 size_requested=1.0, size_filled=1.0, fees=0.02, latency_ms=5.0)
CASES: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, Any], dict[str, str]]] = {
    # builder, valid keyword arguments, {numeric field: "positive" | "non_negative" | "finite"}
    "signal_received": (builders.signal_received, dict(
        signal_id="s", side="long", confidence=0.6, price=100.0, model_id="m", symbol="BTC/USDT", trace_id="t",
        mode="scalp", ts_event=TS), {"price": "positive"}),
    "execution": (builders.execution, EXECUTION, {
        "price_requested": "positive", "price_filled": "positive", "size_requested": "positive",
        "size_filled": "non_negative", "fees": "non_negative", "latency_ms": "non_negative"}),
    "trade_closed": (builders.trade_closed, dict(
        trade_id="x", side="long", entry_price=100.0, exit_price=101.0, size=1.0, fees=0.04, hold_seconds=30.0,
        exit_reason="timeout", symbol="BTC/USDT", trace_id="t", mode="scalp", mfe_bps=3.0, mae_bps=-1.0,
        ts_event=TS), {"entry_price": "positive", "exit_price": "positive", "size": "positive",
                       "fees": "non_negative", "hold_seconds": "non_negative", "mfe_bps": "finite",
                       "mae_bps": "finite"}),
    "shadow_trade_opened": (builders.shadow_trade_opened, dict(
        shadow_id="x", side="short", entry_price=100.0, size=1.0, blocked_by=["spread"], symbol="BTC/USDT",
        trace_id="t", mode="runner", ts_event=TS), {"entry_price": "positive", "size": "positive"}),
    "shadow_trade_closed": (builders.shadow_trade_closed, dict(
        shadow_id="x", side="short", entry_price=100.0, exit_price=99.0, size=1.0, hold_seconds=30.0,
        exit_reason="take_profit", blocked_by=["spread"], symbol="BTC/USDT", trace_id="t", mode="runner",
        fees=0.04, mfe_bps=3.0, mae_bps=-1.0, ts_event=TS), {
        "entry_price": "positive", "exit_price": "positive", "size": "positive", "fees": "non_negative",
        "hold_seconds": "non_negative", "mfe_bps": "finite", "mae_bps": "finite"}),
}
BAD: dict[str, list[Any]] = {
    "finite": [math.nan, math.inf, -math.inf, True, "1.0", None],
    "non_negative": [math.nan, math.inf, -0.5, True, "1.0"],
    "positive": [math.nan, math.inf, 0.0, -1.0, True, "1.0", None],
}
FIELD_CASES = [(name, field, kind) for name, (_, _, fields) in CASES.items() for field, kind in fields.items()]


def _payload(built: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = built.get("payload", built)
    return payload


@pytest.mark.parametrize(("name", "field", "kind"), FIELD_CASES)
def test_a_bad_number_is_refused_naming_its_field(name: str, field: str, kind: str) -> None:
    build, kwargs, _ = CASES[name]
    for bad in BAD[kind]:
        with pytest.raises(EventValidationError, match=field):
            build(**{**kwargs, field: bad})


@pytest.mark.parametrize(("name", "field", "kind"), FIELD_CASES)
def test_ints_and_numpy_scalars_become_plain_floats(name: str, field: str, kind: str) -> None:
    build, kwargs, _ = CASES[name]
    expected = _payload(build(**{**kwargs, field: 2.0}))
    for good in (2, np.float32(2.0), np.int64(2), np.float64(2.0)):
        payload = _payload(build(**{**kwargs, field: good}))
        assert payload == expected  # fields derived from it (P&L from fees) too
        assert field not in payload or type(payload[field]) is float


@pytest.mark.parametrize("name", [n for n in CASES if n != "execution"])
def test_every_fast_built_event_validates(name: str) -> None:
    build, kwargs, _ = CASES[name]
    parse_event(build(**kwargs))


def test_a_nan_confidence_is_not_a_number_rather_than_out_of_range() -> None:
    _, kwargs, _ = CASES["signal_received"]
    with pytest.raises(EventValidationError, match="confidence must be a finite number"):
        builders.signal_received(**{**kwargs, "confidence": math.nan})
    with pytest.raises(EventValidationError, match=r"confidence must be within \[0, 1\]"):
        builders.signal_received(**{**kwargs, "confidence": 1.5})


@pytest.mark.parametrize(("field", "bad"), [("side", "flat"), ("exit_reason", "bored"), ("mode", "swing")])
def test_a_bad_choice_is_refused_naming_its_field(field: str, bad: str) -> None:
    _, kwargs, _ = CASES["trade_closed"]
    with pytest.raises(EventValidationError, match=f"{field} must be one of"):
        builders.trade_closed(**{**kwargs, field: bad})


def test_gate_decisions_build_what_gate_decision_builds_one_by_one() -> None:
    gates = [("spread", 8.0, "max", 1), ("liquidity", 250_000.0, "min", 2)]
    values = {"spread": 9.5, "liquidity": 300_000}
    batch = builders.gate_decisions(gates, values, symbol="BTC/USDT", trace_id="t", mode="scalp", signal_id="s",
                                    reasons={"spread": "wide"}, ts_event=TS)
    single = [builders.gate_decision(gate=g, value=values[g], threshold=t, direction=d, gate_order=o,
                                     reason="wide" if g == "spread" else "", symbol="BTC/USDT", trace_id="t",
                                     mode="scalp", signal_id="s", ts_event=TS) for g, t, d, o in gates]
    assert [{**e, "event_id": ""} for e in batch] == [{**e, "event_id": ""} for e in single]
    assert len({e["event_id"] for e in batch}) == 2
    assert [e["payload"]["passed"] for e in batch] == [False, True]
    for event in batch:
        parse_event(event)


def test_gate_decisions_without_a_value_for_a_gate_name_it() -> None:
    with pytest.raises(EventValidationError, match="no value for gate 'spread'"):
        builders.gate_decisions([("spread", 8.0, "max", 1)], {}, symbol="BTC/USDT", trace_id="t", ts_event=TS)
