"""Huracan Observability: the headless flight recorder the trading engine imports.

The engine needs only this module's public names; everything else is internal. Names are
imported lazily so that readers (the TUI, reports) that import a submodule do not pay for the
logger, and the logger does not pay for analytics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from observability.core.event_logger import EventLogger, SyncEventLogger
    from observability.core.schemas import Event, Severity

__all__ = ["Event", "EventLogger", "Severity", "SyncEventLogger"]

_LOCATIONS = {
    "EventLogger": "observability.core.event_logger",
    "SyncEventLogger": "observability.core.event_logger",
    "Event": "observability.core.schemas",
    "Severity": "observability.core.schemas",
}


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'observability' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
