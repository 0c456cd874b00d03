"""A reader process for the tail test: polls live.db 10x/s for seq > last, records every seq it sees."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path


def main(db: str, out: str, stop_file: str) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=2000")
    last = 0
    wal_max = 0
    wal = Path(db + "-wal")
    with open(out, "w") as f:
        while True:
            stopping = Path(stop_file).exists()
            rows = conn.execute("SELECT seq FROM live_feed WHERE seq > ? ORDER BY seq", (last,)).fetchall()
            for (seq,) in rows:
                f.write(f"{seq}\n")
            if rows:
                last = rows[-1][0]
            if wal.exists():
                wal_max = max(wal_max, wal.stat().st_size)
            if stopping and not rows:
                break
            time.sleep(0.1)
        f.write(f"wal_max {wal_max}\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
