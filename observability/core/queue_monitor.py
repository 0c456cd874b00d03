"""Health evaluation of the logger: status, warnings at 80 %, the kill-switch alert, cooldowns.

The monitor turns a HealthSnapshot into alerts. Each alert has a key (e.g. "queue_fill",
"writer_lag", "drops", "kill_switch", "writer_down"); a key that fired is silent for
`cooldown_seconds` (default 5 min) so a flapping queue cannot spam a phone. Sinks are plain
callables `(key, message) -> None` (Telegram is one, `reporting.telegram_sender.TelegramAlertSink`);
the logger calls them off the event loop, and a failing sink never breaks logging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from observability.config.observability_config import AlertConfig
from observability.core.schemas import HealthSnapshot

AlertSink = Callable[[str, str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    key: str
    severity: str  # WARNING | CRITICAL
    message: str


def evaluate(snapshot: HealthSnapshot, config: AlertConfig, *, drops_per_s: float = 0.0) -> list[Alert]:
    """Every condition that is true now, regardless of cooldown."""
    alerts: list[Alert] = []
    s = snapshot
    if s.kill_switch:
        alerts.append(Alert("kill_switch", "CRITICAL",
                            f"kill switch active: logger queue {s.fill_ratio:.0%} full "
                            f"({s.queue_depth}/{s.queue_maxsize})"))
    elif s.fill_ratio >= config.warn_fill:
        alerts.append(Alert("queue_fill", "WARNING",
                            f"logger queue {s.fill_ratio:.0%} full ({s.queue_depth}/{s.queue_maxsize}); "
                            "DEBUG/INFO events are being shed"))
    if not s.writer_alive:
        alerts.append(Alert("writer_down", "CRITICAL", f"writer process down: {s.writer_error or 'exited'}"))
    elif s.writer_error:
        alerts.append(Alert("writer_error", "CRITICAL", f"writer cannot store events: {s.writer_error}"))
    if s.writer_lag_s >= config.writer_lag_warn_seconds:
        alerts.append(Alert("writer_lag", "WARNING",
                            f"writer lag {s.writer_lag_s:.1f} s ({s.writer_lag_events} events)"))
    if drops_per_s > config.drop_rate_warn_per_s:
        alerts.append(Alert("drops", "WARNING", f"dropping {drops_per_s:.0f} events/s (total {s.dropped_total})"))
    return alerts


def status_of(snapshot: HealthSnapshot, config: AlertConfig) -> str:
    if snapshot.kill_switch or not snapshot.writer_alive or snapshot.writer_error:
        return "critical"
    if snapshot.fill_ratio >= config.warn_fill or snapshot.writer_lag_s >= config.writer_lag_warn_seconds:
        return "degraded"
    return "ok"


class QueueMonitor:
    """Evaluates snapshots and forwards new alerts to sinks, at most once per key per cooldown."""

    def __init__(self, config: AlertConfig, sinks: Sequence[AlertSink] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.sinks = list(sinks)
        self._clock = clock
        self._last_sent: dict[str, float] = {}
        self._last_drops: tuple[float, int] | None = None
        self.suppressed: dict[str, int] = {}

    def check(self, snapshot: HealthSnapshot) -> list[Alert]:
        """Return the alerts that are due now (outside their cooldown) and mark them sent."""
        now = self._clock()
        drops_per_s = 0.0
        if self._last_drops is not None:
            t0, d0 = self._last_drops
            if now > t0:
                drops_per_s = (snapshot.dropped_total - d0) / (now - t0)
        self._last_drops = (now, snapshot.dropped_total)
        due = []
        for alert in evaluate(snapshot, self.config, drops_per_s=drops_per_s):
            last = self._last_sent.get(alert.key)
            if last is not None and now - last < self.config.cooldown_seconds:
                self.suppressed[alert.key] = self.suppressed.get(alert.key, 0) + 1
                continue
            self._last_sent[alert.key] = now
            due.append(alert)
        return due

    def notify(self, alerts: Sequence[Alert]) -> None:
        """Send alerts to every sink; a sink that fails is logged and skipped."""
        for alert in alerts:
            for sink in self.sinks:
                try:
                    sink(alert.key, f"[{alert.severity}] {alert.message}")
                except Exception:  # a broken sink must never break logging
                    log.exception("alert sink %r failed for %s", sink, alert.key)
