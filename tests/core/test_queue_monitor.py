"""Health evaluation and alert cooldowns, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime

from observability.config.observability_config import AlertConfig
from observability.core.queue_monitor import QueueMonitor, evaluate, status_of
from observability.core.schemas import HealthSnapshot


def snap(**kw: object) -> HealthSnapshot:
    base: dict[str, object] = dict(ts=datetime.now(UTC), status="ok", queue_depth=0, queue_maxsize=100,
                                   fill_ratio=0.0, accepted_total=0, dropped_total=0)
    base.update(kw)
    return HealthSnapshot.model_validate(base)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_warning_at_80_percent_and_kill_switch_alert_at_95() -> None:
    cfg = AlertConfig()
    assert [a.key for a in evaluate(snap(fill_ratio=0.79, queue_depth=79), cfg)] == []
    assert [a.key for a in evaluate(snap(fill_ratio=0.80, queue_depth=80), cfg)] == ["queue_fill"]
    ks = evaluate(snap(fill_ratio=0.96, queue_depth=96, kill_switch=True), cfg)
    assert [(a.key, a.severity) for a in ks] == [("kill_switch", "CRITICAL")]
    assert status_of(snap(fill_ratio=0.85), cfg) == "degraded"
    assert status_of(snap(kill_switch=True), cfg) == "critical"
    assert status_of(snap(writer_alive=False), cfg) == "critical"


def test_a_flapping_queue_alerts_once_per_cooldown() -> None:
    clock = Clock()
    sent: list[tuple[str, str]] = []
    mon = QueueMonitor(AlertConfig(cooldown_seconds=300), sinks=[lambda k, m: sent.append((k, m))], clock=clock)
    for i in range(100):  # flaps between 85 % and 10 % every second for 100 s
        clock.t += 1
        mon.notify(mon.check(snap(fill_ratio=0.85 if i % 2 else 0.10, queue_depth=85)))
    assert [k for k, _ in sent] == ["queue_fill"]
    assert mon.suppressed["queue_fill"] == 49
    clock.t += 300
    mon.notify(mon.check(snap(fill_ratio=0.85, queue_depth=85)))
    assert [k for k, _ in sent] == ["queue_fill", "queue_fill"]


def test_drop_rate_and_writer_lag_alerts() -> None:
    clock = Clock()
    mon = QueueMonitor(AlertConfig(drop_rate_warn_per_s=10, writer_lag_warn_seconds=2), clock=clock)
    assert mon.check(snap(dropped_total=0)) == []
    clock.t += 1
    keys = {a.key for a in mon.check(snap(dropped_total=500, writer_lag_s=3.0, writer_lag_events=9000))}
    assert keys == {"drops", "writer_lag"}


def test_a_failing_sink_never_breaks_the_others() -> None:
    got: list[str] = []

    def broken(key: str, message: str) -> None:
        raise RuntimeError("telegram down")

    mon = QueueMonitor(AlertConfig(), sinks=[broken, lambda k, m: got.append(k)])
    mon.notify(mon.check(snap(writer_alive=False, writer_error="exited")))
    assert got == ["writer_down"]
