"""Run the simulator in real time through a real EventLogger (and the registry), in-process or headless.

`run_simulation` paces the simulated clock against the event loop's clock: sim time advances
`speed` simulated seconds per real second and the event density is `rate / speed` per simulated
second, so the logger receives ~`rate` events per real second. Work is done in slices of about
one logger chunk (`writer.chunk_events`) with a yield to the loop between them: each loop turn
then generates about what one drain callback hands to the writer, so the queue stays short
instead of filling in bursts. If the pipeline cannot keep up, the simulated clock falls behind
(and the achieved rate says so) rather than flooding the queue into drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from observability.config.gates_config import GatesConfig
from observability.config.observability_config import ObservabilityConfig
from observability.core.event_logger import CloseReport, EventLogger
from observability.errors import ObservabilityError
from observability.sim.engine import DEFAULT_SYMBOLS, SimSettings, Simulator

_MAX_SLICE_S = 0.02
"""Longest slice of real time simulated without yielding (low rates: one slice per 20 ms)."""
_BACKPRESSURE_FILL = 0.5
"""Above this queue fill the simulator waits: a demo shows what the pipeline sustains, not a flood of drops."""
_BACKPRESSURE_LAG_S = 0.5
"""...and above this much writer lag (events sent but not committed, in seconds of the requested rate,
at least four writer batches): the writer reads the pipe ahead of its commits, so without this a
demo could report a rate the writer only reaches seconds after the end."""
_BACKPRESSURE_WAIT_S = 0.002


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
    """From start to return, including the final drain and close of the logger."""
    sim_seconds: float
    close_report: CloseReport | None
    run_s: float = 0.0
    """Real seconds the simulation ran (before the drain): `events / run_s` is the achieved rate."""

    @property
    def events_per_s(self) -> float:
        return self.events / self.run_s if self.run_s > 0 else 0.0


def _progress(log: EventLogger, sim: Simulator, elapsed: float, rate: float) -> SimProgress:
    health = log.health()
    return SimProgress(sim.events_logged, sim.events_dropped, elapsed, rate, sim.now, sim.open_positions,
                       health.queue_depth, health.fill_ratio, health.writer_alive)


def _behind(log: EventLogger, max_lag: int) -> bool:
    health = log.health()
    return health.fill_ratio > _BACKPRESSURE_FILL or health.writer_lag_events > max_lag


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
    run_s = 0.0
    sim: Simulator | None = None
    try:
        if use_registry:
            from observability.core.registry import Registry

            registry = Registry(log.layout)
        sim = Simulator(log, settings, gates, registry=registry, config_registry=registry)
        last_t, last_n = started, 0
        # One writer chunk per slice (5 ms at 50,000 events/s), and never more than a quarter of the
        # queue: waiting at half full, a slice then cannot push the queue into its dropping tiers.
        slice_events = min(log.config.writer.chunk_events, log.config.queue.maxsize // 4)
        slice_s = min(_MAX_SLICE_S, max(1, slice_events) / rate)
        max_lag = max(4 * log.config.writer.batch_max_events, int(_BACKPRESSURE_LAG_S * rate))

        while True:
            now = loop.time()
            if (duration is not None and now - started >= duration) or (stop is not None and stop.is_set()):
                break
            if on_progress is not None and now - last_t >= progress_every:
                on_progress(_progress(log, sim, now - started, (sim.events_logged - last_n) / (now - last_t)))
                last_t, last_n = now, sim.events_logged
            due = (now - started) * speed - sim.now
            if due < slice_s * speed:
                # Less than a slice is due: wait for a whole one. Simulating whatever bit is due at
                # once would spin the loop in tiny slices, each paying a health check and a loop turn.
                await asyncio.sleep(slice_s - due / speed)
            elif _behind(log, max_lag):
                await asyncio.sleep(_BACKPRESSURE_WAIT_S)  # let the writer catch up: fall behind, do not flood
            else:
                sim.advance(sim.now + slice_s * speed)
                sim_done = sim.now
                await asyncio.sleep(0)
        run_s = loop.time() - started
        if on_progress is not None:  # the final line shows the average over the whole run
            on_progress(_progress(log, sim, run_s, sim.events_logged / max(run_s, 1e-9)))
    finally:
        if own:
            report = await asyncio.shield(log.aclose())
        if registry is not None:
            registry.close()
    events, dropped = (sim.events_logged, sim.events_dropped) if sim is not None else (0, 0)
    return SimSummary(events, dropped, loop.time() - started, sim_done, report, run_s or loop.time() - started)


def collect_rarely() -> None:
    """GC policy for a process that exists to run the simulation (the demo, benchmarks).

    Tens of thousands of live objects (open positions, queued events) make default-threshold
    collections a large share of the CPU, so objects alive now are frozen and collections are rare.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)


def install_stop_handlers(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM (what `huracan-tui --demo` sends) set `stop`: the run ends with everything flushed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
