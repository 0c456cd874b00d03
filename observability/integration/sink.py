"""What a hook needs from a logger: `log(event) -> bool` (EventLogger and SyncEventLogger both fit)."""

from __future__ import annotations

from typing import Any, Protocol


class LogSink(Protocol):
    def log(self, event: dict[str, Any]) -> bool: ...
