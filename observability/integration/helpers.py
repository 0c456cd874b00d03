"""Typed one-call helpers: build an event with `observability.core.builders` and log it.

`log_gate_decision(logger, gate=..., value=..., ...)` takes exactly the keyword arguments of
`builders.gate_decision` (the signature is carried through with ParamSpec, so mypy and IDEs
check the call) and returns what `logger.log` returns: False when the event was dropped.
Use these for one-off events; `EngineHook` adds ordering and consistency checks on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from observability.core import builders
from observability.integration.sink import LogSink

P = ParamSpec("P")


def _logging(build: Callable[P, dict[str, Any]], name: str) -> Callable[Concatenate[LogSink, P], bool]:
    def log_event(logger: LogSink, /, *args: P.args, **kwargs: P.kwargs) -> bool:
        return logger.log(build(*args, **kwargs))

    log_event.__name__ = log_event.__qualname__ = name
    log_event.__doc__ = f"Build with `builders.{build.__name__}(...)` and log it; False when dropped."
    return log_event


log_signal = _logging(builders.signal_received, "log_signal")
log_gate_decision = _logging(builders.gate_decision, "log_gate_decision")
log_trade_opened = _logging(builders.trade_opened, "log_trade_opened")
log_trade_closed = _logging(builders.trade_closed, "log_trade_closed")
log_shadow_trade_opened = _logging(builders.shadow_trade_opened, "log_shadow_trade_opened")
log_shadow_trade_closed = _logging(builders.shadow_trade_closed, "log_shadow_trade_closed")
log_market_context = _logging(builders.market_context, "log_market_context")
log_model_updated = _logging(builders.model_updated, "log_model_updated")
log_config_changed = _logging(builders.config_changed, "log_config_changed")
log_error = _logging(builders.error, "log_error")
