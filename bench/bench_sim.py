"""Benchmark the simulated engine, against baselines measured in the same run.

Figures:
  (a) `generate_events` cost per event (signals, 6 gates, trades, shadows, closes, retrains, tunings,
      all through the real hooks and builders) vs baseline: the bare builder calls for the same
      event mix (1 signal + 6 gate decisions + 1 open + 1 close), i.e. the floor any engine pays
  (b) `run_simulation` through a real EventLogger + writer process at a requested rate:
      achieved events/s and drops vs the requested rate (ratio = achieved / requested)
Run: python bench/bench_sim.py [--events 1000000] [--rate 50000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import time
from pathlib import Path

from observability.core import builders
from observability.sim.generate import generate_events
from observability.sim.runner import run_simulation


def bare_builders(n_events: int) -> float:
    """Seconds to build `n_events` events with builders alone, in the simulator's mix."""
    execution = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.01,
                                   size_requested=1.0, size_filled=1.0, fees=0.02)
    gates = ("spread", "volatility", "liquidity", "model_confidence", "regime", "risk_budget")
    t0 = time.perf_counter()
    for i in range(n_events // 9):
        ts = 1_767_225_600.0 + i
        builders.signal_received(signal_id="s", side="long", confidence=0.6, price=100.0, model_id="m",
                                 symbol="BTC/USDT", trace_id="t", mode="scalp", ts_event=ts)
        for order, gate in enumerate(gates, 1):
            builders.gate_decision(gate=gate, value=1.0, threshold=2.0, direction="max", symbol="BTC/USDT",
                                   trace_id="t", mode="scalp", gate_order=order, signal_id="s", ts_event=ts)
        builders.trade_opened(trade_id="x", side="long", execution=execution, model_id="m", symbol="BTC/USDT",
                              trace_id="t", mode="scalp", ts_event=ts)
        builders.trade_closed(trade_id="x", side="long", entry_price=100.0, exit_price=101.0, size=1.0, fees=0.04,
                              hold_seconds=30.0, exit_reason="timeout", symbol="BTC/USDT", trace_id="t", mode="scalp",
                              exit_execution=execution, ts_event=ts + 30)
    return time.perf_counter() - t0


def simulated(n_events: int) -> tuple[float, int]:
    rate = 20_000.0
    t0 = time.perf_counter()
    n = sum(1 for _ in generate_events(seed=7, sim_seconds=n_events / rate, events_per_second=rate))
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=50_000.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

    gc.collect()
    base_s = bare_builders(args.events)
    sim_s, n = simulated(args.events)
    base_us = base_s / (args.events // 9 * 9) * 1e6
    sim_us = sim_s / n * 1e6
    print(f"(a) generate_events: {sim_us:.2f} µs/event ({n / sim_s:,.0f} events/s over {n:,} events)")
    print(f"    baseline bare builders, same mix: {base_us:.2f} µs/event -> ratio {sim_us / base_us:.2f}x")

    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        summary = asyncio.run(run_simulation(tmp / "data", rate=args.rate, duration=args.seconds))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    achieved = summary.events / summary.elapsed_s
    print(f"(b) run_simulation through EventLogger: {achieved:,.0f} events/s achieved, {summary.dropped:,} dropped, "
          f"{summary.events:,} events in {summary.elapsed_s:.1f} s")
    print(f"    baseline requested rate: {args.rate:,.0f} events/s -> ratio {achieved / args.rate:.2f}")


if __name__ == "__main__":
    main()
