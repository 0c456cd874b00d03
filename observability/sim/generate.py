"""`generate_events`: the simulator as a pure iterator of wire dicts with simulated timestamps.

Used by benchmarks (millions of events, no logger in the way) and by tests. The events are
exactly what the hooks would hand a logger, in the order they would hand them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from observability.config.gates_config import GatesConfig
from observability.integration.registry_protocol import ConfigRegistry, ModelRegistry
from observability.sim.engine import DEFAULT_START_TS, DEFAULT_SYMBOLS, SimSettings, Simulator


class EventBuffer:
    """A LogSink that keeps events in a list until they are taken (the generator's logger)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def log(self, event: dict[str, Any]) -> bool:
        self.events.append(event)
        return True

    def take(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out


def generate_events(
    seed: int = 7,
    sim_seconds: float = 60.0,
    *,
    events_per_second: float = 200.0,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    gates: GatesConfig | None = None,
    start_ts: float = DEFAULT_START_TS,
    settle: bool = False,
    registry: ModelRegistry | None = None,
    config_registry: ConfigRegistry | None = None,
    retrain_every: float = 120.0,
    tune_every: float = 60.0,
    error_every: float = 45.0,
) -> Iterator[dict[str, Any]]:
    """Yield the events of `sim_seconds` simulated seconds at ~`events_per_second` per simulated second.

    `settle=True` then closes every open trade and shadow trade at its planned time, so every
    trace ends. `retrain_every`, `tune_every` and `error_every` are simulated seconds (0 disables).
    """
    buffer = EventBuffer()
    sim = Simulator(
        buffer,
        SimSettings(seed=seed, events_per_second=events_per_second, symbols=tuple(symbols), start_ts=start_ts,
                    retrain_every=retrain_every, tune_every=tune_every, error_every=error_every),
        gates, registry=registry, config_registry=config_registry,
    )
    t = 0.0
    while t < sim_seconds:
        t = min(sim_seconds, t + 1.0)
        sim.advance(t)
        yield from buffer.take()
    if settle:
        sim.settle()
        yield from buffer.take()
