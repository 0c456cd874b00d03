"""Huracan Observability: the headless flight recorder the trading engine imports.

The engine needs only this module's public names; everything else is internal.
"""

from observability.core.event_logger import EventLogger, SyncEventLogger
from observability.core.schemas import Event, Severity

__all__ = ["Event", "EventLogger", "Severity", "SyncEventLogger"]
