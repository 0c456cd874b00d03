"""The engine-side API: hooks for the engine, Hamilton and Mechanic, plus one typed helper per event type."""

from observability.integration.engine_hook import EngineHook, GateVerdict
from observability.integration.errors import HookError, UnknownGateError
from observability.integration.hamilton_hook import HamiltonHook
from observability.integration.helpers import (
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
from observability.integration.mechanic_hook import MechanicHook
from observability.integration.sink import LogSink

__all__ = [
    "EngineHook",
    "GateVerdict",
    "HamiltonHook",
    "HookError",
    "LogSink",
    "MechanicHook",
    "UnknownGateError",
    "log_config_changed",
    "log_error",
    "log_gate_decision",
    "log_market_context",
    "log_model_updated",
    "log_shadow_trade_closed",
    "log_shadow_trade_opened",
    "log_signal",
    "log_trade_closed",
    "log_trade_opened",
]
