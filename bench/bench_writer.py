"""Capacity of the writer process alone: NDJSON on stdin -> validated rows committed in live.db.

Baseline, measured in the same run: the same rows inserted by plain `executemany` with no
validation and no process boundary (the storage floor). The ratio says what validation and the
pipe cost on top of storage. Run: python bench/bench_writer.py [--events N]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from observability.core import builders
from observability.core.ingest import prepare_batch
from observability.core.live_store import INSERT_EVENT_SQL, open_live_db


def make_lines(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        ev = builders.gate_decision(gate="spread", value=float(i % 11), threshold=5.0, direction="max",
                                    symbol="BTC/USDT", trace_id=f"t{i}", mode="scalp", reason="within limit")
        ev["ts_logged"] = time.time()
        out.append(orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-writer-"))
    try:
        lines = make_lines(args.events)
        feed = tmp / "feed.ndjson"
        feed.write_bytes(b"".join(lines))
        t = time.perf_counter()
        with open(feed, "rb") as stdin:
            proc = subprocess.run([sys.executable, "-m", "observability.core.writer_process",
                                   "--data-dir", str(tmp / "w")], stdin=stdin, capture_output=True, check=True)
        ours = args.events / (time.perf_counter() - t)
        last = orjson.loads(proc.stdout.strip().splitlines()[-1])
        rows, _, _ = prepare_batch([ln.rstrip(b"\n") for ln in lines])
        conn = open_live_db(tmp / "b" / "live.db")
        t = time.perf_counter()
        for k in range(0, len(rows), 5000):
            conn.execute("BEGIN")
            conn.executemany(INSERT_EVENT_SQL, rows[k:k + 5000])
            conn.execute("COMMIT")
        base = args.events / (time.perf_counter() - t)
        conn.close()
        stored = sqlite3.connect(tmp / "w" / "sqlite" / "live.db").execute("SELECT count(*) FROM live_feed").fetchone()
        print(f"writer process (validate + insert, incl. start-up): {ours:9,.0f} events/s"
              f" (acked {last['n']:,}, stored {stored[0]:,})")
        print(f"baseline: plain executemany, no validation:           {base:9,.0f} rows/s"
              f" | ratio {ours / base:.2f}x (higher is better)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
