"""Benchmark the simulated engine, against baselines measured in the same run.

Figures (CPU times, so other load on the box inflates them less than wall times; load average printed):
  (a) engine-side generation cost per event: `generate_events` (signals, 6 gates, trades, shadows,
      closes, retrains, tunings, all through the real hooks and builders), vs two baselines:
      - the bare builder calls for the same event mix (1 signal + 6 gate decisions + 1 open + 1 close),
        i.e. the floor any engine pays to build these events as checked plain dicts;
      - stdlib `logging` of the same events as JSON lines to a file (what a plain engine would pay).
  (b) `run_simulation` through a real EventLogger + writer process + maintenance process at a
      requested rate: achieved events/s vs requested (ratio), and CPU per event in the engine process
      (generation + logger.log + encoding + pipe) vs its 8 µs budget, and in the writer and
      maintenance processes (all processes: 40 µs per event is what 2 cores allow at 50,000/s).
Run: python bench/bench_sim.py [--events 600000] [--rate 50000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from observability.core import builders
from observability.sim.generate import generate_events
from observability.sim.runner import collect_rarely, run_simulation

ENGINE_BUDGET_US = 8.0
ALL_PROCESSES_BUDGET_US = 40.0
GEN_RATE = 20_000.0
"""Event density of the generation figure: the shortened holds of a high rate, as in the demo."""


def bare_builders(n_events: int) -> float:
    """CPU seconds to build `n_events` events with builders alone, in the simulator's mix."""
    execution = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.01,
                                   size_requested=1.0, size_filled=1.0, fees=0.02)
    gates = [("spread", 2.0, "max", 1), ("volatility", 2.0, "max", 2), ("liquidity", 2.0, "min", 3),
             ("model_confidence", 2.0, "min", 4), ("regime", 2.0, "min", 5), ("risk_budget", 2.0, "max", 6)]
    values = dict.fromkeys((g[0] for g in gates), 1.0)
    t0 = time.process_time()
    for i in range(n_events // 9):
        ts = 1_767_225_600.0 + i
        builders.signal_received(signal_id="s", side="long", confidence=0.6, price=100.0, model_id="m",
                                 symbol="BTC/USDT", trace_id="t", mode="scalp", ts_event=ts)
        builders.gate_decisions(gates, values, symbol="BTC/USDT", trace_id="t", mode="scalp", signal_id="s",
                                ts_event=ts)
        builders.trade_opened(trade_id="x", side="long", execution=execution, model_id="m", symbol="BTC/USDT",
                              trace_id="t", mode="scalp", ts_event=ts)
        builders.trade_closed(trade_id="x", side="long", entry_price=100.0, exit_price=101.0, size=1.0, fees=0.04,
                              hold_seconds=30.0, exit_reason="timeout", symbol="BTC/USDT", trace_id="t", mode="scalp",
                              exit_execution=execution, ts_event=ts + 30)
    return time.process_time() - t0


def simulated(n_events: int) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.process_time()
    events = list(generate_events(seed=7, sim_seconds=n_events / GEN_RATE, events_per_second=GEN_RATE))
    return time.process_time() - t0, events


def stdlib_logging(events: list[dict[str, Any]], directory: Path) -> float:
    """CPU seconds to log `events` as JSON lines through a stdlib logger with a file handler."""
    log = logging.getLogger("bench_sim.stdlib")
    log.propagate = False
    handler = logging.FileHandler(directory / "stdlib.log")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    t0 = time.process_time()
    for event in events:
        log.info(json.dumps(event))
    spent = time.process_time() - t0
    log.removeHandler(handler)
    handler.close()
    return spent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=600_000)
    ap.add_argument("--rate", type=float, default=50_000.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    collect_rarely()  # the demo process's GC policy, for every figure alike

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        sim_s, events = simulated(args.events)
        n = len(events)
        base_s = bare_builders(n)
        std_s = stdlib_logging(events, tmp)
        del events
        sim_us, base_us, std_us = sim_s / n * 1e6, base_s / (n // 9 * 9) * 1e6, std_s / n * 1e6
        print(f"(a) generate_events: {sim_us:.2f} µs/event CPU ({n / sim_s:,.0f} events/s on one core, {n:,} events)")
        print(f"    baseline bare builders, same mix: {base_us:.2f} µs/event -> ratio {sim_us / base_us:.2f}x")
        print(f"    baseline stdlib logging of the same events (json.dumps + FileHandler): {std_us:.2f} µs/event "
              f"-> ratio {sim_us / std_us:.2f}x")

        cpu0, children0 = time.process_time(), _children_cpu()
        summary = asyncio.run(run_simulation(tmp / "data", rate=args.rate, duration=args.seconds,
                                             use_registry=False))
        engine_us = (time.process_time() - cpu0) / max(summary.events, 1) * 1e6
        others_us = (_children_cpu() - children0) / max(summary.events, 1) * 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    achieved = summary.events_per_s
    print(f"(b) run_simulation through EventLogger + writer: {achieved:,.0f} events/s achieved, "
          f"{summary.dropped:,} dropped, {summary.events:,} events in {summary.run_s:.1f} s")
    print(f"    baseline requested rate: {args.rate:,.0f} events/s -> ratio {achieved / args.rate:.2f}")
    print(f"    engine process CPU: {engine_us:.2f} µs/event (generation, logger.log, encoding, pipe; "
          f"includes start-up and drain) vs budget {ENGINE_BUDGET_US:.0f} -> ratio {engine_us / ENGINE_BUDGET_US:.2f}")
    print(f"    writer + maintenance CPU: {others_us:.2f} µs/event; all processes {engine_us + others_us:.2f} "
          f"µs/event vs {ALL_PROCESSES_BUDGET_US:.0f} (2 cores at 50,000/s) -> ratio "
          f"{(engine_us + others_us) / ALL_PROCESSES_BUDGET_US:.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
