"""Benchmark huracan-tui against baselines measured in the same run (issue 7 targets in brackets).

  (a) event written -> visible on screen, p50/p95, at 10,000 events/s            [p95 <= 250 ms]
      writer: a separate process committing 100 events every 10 ms to live.db (ts_event = commit time);
      "visible" = the rows were handed to the visible feed widget (the next frame paints them).
      baseline: a plain sqlite tail loop (`seq > last` every 100 ms) in this process.
  (b) idle CPU over 10 s with the engine stopped                                  [<= 2 % of a core]
      baseline: the same plain sqlite tail loop at 10 Hz.
  (c) startup to first full paint in a real terminal (tmux): process start until the overview shows the
      feed, the gate board and the model panel                                    [<= 1.5 s]
      baseline: `python -c "import textual.app"` (interpreter + Textual import) in the same terminal.
  (d) RSS after 1,000,000 events streamed through the running app                [<= 200 MB]
      baseline: RSS of this process before the app starts (interpreter + Textual + our imports loaded).
Run: python bench/bench_tui.py [--seconds 10] [--million 1000000]
Machine: the figures in the README were taken on the shared 2-core box of this project.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from huracan_tui.app import HuracanApp
from huracan_tui.settings import TuiSettings
from observability.core.live_store import INSERT_EVENT_SQL, open_live_db
from observability.paths import DataLayout

_PAYLOAD = orjson.dumps({"gate": "spread", "passed": True, "value": 5.0, "threshold": 8.0, "direction": "max",
                         "margin": 3.0, "reason": "", "gate_order": 0, "signal_id": None}).decode()


def _writer(db: str, rate: int, seconds: float, start_id: int, stop_after: int | None = None) -> None:
    """Commit `rate` events/s in batches every 10 ms; ts_event = the time the batch is committed."""
    conn = open_live_db(Path(db))
    per_batch = max(1, rate // 100)
    n = start_id
    t_end = time.time() + seconds
    next_at = time.time()
    while time.time() < t_end and (stop_after is None or n - start_id < stop_after):
        now_us = int(time.time() * 1e6)
        rows = [(f"bench-{n + i:012d}", 1, "INFO", now_us, now_us, "engine", "BTCUSDT", "scalp", f"t{n + i}",
                 "gate_decision", _PAYLOAD, now_us) for i in range(per_batch)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_EVENT_SQL, rows)
        conn.execute("COMMIT")
        n += per_batch
        next_at += 0.01
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
    conn.close()


class _Writer:
    """The writer as a separate process (like the engine's writer), started as `bench_tui.py --writer ...`."""

    def __init__(self, db: Path, rate: int, seconds: float, stop_after: int | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--writer", str(db), str(rate), str(seconds),
                                      str(stop_after or 0)])

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def join(self) -> None:
        self.proc.wait()


def _start_writer(db: Path, rate: int, seconds: float, stop_after: int | None = None) -> _Writer:
    return _Writer(db, rate, seconds, stop_after)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else (values[0] if values else 0.0)


def _tail_loop(db: Path, seconds: float, interval: float = 0.1) -> tuple[list[float], float]:
    """Baseline: the simplest possible tail of live.db; returns (latencies ms, CPU seconds used)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    last = conn.execute("SELECT coalesce(max(seq), 0) FROM live_feed").fetchone()[0]
    lat: list[float] = []
    cpu0 = time.process_time()
    end = time.time() + seconds
    while time.time() < end:
        rows = conn.execute("SELECT seq, ts_event FROM live_feed WHERE seq > ? ORDER BY seq", (last,)).fetchall()
        now = time.time()
        if rows:
            last = rows[-1][0]
            lat.extend((now - ts / 1e6) * 1000 for _, ts in rows)
        time.sleep(interval)
    cpu = time.process_time() - cpu0
    conn.close()
    return lat, cpu


def _fresh(tmp: Path, name: str) -> DataLayout:
    layout = DataLayout(tmp / name).ensure()
    open_live_db(layout.live_db).close()
    return layout


async def _latency_in_app(layout: DataLayout, seconds: float, rate: int) -> tuple[list[float], int, int]:
    lat: list[float] = []

    def on_tick(app: HuracanApp) -> None:
        now = time.time()
        lat.extend((now - r.ts_event / 1e6) * 1000 for r in app.last_rows)

    app = HuracanApp(layout, settings=TuiSettings(), on_tick=on_tick)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.5)
        writer = _start_writer(layout.live_db, rate, seconds)
        while writer.is_alive():
            await pilot.pause(0.1)
        writer.join()
        await pilot.pause(0.5)
        return lat, app.coalesced, app.rows_seen


async def _idle_cpu(layout: DataLayout, seconds: float) -> float:
    app = HuracanApp(layout, settings=TuiSettings())
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(1.0)
        cpu0 = time.process_time()
        await pilot.pause(seconds)
        return time.process_time() - cpu0


async def _rss_after(layout: DataLayout, total: int) -> tuple[float, int, int]:
    app = HuracanApp(layout, settings=TuiSettings())
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.5)
        writer = _start_writer(layout.live_db, 50_000, 3600, stop_after=total)
        while writer.is_alive():
            await pilot.pause(0.2)
        writer.join()
        await pilot.pause(1.0)
        return _rss_mb(), app.rows_seen, app.coalesced


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _first_paint(data_dir: Path, command: str, marker: list[str], timeout: float = 20.0) -> float:
    sock = f"bench-tui-{os.getpid()}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "b", "-x", "120", "-y", "40", command], check=True)
    try:
        while time.perf_counter() - t0 < timeout:
            out = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "b"], capture_output=True,
                                 text=True).stdout
            if all(m in out for m in marker):
                return time.perf_counter() - t0
            time.sleep(0.01)
        raise RuntimeError(f"no first paint within {timeout}s")
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def _populated(tmp: Path) -> DataLayout:
    """A data dir with a few minutes of simulated events and heartbeats (for the startup measurement)."""
    layout = DataLayout(tmp / "startup").ensure()
    subprocess.run([sys.executable, "-m", "observability.sim", "--data-dir", str(layout.root), "--rate", "2000",
                    "--speed", "30", "--duration", "4"], check=True, capture_output=True)
    return layout


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--writer":
        db, rate, seconds, stop_after = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        _writer(db, rate, seconds, 0, stop_after or None)
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--million", type=int, default=1_000_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    try:
        layout = _fresh(tmp, "latency")
        lat, coalesced, seen = asyncio.run(_latency_in_app(layout, args.seconds, 10_000))
        base_layout = _fresh(tmp, "latency-base")
        writer = _start_writer(base_layout.live_db, 10_000, args.seconds)
        time.sleep(0.2)
        base_lat, _ = _tail_loop(base_layout.live_db, args.seconds)
        writer.join()
        p95, b95 = _pct(lat, 95), _pct(base_lat, 95)
        print(f"(a) written->visible at 10k ev/s: p50 {_pct(lat, 50):.0f} ms, p95 {p95:.0f} ms "
              f"({seen:,} rows shown, {coalesced:,} coalesced) | baseline sqlite tail p95 {b95:.0f} ms | "
              f"ratio {p95 / b95 if b95 else float('nan'):.2f}x  [target p95 <= 250 ms]")

        idle = _fresh(tmp, "idle")
        cpu = asyncio.run(_idle_cpu(idle, args.seconds))
        _, base_cpu = _tail_loop(idle.live_db, args.seconds)
        print(f"(b) idle CPU: {100 * cpu / args.seconds:.2f} % of a core | baseline 10 Hz sqlite tail "
              f"{100 * base_cpu / args.seconds:.2f} % | ratio {cpu / base_cpu if base_cpu else float('nan'):.1f}x  "
              "[target <= 2 %]")

        if shutil.which("tmux"):
            started = _populated(tmp)
            paint = _first_paint(started.root, f"{sys.executable} -m huracan_tui --data-dir {started.root}",
                                 ["Gates (pass rate vs target)", "Open trades", "Model ", " INFO "])
            base = _first_paint(started.root, f"{sys.executable} -c 'import textual.app; print(\"ready\")'; sleep 5",
                                ["ready"])
            print(f"(c) startup to first full paint: {paint:.2f} s | baseline python + import textual {base:.2f} s | "
                  f"ratio {paint / base:.1f}x  [target <= 1.5 s]")

        rss_layout = _fresh(tmp, "rss")
        base_rss = _rss_mb()
        rss, seen, coalesced = asyncio.run(_rss_after(rss_layout, args.million))
        print(f"(d) RSS after {args.million:,} events streamed: {rss:.0f} MB ({seen:,} shown, {coalesced:,} coalesced)"
              f" | baseline before the app {base_rss:.0f} MB | ratio {rss / base_rss:.2f}x  [target <= 200 MB]")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
