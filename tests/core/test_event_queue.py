"""The tiered queue and kill switch against a reference model, for any sequence of logs and drains."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from observability.config.observability_config import KillSwitchConfig, QueueConfig, TierConfig
from observability.core import builders
from observability.core.event_queue import EventQueue

SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def ev(severity: str) -> dict[str, Any]:
    return builders.error(component="c", error_type="e", message="m", severity=severity)


class Reference:
    """The specification, written independently of EventQueue: absolute limits and hysteresis."""

    def __init__(self, maxsize: int, tiers: dict[str, float], fire_at: float, reset_below: float) -> None:
        self.limits = {s: int(maxsize * tiers[s]) for s in SEVERITIES[:4]}
        self.fire = max(1, int(maxsize * fire_at))
        self.reset = int(maxsize * reset_below)
        self.depth = 0
        self.active = False
        self.fired = 0
        self.dropped: dict[str, int] = {}
        self.kept_critical = 0

    def log(self, sev: str) -> bool:
        if sev != "CRITICAL" and self.depth >= self.limits[sev]:
            self.dropped[sev] = self.dropped.get(sev, 0) + 1
            if self.depth >= self.fire and not self.active:
                self.active = True
                self.fired += 1
                self.depth += 1
            return False
        self.depth += 1
        if sev == "CRITICAL":
            self.kept_critical += 1
        if self.depth >= self.fire and not self.active:
            self.active = True
            self.fired += 1
            self.depth += 1  # the kill_switch event itself
        return True

    def drain(self, n: int) -> None:
        self.depth -= min(n, self.depth)
        if self.active and self.depth < self.reset:
            self.active = False
            self.depth += 1  # the reset event


ops = st.lists(
    st.one_of(st.tuples(st.just("log"), st.sampled_from(SEVERITIES)),
              st.tuples(st.just("drain"), st.integers(min_value=0, max_value=40))),
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(ops=ops, maxsize=st.integers(min_value=10, max_value=60))
def test_queue_matches_reference_model(ops: list[tuple[str, Any]], maxsize: int) -> None:
    cfg = QueueConfig(maxsize=maxsize, tiers=TierConfig(debug=0.8, info=0.9, warning=1.0, error=1.0),
                      kill_switch=KillSwitchConfig(fire_at=0.95, reset_below=0.5))
    fired: list[dict[str, Any]] = []
    q = EventQueue(cfg, on_fire=fired.append)
    ref = Reference(maxsize, {"DEBUG": 0.8, "INFO": 0.9, "WARNING": 1.0, "ERROR": 1.0}, 0.95, 0.5)
    critical_in = 0
    critical_out = 0
    for op, arg in ops:
        if op == "log":
            assert q.put(ev(arg)) == ref.log(arg)
            critical_in += arg == "CRITICAL"
        else:
            taken = q.take(arg)
            critical_out += sum(1 for item in taken
                                if item[0]["severity"] == "CRITICAL" and item[0]["event_type"] == "error")
            q.handed()
            ref.drain(arg)
        assert q.depth == ref.depth
        assert q.kill_switch_active == ref.active
        assert q.kill_switch_fired_total == ref.fired == len(fired)
        assert q.dropped_by_severity == ref.dropped
        assert "CRITICAL" not in q.dropped_by_severity
    rest = q.take(len(q))
    critical_out += sum(1 for item in rest if item[0]["severity"] == "CRITICAL" and item[0]["event_type"] == "error")
    assert critical_out == critical_in  # CRITICAL is never dropped


def test_critical_is_never_dropped_when_queue_is_full() -> None:
    q = EventQueue(QueueConfig(maxsize=10))
    accepted = [q.put(ev("ERROR")) for _ in range(12)]
    # 9 fit, the 9th fires the kill switch (its CRITICAL event takes the 10th place), the rest drop
    assert accepted == [True] * 9 + [False] * 3
    assert all(q.put(ev("CRITICAL")) for _ in range(100))
    assert q.depth == 110 > q.maxsize
    assert q.dropped_by_severity == {"ERROR": 3}
    assert q.dropped_by_type == {"error": 3}


def test_kill_switch_fires_once_and_records_a_critical_event() -> None:
    fired: list[dict[str, Any]] = []
    q = EventQueue(QueueConfig(maxsize=100), on_fire=fired.append)
    for _ in range(200):
        q.put(ev("ERROR"))
    assert len(fired) == 1 and fired[0]["payload"]["action"] == "fired"
    kinds = [item[0]["event_type"] for item in q.take(len(q))]
    assert kinds.count("kill_switch") == 1


def test_explicit_reset_rearms_the_kill_switch() -> None:
    fired: list[dict[str, Any]] = []
    q = EventQueue(QueueConfig(maxsize=20), on_fire=fired.append)
    for _ in range(20):
        q.put(ev("ERROR"))
    assert q.kill_switch_active
    q.reset_kill_switch()
    assert not q.kill_switch_active
    q.take(len(q))
    q.handed()
    for _ in range(20):
        q.put(ev("ERROR"))
    assert len(fired) == 2
