"""Benchmark analytics on a large simulated dataset, against baselines measured in the same run.

Figures (issue 6 targets: full 24 h metrics refresh over 10 M events <= 1 s; one trace <= 50 ms):
  (a) full metrics refresh (every metric of configs/metrics.yaml, all scopes, 24 h window)
      vs baseline: one `SELECT count(*) FROM events` over the same window on the same connection
  (b) one trace timeline (live.db, with market context) vs baseline: the bare indexed
      `SELECT * FROM live_feed WHERE trace_id = ?` that any timeline needs; and the same trace from the
      history (the query layer, where a trace pruned from live.db is read) vs the count(*) baseline
  (c) gate summaries + one counterfactual sweep, vs the same count(*) baseline
  (d) warm refresh: --rate new events (default 20k, one second of arrivals) land in live.db, then query
      layer refresh + the same full metrics refresh on the same computer (the TUI's steady state), vs the
      same count(*) baseline and the cold figure
Data: `observability.sim.generate_events` over ~23 simulated hours, ingested into live.db and
exported to Parquet (the query layer then reads Parquet, as in production). `--copies K` writes K-1 more
copies of the exported Parquet with shifted seq/ids and timestamps moved back by k * 0.25 s, so every copy
stays inside the 24 h window: generating 10 M events through the simulator takes most of an hour here.
Run: python bench/bench_analytics.py [--events 1000000] [--copies 1] [--keep DIR]
     (10 M events in the window: --events 1000000 --copies 10)
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from observability.analytics.decision_trace import trace_timeline
from observability.analytics.gate_counterfactuals import counterfactual_sweep
from observability.analytics.gate_explainer import GateExplainer
from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.trace_history import history_of, trace_files
from observability.analytics.windows import Window
from observability.config.metrics_config import load_metrics_config
from observability.core.ingest import ingest_events
from observability.core.io.columns import FILE_SCHEMA
from observability.core.io.dataset import file_name, list_files, open_target, partition_path
from observability.core.io.exporter import export_once
from observability.core.io.files import write_parquet
from observability.core.io.query import QueryLayer
from observability.core.io.spool import SpoolWriter
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim.generate import generate_events

SIM_SECONDS = 23 * 3600.0


class StageTimer:
    """`--stages`: stands in for the query layer's DuckDB connection and sums each statement's CPU time (all
    threads) per stage, the innermost `observability` function that ran it; `take()` returns and resets them.
    Why: a slow refresh's excess is then seen where it is (it was a DuckDB checkpoint in one statement, once)."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.stages: dict[str, list[float]] = {}

    def _timed(self, run: Callable[[], Any]) -> Any:
        frame = sys._getframe(2)
        while frame.f_back is not None and not frame.f_globals.get("__name__", "").startswith("observability"):
            frame = frame.f_back
        stage = f"{frame.f_globals.get('__name__', '?').rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        c0 = time.process_time()
        result = run()
        total = self.stages.setdefault(stage, [0.0, 0])
        total[0] += time.process_time() - c0
        total[1] += 1
        return result

    def execute(self, query: str, parameters: Any = None) -> Any:
        return self._timed(lambda: self._con.execute(query, parameters))

    def sql(self, query: str, params: Any = None) -> Any:
        return self._timed(lambda: self._con.sql(query, params=params))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def take(self, top: int = 8) -> str:
        ranked = sorted(self.stages.items(), key=lambda kv: -kv[1][0])
        self.stages = {}
        return ", ".join(f"{name} {cpu * 1000:.0f} ms/{n}" for name, (cpu, n) in ranked[:top])


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` runs (after one warm-up) and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def build(layout: DataLayout, n_events: int) -> tuple[int, float]:
    """Stream events (ending about now) into live.db, then export them to Parquet."""
    conn = open_live_db(layout.live_db)
    t0 = time.perf_counter()
    total = 0
    batch: list[dict[str, Any]] = []
    for event in generate_events(seed=11, sim_seconds=SIM_SECONDS, events_per_second=n_events / SIM_SECONDS,
                                 settle=True, start_ts=time.time() - SIM_SECONDS - 60):
        batch.append(event)
        if len(batch) >= 50_000:
            total += ingest_events(conn, batch)[0]
            batch = []
    total += ingest_events(conn, batch)[0] if batch else 0
    conn.close()
    export_once(layout)
    return total, time.perf_counter() - t0


def replicate(layout: DataLayout, copies: int) -> int:
    """Write copies 1..copies-1 of the exported rows (seq + k * span, ids prefixed, timestamps k * 0.25 s
    earlier), then move live.db's seq and export watermark above them; returns the rows now exported."""
    target = open_target(layout)
    files = list_files(target)
    day = pa.concat_tables(pq.read_table(f.path, partitioning=None) for f in files).sort_by("seq")
    span = int(day["seq"][-1].as_py())
    for k in range(1, copies):
        shifted = day.set_column(0, "seq", pc.add(day["seq"], k * span))
        for name in ("ts_event", "ts_logged", "ts_stored"):
            i = FILE_SCHEMA.get_field_index(name)
            col = pc.subtract(shifted[name].cast(pa.int64()), k * 250_000).cast(FILE_SCHEMA.field(name).type)
            shifted = shifted.set_column(i, name, col)
        for name in ("event_id", "trace_id", "trade_id", "shadow_id", "signal_id"):
            i = FILE_SCHEMA.get_field_index(name)
            shifted = shifted.set_column(i, name, pc.binary_join_element_wise(f"{k:04d}", day[name], "-"))
        keyed = shifted.append_column("date", pc.cast(shifted["ts_event"], pa.date32()))
        for key in keyed.select(["date", "symbol"]).group_by(["date", "symbol"]).aggregate([]).to_pylist():
            sym = pc.is_null(keyed["symbol"]) if key["symbol"] is None else pc.equal(keyed["symbol"], key["symbol"])
            part = keyed.filter(pc.and_(pc.equal(keyed["date"], key["date"]), sym)).drop_columns(["date"])
            lo, hi = int(part["seq"][0].as_py()), int(part["seq"][-1].as_py())
            write_parquet(target, f"{partition_path(key['date'], key['symbol'])}/{file_name(lo, hi)}", part)
    top = copies * span
    conn = open_live_db(layout.live_db)
    with conn:
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'live_feed'", (top,))
        conn.execute("UPDATE export_state SET exported_seq = ?", (top,))
    conn.close()
    return copies * int(day.num_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--copies", type=int, default=1, help="replicate the exported data K times in the window")
    ap.add_argument("--rate", type=int, default=20_000, help="events arriving per second in (d)")
    ap.add_argument("--refreshes", type=int, default=5, help="warm refreshes measured in (d), one per second")
    ap.add_argument("--keep", default=None, help="build (or reuse) the dataset in this directory")
    ap.add_argument("--stages", action="store_true", help="print each warm refresh's CPU per stage (statements)")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    layout = DataLayout(root).ensure()
    try:
        if not layout.live_db.exists():
            n, secs = build(layout, args.events)
            print(f"dataset: {n:,} events generated, ingested and exported in {secs:.1f} s ({root})")
            if args.copies > 1:
                t0 = time.perf_counter()
                n = replicate(layout, args.copies)
                print(f"replicated x{args.copies} inside the window: {n:,} events in Parquet "
                      f"({time.perf_counter() - t0:.1f} s)")
        else:
            export_once(layout)  # a kept dataset: earlier runs' (d) arrivals go to Parquet, as the exporter would
        live = sqlite3.connect(f"file:{layout.live_db}?mode=ro", uri=True)
        # A trade from the middle of the stored day (not one of (d)'s bursts kept from an earlier run).
        trace = live.execute("SELECT trace_id FROM live_feed WHERE event_type = 'trade_closed' ORDER BY seq "
                             "LIMIT 1 OFFSET (SELECT count(*) / 2 FROM live_feed WHERE event_type = 'trade_closed')"
                             ).fetchone()[0]
        # The window ends now, as the TUI's does (the simulator's settled closes lie a little in the future).
        until = datetime.now(UTC)
        window = Window(label="24h", since=until - timedelta(hours=24), until=until)
        since_sql, until_sql = window.sql_bounds()
        q = QueryLayer(layout)
        t0 = time.perf_counter()
        con = q.connect()
        print(f"query layer connect (list Parquet, read live rows above the watermark): "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        ((n,),) = con.execute(f"SELECT count(*) FROM events WHERE ts_event >= {since_sql}").fetchall()
        print(f"events in the window: {n:,}; window {window.since:%Y-%m-%d %H:%M} -> {window.until:%H:%M} UTC")
        cfg = load_metrics_config()
        timer = None
        if args.stages:  # every later statement of the query layer and the computers goes through the timer
            timer = StageTimer(con)
            q._con = con = timer  # type: ignore[assignment]
        computer = MetricsComputer(con, cfg)

        base, _ = timed(lambda: con.execute(f"SELECT count(*) FROM events WHERE ts_event >= {since_sql} "
                                            f"AND ts_event < {until_sql}").fetchone(), 5)
        full, report = timed(lambda: MetricsComputer(con, cfg).compute(window), 3)
        print(f"(a) full metrics refresh (cold: a new computer copies the window): {full * 1000:.0f} ms for "
              f"{len(report.values)} values "
              f"({len(cfg.metrics)} metrics, {report.queries} queries); baseline count(*) over the window "
              f"{base * 1000:.0f} ms; ratio {full / base:.1f}x")
        # (d) the steady state: ~`--rate` events arrive per second and the view refreshes once a second.
        computer.compute(window)
        arrivals = list(generate_events(seed=99, sim_seconds=args.refreshes, events_per_second=args.rate,
                                        start_ts=time.time() - args.refreshes - 1))
        chunk = -(-len(arrivals) // args.refreshes)
        # The arrivals are ~0.4 M Python objects a TUI does not hold: each full GC in a refresh traversed them
        # (~0.2 s, a third of the slow refreshes' excess). Frozen, GC skips them; pauses are timed below.
        gc.collect()
        gc.freeze()
        pauses: list[float] = []

        def gc_pause(phase: str, _: dict[str, int]) -> None:
            pauses.append(time.perf_counter() * (1 if phase == "stop" else -1))
        gc.callbacks.append(gc_pause)
        if timer is not None:
            timer.take()
        load_before = os.getloadavg()[0]
        warm, layer, cpu = [], [], []
        spool = SpoolWriter(layout.export_spool_dir)  # as the writer process does for each commit
        for i in range(0, len(arrivals), chunk):
            conn = open_live_db(layout.live_db)
            ingest_events(conn, arrivals[i:i + chunk], spool)
            conn.close()
            pauses.clear()
            c0 = time.process_time()
            t0 = time.perf_counter()
            q.refresh()
            t1 = time.perf_counter()
            now = datetime.now(UTC)
            computer.compute(Window(label="24h", since=now - timedelta(hours=24), until=now))
            warm.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            layer.append(t1 - t0)
            paused = sum(pauses)
            print(f"    refresh {len(warm)}: {warm[-1] * 1000:.0f} ms (query layer {layer[-1] * 1000:.0f} ms, metrics "
                  f"{(warm[-1] - layer[-1]) * 1000:.0f} ms, GC {paused * 1000:.0f} ms); CPU {cpu[-1] * 1000:.0f} ms")
            if timer is not None:
                print(f"      statements' CPU by stage: {timer.take()}")
        spool.close()
        gc.callbacks.remove(gc_pause)
        base_warm, _ = timed(lambda: con.execute(f"SELECT count(*) FROM events WHERE ts_event >= {since_sql}")
                             .fetchone(), 5)
        modes = "/".join(f"{k}={v}" for k, v in sorted(computer.cache.last.items()))
        print(f"    load average during (d): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (2 cores; "
              "other processes slow every figure here, the baseline's ratio less so)")
        print(f"(d) full metrics refresh (warm, live): median {statistics.median(warm) * 1000:.0f} ms "
              f"(max {max(warm) * 1000:.0f} ms) over {len(warm)} refreshes, each after {chunk:,} new events "
              f"(query layer refresh + metrics; {modes}); baseline count(*) over the window "
              f"{base_warm * 1000:.0f} ms; ratio {statistics.median(warm) / base_warm:.1f}x; "
              f"{statistics.median(warm) / full:.2f}x of the cold refresh")
        metrics_only = statistics.median(w - lq for w, lq in zip(warm, layer, strict=True))
        print(f"    of which query layer refresh (new live rows, trade tables): median "
              f"{statistics.median(layer) * 1000:.0f} ms; metrics compute: median {metrics_only * 1000:.0f} ms, "
              f"ratio {metrics_only / base_warm:.1f}x of the baseline")
        print(f"    CPU time per warm refresh (this process, all threads; steadier than wall time on a shared box): "
              f"median {statistics.median(cpu) * 1000:.0f} ms")
        if len(cpu) >= 6:  # the stream starts with no open trade: the trades closing each refresh grow for a while
            third = len(cpu) // 3
            print(f"    CPU per warm refresh, first / last third of the stream: median "
                  f"{statistics.median(cpu[:third]) * 1000:.0f} / {statistics.median(cpu[-third:]) * 1000:.0f} ms "
                  "(a refresh must not grow as the trades the stream opened start closing)")

        raw, _ = timed(lambda: live.execute("SELECT * FROM live_feed WHERE trace_id = ?", (trace,)).fetchall(), 20)
        tl, timeline = timed(lambda: trace_timeline(trace, layout=layout), 20)
        print(f"(b) trace timeline ({len(timeline.trace.steps)} steps, market context each): {tl * 1000:.2f} ms; "
              f"baseline indexed trace_id select {raw * 1000:.2f} ms; ratio {tl / raw:.1f}x")
        old, history = timed(lambda: trace_timeline(trace, con=con), 9)  # a trace pruned from live.db
        c0 = time.process_time()
        trace_timeline(trace, con=con)
        cpu_tl = time.process_time() - c0
        source = history_of(con)
        files = [f for p in source.parts for f in p.files] if source else []
        # min/max statistics rule most files out for time-ordered ids (ours, UUIDv7), bloom filters for random ones
        scanned = f"{sum(map(len, trace_files(con, source, trace)))} of {len(files)} files" if source else "the views"
        print(f"    the same trace from the history (query layer, as after live.db's hot window): {old * 1000:.0f} ms "
              f"({history.source}; CPU {cpu_tl * 1000:.0f} ms; lean trace_id scan of {scanned}); "
              f"baseline count(*) {base_warm * 1000:.0f} ms; ratio {old / base_warm:.1f}x")

        ex = GateExplainer(con)
        gs, summaries = timed(lambda: ex.summaries(window), 3)
        gate = summaries[0].gate
        sw, _ = timed(lambda: counterfactual_sweep(con, gate, window), 3)
        print(f"(c) gate summaries {gs * 1000:.0f} ms ({len(summaries)} gates), counterfactual sweep of {gate} "
              f"{sw * 1000:.0f} ms; ratios {gs / base:.1f}x, {sw / base:.1f}x of the count(*) baseline")
        live.close()
        q.close()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
