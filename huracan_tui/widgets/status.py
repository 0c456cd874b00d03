"""The one-line header every screen shows: engine status from the health heartbeat, mode, coalescing."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from observability.core.schemas import HealthSnapshot


@dataclass(frozen=True)
class EngineStatus:
    label: str
    style: str
    loud: bool


def engine_status(health: HealthSnapshot | None, now: float, stale_after_s: float, waiting: str = "") -> EngineStatus:
    """alive / STALE (loud) / STOPPED / no heartbeat, from the newest health row and the injected clock."""
    if health is None:
        return EngineStatus(waiting or "NO HEARTBEAT yet", "bold black on yellow", True)
    age = now - health.ts.timestamp()
    if health.status == "stopped":
        return EngineStatus(f"ENGINE STOPPED {_age(age)} ago", "bold white on dark_red", True)
    if age > stale_after_s:
        return EngineStatus(f"ENGINE STALE: no heartbeat for {_age(age)}", "bold white on red", True)
    if not health.writer_alive:
        return EngineStatus("WRITER DOWN", "bold white on red", True)
    style = {"ok": "bold black on green", "degraded": "bold black on yellow"}.get(health.status, "bold white on red")
    return EngineStatus(f"engine alive · {health.status}", style, health.status != "ok")


def _age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class StatusBar(Static):
    """Engine status (loud when stale), source (LIVE / REPLAY), and what the feed had to coalesce."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    def show(self, status: EngineStatus, source: str, coalesced: int, extra: str = "") -> None:
        text = Text()
        text.append(f" {status.label} ", style=status.style)
        text.append(f"  {source}", style="bold")
        if coalesced:
            text.append(f"  coalesced {coalesced:,}", style="yellow")
        if extra:
            text.append(f"  {extra}")
        self.update(text)
