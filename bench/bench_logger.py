"""Benchmark the engine-side logger against stdlib logging + QueueHandler, measured in the same run.

Figures (DESIGN.md / issue 2):
  (a) log() of a pre-built event: p50/p99/p99.9 ns per call
  (b) a typed helper that builds and logs a gate decision: p50/p99 ns
  (c) sustained end-to-end events/s (logged -> committed in live.db, every event validated against the schemas)
  (d) event-loop lag p99/max (1 ms ticker) while logging 20,000 events/s, against a no-op producer

Baseline: stdlib `logging` with QueueHandler -> QueueListener -> FileHandler. Ratios < 1 mean
"cheaper than the baseline" for latencies and "slower" for throughput; each line says which.
Run: python bench/bench_logger.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import logging.handlers
import queue
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from observability import EventLogger
from observability.config.observability_config import ObservabilityConfig, QueueConfig
from observability.core import builders


def pct(xs: list[int], p: float) -> float:
    xs = sorted(xs)
    return float(xs[min(len(xs) - 1, int(p / 100 * len(xs)))])


def stdlib_logger(path: Path) -> tuple[logging.Logger, logging.handlers.QueueListener]:
    q: queue.Queue[logging.LogRecord] = queue.Queue()
    fh = logging.FileHandler(path)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    listener = logging.handlers.QueueListener(q, fh)
    lg = logging.getLogger(f"bench-{path.name}")
    lg.handlers[:] = [logging.handlers.QueueHandler(q)]
    lg.propagate = False
    lg.setLevel(logging.INFO)
    listener.start()
    return lg, listener


def time_calls(fn: Callable[[int], Any], n: int, yield_every: int, drain: Callable[[], None]) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        t = clock()
        fn(i)
        out.append(clock() - t)
        if i % yield_every == yield_every - 1:
            drain()
    return out


async def bench_call_latency(tmp: Path, n: int) -> None:
    cfg = ObservabilityConfig(queue=QueueConfig(maxsize=1_000_000))
    lg_std, listener = stdlib_logger(tmp / "std-a.log")
    prebuilt = builders.gate_decision(gate="spread", value=3.1, threshold=5.0, direction="max", symbol="BTC/USDT",
                                      trace_id="t", mode="scalp")
    async with EventLogger(data_dir=tmp / "a", config=cfg) as logger:
        gc.collect()
        ours_a = time_calls(lambda i: logger.log(prebuilt), n, 200, lambda: None)
        await logger.flush(120)
        ours_b = time_calls(
            lambda i: logger.log(builders.gate_decision(
                gate="spread", value=3.1, threshold=5.0, direction="max", symbol="BTC/USDT", trace_id="t",
                mode="scalp", reason="spread within limit")),
            n, 200, lambda: None)
        await logger.flush(120)
    gc.collect()
    std_a = time_calls(lambda i: lg_std.info("gate decision"), n, 200, lambda: time.sleep(0))
    std_b = time_calls(lambda i: lg_std.info("gate=%s value=%s threshold=%s passed=%s symbol=%s trace=%s",
                                             "spread", 3.1, 5.0, True, "BTC/USDT", "t"), n, 200, lambda: time.sleep(0))
    listener.stop()
    for name, ours, std in (("(a) log() pre-built event", ours_a, std_a),
                            ("(b) typed helper gate decision", ours_b, std_b)):
        print(f"{name:34s} ours p50 {pct(ours, 50):7.0f} ns  p99 {pct(ours, 99):7.0f} ns"
              f"  p99.9 {pct(ours, 99.9):7.0f} ns"
              f" | stdlib p50 {pct(std, 50):7.0f} ns  p99 {pct(std, 99):7.0f} ns"
              f" | ratio p50 {pct(ours, 50) / pct(std, 50):.2f}x  p99 {pct(ours, 99) / pct(std, 99):.2f}x"
              " (lower is better)")


async def bench_throughput(tmp: Path, n: int) -> None:
    cfg = ObservabilityConfig(queue=QueueConfig(maxsize=200_000))
    events = [builders.gate_decision(gate="spread", value=float(i % 11), threshold=5.0, direction="max",
                                     symbol="BTC/USDT", trace_id=f"t{i}", mode="scalp") for i in range(n)]
    async with EventLogger(data_dir=tmp / "c", config=cfg) as logger:
        t = time.perf_counter()
        for i, ev in enumerate(events):
            while not logger.log(ev):
                await asyncio.sleep(0.001)
            if i % 256 == 255:
                await asyncio.sleep(0)
        await logger.flush(300)
        ours = n / (time.perf_counter() - t)
    db = sqlite3.connect(tmp / "c" / "sqlite" / "live.db")
    stored = db.execute("SELECT count(*) FROM live_feed WHERE event_type='gate_decision'").fetchone()[0]
    db.close()
    lg_std, listener = stdlib_logger(tmp / "std-c.log")
    t = time.perf_counter()
    for i in range(n):
        lg_std.info("gate=%s value=%s threshold=%s passed=%s symbol=%s trace=%s", "spread", float(i % 11), 5.0,
                    i % 11 <= 5, "BTC/USDT", f"t{i}")
    listener.stop()  # drains the queue and flushes the file
    std = n / (time.perf_counter() - t)
    print(f"(c) sustained end-to-end            ours {ours:9,.0f} events/s (validated, committed: {stored:,}/{n:,})"
          f" | stdlib QueueHandler->FileHandler {std:9,.0f} records/s | ratio {ours / std:.2f}x (higher is better)")


async def lag_run(tmp: Path, seconds: float, rate: int, logger: EventLogger | None) -> list[float]:
    lags: list[float] = []
    stop = time.perf_counter() + seconds

    async def ticker() -> None:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - t - 0.001)

    async def producer() -> None:
        per_tick = rate // 200
        i = 0
        while time.perf_counter() < stop:
            for _ in range(per_tick):
                ev = builders.gate_decision(gate="spread", value=float(i % 11), threshold=5.0, direction="max",
                                            symbol="BTC/USDT", trace_id=f"t{i}", mode="scalp")
                if logger is not None:
                    logger.log(ev)
                i += 1
            await asyncio.sleep(0.005)

    await asyncio.gather(ticker(), producer())
    return lags


async def bench_loop_lag(tmp: Path, seconds: float) -> None:
    noop = await lag_run(tmp, seconds, 20_000, None)
    async with EventLogger(data_dir=tmp / "d", config=ObservabilityConfig()) as logger:
        await asyncio.sleep(3)  # steady state: the writer's maintenance process imports pyarrow/DuckDB at start
        ours = await lag_run(tmp, seconds, 20_000, logger)
        snap = logger.health()
    ms = [x * 1000 for x in ours]
    base = [x * 1000 for x in noop]
    p99, base_p99 = statistics.quantiles(ms, n=100)[98], statistics.quantiles(base, n=100)[98]
    print(f"(d) loop lag at 20,000 events/s     ours p99 {p99:.2f} ms  max {max(ms):.2f} ms"
          f" | no-op producer p99 {base_p99:.2f} ms  max {max(base):.2f} ms | ratio p99 {p99 / base_p99:.2f}x"
          f" (target <= 1.5x, max <= 10 ms; dropped {snap.dropped_total})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    n_calls, n_events, lag_s = (20_000, 50_000, 2.0) if args.quick else (200_000, 400_000, 8.0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-logger-"))
    try:
        await bench_call_latency(tmp, n_calls)
        await bench_throughput(tmp, n_events)
        await bench_loop_lag(tmp, lag_s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
