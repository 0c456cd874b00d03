"""The typed `log_*` helpers: one per event type, each builds a valid event and logs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from observability.core import builders
from observability.core.schemas import EVENT_ADAPTER
from observability.errors import EventValidationError
from observability.integration import (
    log_config_changed,
    log_error,
    log_gate_decision,
    log_market_context,
    log_model_updated,
    log_shadow_trade_closed,
    log_shadow_trade_opened,
    log_signal,
    log_trade_closed,
    log_trade_opened,
)
from observability.sim.generate import EventBuffer

T = 1_767_225_600.0
EXEC = builders.execution(order_id="o1", side="buy", price_requested=100.0, price_filled=100.1, size_requested=1.0,
                          size_filled=1.0, fees=0.04)
CASES: list[tuple[Callable[..., bool], dict[str, Any]]] = [
    (log_signal, {"signal_id": "s", "side": "long", "confidence": 0.6, "price": 100.0, "model_id": "m",
                  "symbol": "ETH/USDT", "trace_id": "t", "mode": "scalp", "ts_event": T}),
    (log_gate_decision, {"gate": "spread", "value": 3.0, "threshold": 8.0, "direction": "max", "symbol": "ETH/USDT",
                         "trace_id": "t", "ts_event": T}),
    (log_trade_opened, {"trade_id": "x", "side": "long", "execution": EXEC, "model_id": "m", "symbol": "ETH/USDT",
                        "trace_id": "t", "mode": "scalp", "ts_event": T}),
    (log_trade_closed, {"trade_id": "x", "side": "long", "entry_price": 100.1, "exit_price": 101.0, "size": 1.0,
                        "fees": 0.08, "hold_seconds": 30.0, "exit_reason": "take_profit", "symbol": "ETH/USDT",
                        "trace_id": "t", "mode": "scalp", "ts_event": T}),
    (log_shadow_trade_opened, {"shadow_id": "sh", "side": "short", "entry_price": 100.0, "size": 1.0,
                               "blocked_by": ["regime"], "symbol": "ETH/USDT", "trace_id": "t", "mode": "runner"}),
    (log_shadow_trade_closed, {"shadow_id": "sh", "side": "short", "entry_price": 100.0, "exit_price": 99.0,
                               "size": 1.0, "hold_seconds": 5.0, "exit_reason": "timeout", "blocked_by": ["regime"],
                               "symbol": "ETH/USDT", "trace_id": "t", "mode": "runner"}),
    (log_market_context, {"symbol": "ETH/USDT", "price": 100.0, "spread_bps": 2.0, "volatility_bps": 30.0}),
    (log_model_updated, {"model_id": "a" * 64, "metrics": {"auc": 0.6}, "metrics_before": {"auc": 0.58},
                         "parent_model_id": "b" * 64}),
    (log_config_changed, {"key": "risk.max", "old_value": 1, "new_value": 2, "changed_by": "quant"}),
    (log_error, {"component": "ws", "error_type": "Timeout", "message": "late"}),
]


@pytest.mark.parametrize(("helper", "kwargs"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_helper_logs_one_valid_event(helper: Callable[..., bool], kwargs: dict[str, Any]) -> None:
    buf = EventBuffer()
    assert helper(buf, **kwargs) is True
    (event,) = buf.events
    EVENT_ADAPTER.validate_python(event)
    assert helper.__name__.startswith("log_") and "builders." in (helper.__doc__ or "")


def test_a_helper_refuses_bad_input_like_its_builder() -> None:
    with pytest.raises(EventValidationError, match="direction must be 'min' or 'max'"):
        log_gate_decision(EventBuffer(), gate="g", value=1.0, threshold=1.0, direction="up", symbol="X", trace_id="t")
