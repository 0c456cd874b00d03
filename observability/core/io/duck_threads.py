"""Run a stretch of small DuckDB statements on one thread.

Why: a live refresh is ~150 statements that each touch a few thousand rows (new events, changed minutes, partials).
On two threads a warm refresh at 10 M events takes 2-9 % more CPU and 2-8 % less time (bench_refresh_threads.py:
interleaved, one process, two copies of the data): the refresh is not worth the second core the trading engine on
the same box may need. Big scans (a first build, a rebuild after compaction) keep every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's `threads` at 1 inside, the setting before restored after (a database-wide setting)."""
    ((threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")
