"""Warm live refreshes on one DuckDB thread (as shipped) against all threads, interleaved in one process.

Why interleaved: this host's speed moves by tens of percent within minutes, and its two cores differ, so two runs
one after the other (or side by side, pinned) cannot tell a 10 % difference. Here two copies of one dataset each
get a query layer and a metrics computer; the same arrivals land in both, and their refreshes alternate (A then B,
then B then A), so each pair meets the same host.
  A: the code as is (`core/io/duck_threads.one_thread` around the trade tables' update and every warm compute)
  B, the baseline: the same code with `one_thread` left out on B's connection (DuckDB's default threads)
Prints CPU and wall time per warm refresh of both, and their ratios.
Run: python bench/bench_refresh_threads.py --keep DIR [--refreshes 20] [--rate 20000]
     (DIR: a dataset `bench_analytics.py --keep DIR` built; it is copied twice, never changed)
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

import observability.analytics.metrics_computer as metrics_computer
import observability.core.io.trade_tables as trade_tables
from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.config.metrics_config import load_metrics_config
from observability.core.ingest import ingest_events
from observability.core.io.duck_threads import one_thread
from observability.core.io.query import QueryLayer
from observability.core.io.spool import SpoolWriter
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim.generate import generate_events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--keep", required=True, help="a dataset built by bench_analytics.py --keep")
    ap.add_argument("--refreshes", type=int, default=20)
    ap.add_argument("--rate", type=int, default=20_000, help="events arriving before each refresh")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    baseline: set[int] = set()

    def shipped_or_not(con: duckdb.DuckDBPyConnection) -> AbstractContextManager[None]:
        return nullcontext() if id(con) in baseline else one_thread(con)

    metrics_computer.one_thread = trade_tables.one_thread = shipped_or_not  # type: ignore[assignment]
    try:
        sides = {}
        for name in ("one thread", "all threads"):
            root = work / name.replace(" ", "_")
            shutil.copytree(args.keep, root)
            layout = DataLayout(root).ensure()
            q = QueryLayer(layout)
            con = q.connect()
            if name == "all threads":
                baseline.add(id(con))
            computer = MetricsComputer(con, load_metrics_config())
            now = datetime.now(UTC)
            computer.compute(Window(label="24h", since=now - timedelta(hours=24), until=now))
            sides[name] = (layout, q, computer, SpoolWriter(layout.export_spool_dir), [], [])
        arrivals = list(generate_events(seed=99, sim_seconds=args.refreshes, events_per_second=args.rate,
                                        start_ts=time.time() - args.refreshes - 1))
        chunk = -(-len(arrivals) // args.refreshes)
        gc.collect()
        gc.freeze()
        for k, i in enumerate(range(0, len(arrivals), chunk)):
            for name in (("one thread", "all threads") if k % 2 == 0 else ("all threads", "one thread")):
                layout, q, computer, spool, cpu, wall = sides[name]
                conn = open_live_db(layout.live_db)
                ingest_events(conn, arrivals[i:i + chunk], spool)
                conn.close()
                c0, t0 = time.process_time(), time.perf_counter()
                q.refresh()
                now = datetime.now(UTC)
                computer.compute(Window(label="24h", since=now - timedelta(hours=24), until=now))
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - t0)
        figures = {name: (statistics.median(s[4]), statistics.median(s[5])) for name, s in sides.items()}
        for name, (cpu_med, wall_med) in figures.items():
            print(f"{name}: warm refresh median {wall_med * 1000:.0f} ms, CPU {cpu_med * 1000:.0f} ms "
                  f"({args.refreshes} refreshes, {chunk:,} new events each)")
        (c1, w1), (c2, w2) = figures["one thread"], figures["all threads"]
        print(f"one thread / all threads (baseline): wall {w1 / w2:.2f}x, CPU {c1 / c2:.2f}x")
        for _, q, _, spool, _, _ in sides.values():
            spool.close()
            q.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
