"""Run the simulator in real time through a real EventLogger (and the registry), in-process or headless.

`run_simulation` paces the simulated clock against the event loop's clock: sim time advances
`speed` simulated seconds per real second and the event density is `rate / speed` per simulated
second, so the logger receives ~`rate` events per real second. Work is done in small slices with
a yield to the loop between them, so the logger's writer feed keeps running; if the generator
cannot keep up, the simulated clock falls behind rather than bursting into the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from observability.config.gates_config import GatesConfig
from observability.config.observability_config import ObservabilityConfig
from observability.core.event_logger import CloseReport, EventLogger
from observability.errors import ObservabilityError
from observability.sim.engine import DEFAULT_SYMBOLS, SimSettings, Simulator

_TICK_S = 0.02
_MAX_SLICE_S = 0.02
_BACKPRESSURE_FILL = 0.5
"""Above this queue fill the simulator waits: a demo shows what the pipeline sustains, not a flood of drops."""


@dataclass(frozen=True, slots=True)
class SimProgress:
    events: int
    dropped: int
    elapsed_s: float
    events_per_s: float
    """Over the last progress interval."""
    sim_seconds: float
    open_positions: int
    queue_depth: int
    fill_ratio: float
    writer_alive: bool


@dataclass(frozen=True, slots=True)
class SimSummary:
    events: int
    dropped: int
    elapsed_s: float
    sim_seconds: float
    close_report: CloseReport | None


class _CountingSink:
    """Forwards to the logger and counts what it accepted and dropped (for the progress line)."""

    def __init__(self, logger: EventLogger) -> None:
        self._log = logger.log
        self.accepted = 0
        self.dropped = 0

    @property
    def total(self) -> int:
        return self.accepted + self.dropped

    def log(self, event: dict[str, Any]) -> bool:
        if self._log(event):
            self.accepted += 1
            return True
        self.dropped += 1
        return False


def _progress(log: EventLogger, sink: _CountingSink, sim: Simulator, elapsed: float, rate: float) -> SimProgress:
    health = log.health()
    return SimProgress(sink.total, sink.dropped, elapsed, rate, sim.now, sim.open_positions, health.queue_depth,
                       health.fill_ratio, health.writer_alive)


def check_sim_arguments(rate: float, speed: float, duration: float | None, symbols: Sequence[str]) -> None:
    """Refuse impossible settings with one-line errors before anything starts."""
    if not 0 < rate <= 1_000_000:
        raise ObservabilityError(f"--rate must be between 0 and 1,000,000 events/s, got {rate}")
    if not 0 < speed <= 100_000:
        raise ObservabilityError(f"--speed must be between 0 and 100,000 simulated seconds per second, got {speed}")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ObservabilityError(
            f"--duration must be a finite number of seconds > 0 (omit it to run until Ctrl-C), got {duration}")
    if not symbols or any(not s.strip() for s in symbols):
        raise ObservabilityError("--symbols needs at least one non-empty symbol, e.g. BTC/USDT,ETH/USDT")


async def run_simulation(
    data_dir: str | Path | None = None,
    *,
    seed: int = 7,
    rate: float = 200.0,
    duration: float | None = None,
    speed: float = 1.0,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    gates: GatesConfig | None = None,
    config: ObservabilityConfig | None = None,
    logger: EventLogger | None = None,
    use_registry: bool = True,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[SimProgress], None] | None = None,
    progress_every: float = 0.25,
) -> SimSummary:
    """Simulate until `duration` real seconds have passed or `stop` is set; flush and close before returning.

    Pass `logger` to log into an already started EventLogger (the caller then owns and closes
    it); otherwise one is created on `data_dir` and closed (drained) here, even on cancellation.
    """
    check_sim_arguments(rate, speed, duration, symbols)
    own = logger is None
    log = logger if logger is not None else EventLogger(data_dir=data_dir, config=config)
    if own:
        await log.start()
    registry = None
    sink = _CountingSink(log)
    # A bounded run faster than real time starts its simulated clock in the past so that it ends at
    # about now: its events never carry future timestamps (windows like "last hour" then see them).
    # An unbounded run at speed > 1 necessarily runs ahead of the wall clock.
    head_start = duration * (speed - 1.0) if duration is not None and speed > 1.0 else 0.0
    settings = SimSettings(seed=seed, events_per_second=rate / speed, symbols=tuple(symbols),
                           start_ts=time.time() - head_start)
    report: CloseReport | None = None
    loop = asyncio.get_running_loop()
    started = loop.time()
    sim_done = 0.0
    try:
        if use_registry:
            from observability.core.registry import Registry

            registry = Registry(log.layout)
        sim = Simulator(sink, settings, gates, registry=registry, config_registry=registry)
        last_t, last_n = started, 0

        def running() -> bool:
            in_time = duration is None or loop.time() - started < duration
            return in_time and (stop is None or not stop.is_set())

        while running():
            target = (loop.time() - started) * speed
            while sim.now < target and running():
                if log.health().fill_ratio > _BACKPRESSURE_FILL:
                    await asyncio.sleep(_TICK_S / 4)  # let the writer catch up: fall behind, do not flood
                    continue
                sim.advance(min(target, sim.now + _MAX_SLICE_S * speed))
                await asyncio.sleep(0)
            sim_done = sim.now
            now = loop.time()
            if on_progress is not None and now - last_t >= progress_every:
                on_progress(_progress(log, sink, sim, now - started, (sink.total - last_n) / (now - last_t)))
                last_t, last_n = now, sink.total
            await asyncio.sleep(_TICK_S)
        if on_progress is not None:  # the final line shows the average over the whole run
            elapsed = loop.time() - started
            on_progress(_progress(log, sink, sim, elapsed, sink.total / max(elapsed, 1e-9)))
    finally:
        if own:
            report = await asyncio.shield(log.aclose())
        if registry is not None:
            registry.close()
    return SimSummary(sink.total, sink.dropped, loop.time() - started, sim_done, report)


def install_stop_handlers(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM (what `huracan-tui --demo` sends) set `stop`: the run ends with everything flushed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
