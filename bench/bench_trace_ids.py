"""History trace timeline with time-ordered vs random trace ids, over copies of one exported dataset.

Why: min/max statistics prune the files a trace lookup scans only when ids are ordered (UUIDv7, the
simulator's); random ids (an engine that makes uuid4s) leave every file a candidate, and only the bloom
filters on trace_id (files.BLOOM_COLUMNS) rule them out. Three copies of the dataset's Parquet files
are written, identical but for trace_id: kept; md5(trace_id) without bloom filters (files written before
them); md5(trace_id) with them (as written now). The copies share the source's live.db (read-only).
Timelines are timed alternating over the copies (median, this process's CPU) beside the same-run
baseline `SELECT count(*) FROM events` of the first copy.

    python bench/bench_analytics.py --events 10000000 --keep /tmp/b10m   # or any exported data dir
    python bench/bench_trace_ids.py --data-dir /tmp/b10m/data
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from observability.analytics.decision_trace import trace_timeline
from observability.analytics.trace_history import history_of, trace_files
from observability.core.io.dataset import list_files, open_target
from observability.core.io.files import EXPORT_WRITE_OPTIONS, ROW_GROUP_ROWS, write_parquet
from observability.core.io.query import QueryLayer
from observability.paths import DataLayout

COPIES = {"time-ordered ids": (False, True), "random ids, no bloom filters": (True, False),
          "random ids, bloom filters": (True, True)}
"""name -> (md5 the ids, write bloom filters)"""


def copy(src: DataLayout, dst: Path, md5: bool, bloom: bool) -> DataLayout:
    """The source's Parquet files rewritten with the exporter's options (row order and row groups kept)."""
    layout = DataLayout(dst).ensure()
    layout.sqlite_dir.rmdir()
    layout.sqlite_dir.symlink_to(src.sqlite_dir.resolve())
    source, target = open_target(src), open_target(layout)
    for marker in Path(source.base).glob("_boxes/*"):
        (Path(target.base) / "_boxes").mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy(marker, Path(target.base) / "_boxes" / marker.name)
    duck = duckdb.connect()
    for f in list_files(source):
        rows = pq.read_table(f.path, partitioning=None)
        ids = duck.sql("SELECT " + ("md5(trace_id)" if md5 else "trace_id") + " AS t FROM rows").to_arrow_table()
        rows = rows.set_column(rows.schema.get_field_index("trace_id"), "trace_id",
                               ids["t"].cast(rows.schema.field("trace_id").type))
        rel = os.path.relpath(f.path, source.base)
        if bloom:
            write_parquet(target, rel, rows, options=EXPORT_WRITE_OPTIONS)
        else:
            Path(target.join(rel)).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            pq.write_table(rows, target.join(rel), row_group_size=ROW_GROUP_ROWS, **EXPORT_WRITE_OPTIONS)
    duck.close()
    return layout


def pick_trace(layout: DataLayout) -> str:
    """A closed trade's trace in the middle of the exported rows (none of its rows still live)."""
    live = sqlite3.connect(f"file:{layout.live_db}?mode=ro", uri=True)
    try:
        ((mark,),) = live.execute("SELECT coalesce(max(exported_seq), 0) FROM export_state").fetchall()
        ((trace,),) = live.execute(
            "SELECT trace_id FROM live_feed WHERE event_type = 'trade_closed' AND seq < ? ORDER BY seq LIMIT 1 "
            "OFFSET (SELECT count(*) / 2 FROM live_feed WHERE event_type = 'trade_closed' AND seq < ?)",
            (mark - 100_000, mark - 100_000)).fetchall()
    finally:
        live.close()
    return str(trace)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="an exported data dir (live.db + Parquet)")
    ap.add_argument("--runs", type=int, default=9, help="timelines per copy (median printed)")
    ap.add_argument("--work", type=Path, default=None, help="keep the copies here instead of a temp dir")
    args = ap.parse_args()
    src = DataLayout(args.data_dir)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-trace-ids-"))
    try:
        started = time.perf_counter()
        layouts = {name: copy(src, work / str(i), md5, bloom) for i, (name, (md5, bloom)) in enumerate(COPIES.items())}
        print(f"three copies written in {time.perf_counter() - started:.0f} s")
        trace = pick_trace(src)
        ids = {name: hashlib.md5(trace.encode()).hexdigest() if COPIES[name][0] else trace for name in COPIES}
        layers = {name: QueryLayer(layout, materialize_trades=False) for name, layout in layouts.items()}
        cons = {name: q.connect() for name, q in layers.items()}
        walls: dict[str, list[float]] = {name: [] for name in COPIES}
        cpus: dict[str, list[float]] = {name: [] for name in COPIES}
        steps = {name: trace_timeline(ids[name], con=cons[name]).trace.steps for name in COPIES}
        assert all([s.summary for s in v] == [s.summary for s in steps[next(iter(COPIES))]] for v in steps.values())
        for _ in range(args.runs):
            for name in COPIES:
                c0, t0 = time.process_time(), time.perf_counter()
                trace_timeline(ids[name], con=cons[name])
                walls[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
        base = []
        first = cons[next(iter(COPIES))]
        for _ in range(5):
            t0 = time.perf_counter()
            first.execute("SELECT count(*) FROM events").fetchall()
            base.append(time.perf_counter() - t0)
        baseline = statistics.median(base)
        print(f"trace {trace} ({len(steps[next(iter(COPIES))])} steps), {args.runs} runs alternating; "
              f"baseline count(*) FROM events {baseline * 1000:.0f} ms")
        for name, con in cons.items():
            history = history_of(con)
            files = sum(len(p.files) for p in history.parts) if history else 0
            scanned = sum(map(len, trace_files(con, history, ids[name]))) if history else files
            wall = statistics.median(walls[name])
            print(f"  {name}: {wall * 1000:.1f} ms median (CPU {statistics.median(cpus[name]) * 1000:.1f} ms; "
                  f"{scanned} of {files} files scanned); ratio {wall / baseline:.2f}x the baseline")
        for q in layers.values():
            q.close()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
