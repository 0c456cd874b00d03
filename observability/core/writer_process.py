"""The writer process: a child of the engine that validates and stores events in live.db.

Why a separate process: measured on a 2-core box, a writer *thread* in the engine's
interpreter pushed the engine loop's p99 lag to 5-10 ms (GIL contention, gen-2 GC pauses),
while a child fed NDJSON through a pipe keeps the engine's cost to `orjson.dumps` per event,
and events already handed over survive a kill -9 of the engine.

Protocol (stdin, NDJSON): `{...}` lines are events, numbered 0, 1, 2, ... in arrival order;
`!H{...}` is a health snapshot to store; `!F` asks for an immediate commit; EOF means drain,
commit and exit. Replies (stdout, one JSON object per line): `{"ready": true}` once live.db is
open (or `{"fatal": "..."}` and exit 2), then after every commit `{"n": <events handled>,
"dead": [[ordinal, error], ...]}`, and `{"n": ..., "err": "..."}` while storage is failing (the
batch is kept and retried with backoff; stdin is not read meanwhile, so back-pressure reaches
the engine's bounded queue instead of this process's memory).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import queue
import select
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from observability.config.observability_config import ObservabilityConfig
from observability.core import maintenance
from observability.core.ingest import insert_events, prepare_batch
from observability.core.io.spool import SpoolWriter
from observability.core.live_store import (
    HEALTH_COLUMNS,
    INSERT_DEAD_LETTER_SQL,
    INSERT_HEALTH_SQL,
    open_live_db,
)
from observability.errors import ObservabilityError
from observability.paths import DataLayout

FAULT_FILE_ENV = "HURACAN_WRITER_FAULT_FILE"
"""Storage seam for fault-injection tests: while the named file exists, every commit fails as a
full disk would. Unset in production; it costs one stat() per commit when set."""

WRITER_AUTOCHECKPOINT_PAGES = 8192
"""The upkeep process checkpoints every second (PASSIVE: it never blocks commits). SQLite's default
would also run one inside this process's COMMIT every 1000 pages (16 MiB), about every half second at 50,000 events/s,
stalling the commit thread for the copy and its fsync; this larger limit is only a backstop for an
upkeep that cannot run."""
SPOOL_IDLE_FLUSH_SECONDS = 0.25
"""With no commit for this long, the rows the export spool has gathered are written (readers see them)."""
_JSON_HEALTH = {"dropped_by_severity", "dropped_by_type"}
_ACK_FD = 1
"""Replies go to a private duplicate of the original stdout; fd 1 itself is pointed at stderr so a
stray print() in this process can never corrupt the protocol."""


def _health_row(raw: bytes) -> tuple[Any, ...]:
    d = orjson.loads(raw)
    out: list[Any] = []
    for name, _typ, _null in HEALTH_COLUMNS:
        v = d.get(name)
        if name == "ts":
            v = int(float(v) * 1_000_000)
        elif name in _JSON_HEALTH:
            v = orjson.dumps(v or {}).decode()
        elif isinstance(v, bool):
            v = int(v)
        out.append(v)
    return tuple(out)


@dataclass
class Prepared:
    n: int
    rows: list[tuple[Any, ...]]
    dead: list[tuple[Any, ...]]
    dead_idx: list[int]
    health: list[tuple[Any, ...]]
    decoded: list[Any] | None
    """Each row's payload Struct, for the export spool (None: not spooling)."""


class Writer:
    def __init__(self, conn: sqlite3.Connection, layout: DataLayout, config: ObservabilityConfig) -> None:
        self.conn = conn
        self.layout = layout
        self.cfg = config.writer
        self.handled = 0
        self._fault_file = os.environ.get(FAULT_FILE_ENV)
        self._stop = False
        # SQLite releases the GIL inside sqlite3_step, so committing batch k on this thread overlaps
        # validating batch k+1 on the main one; two batches in flight at most (back-pressure).
        self._batches: queue.Queue[Prepared | None] = queue.Queue(maxsize=2)
        self._committer = threading.Thread(target=self._commit_loop, name="commit", daemon=True)
        self.spool = (SpoolWriter(layout.export_spool_dir)
                      if config.export.enabled and config.export.spool else None)

    # -- replies ----------------------------------------------------------------------------------

    @staticmethod
    def reply(obj: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            os.write(_ACK_FD, orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))

    # -- storage ----------------------------------------------------------------------------------

    def _commit(self, rows: Sequence[Any], dead: Sequence[Any], health: Sequence[Any]) -> int | None:
        """Store one batch in one transaction; return its first row's seq as `ingest.insert_events` does."""
        if self._fault_file and os.path.exists(self._fault_file):
            raise sqlite3.OperationalError("database or disk is full (injected fault)")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            first = insert_events(self.conn, rows)
            if dead:
                self.conn.executemany(INSERT_DEAD_LETTER_SQL, dead)
            if health:
                self.conn.executemany(INSERT_HEALTH_SQL, health)
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        return first

    def prepare(self, lines: list[bytes], health_lines: list[bytes]) -> Prepared:
        """Validation and row building: the CPU-heavy half, done while the previous batch commits."""
        decoded: list[Any] | None = [] if self.spool is not None else None
        rows, dead, dead_idx = prepare_batch(lines, decoded=decoded)
        health = []
        for raw in health_lines:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                health.append(_health_row(raw))
        return Prepared(len(lines), rows, dead, dead_idx, health, decoded)

    def store(self, batch: Prepared) -> None:
        """Commit one prepared batch; on storage errors keep it and retry until it lands, then ack, then spool it."""
        delay = 0.05
        while True:
            try:
                first = self._commit(batch.rows, batch.dead, batch.health)
                break
            except sqlite3.Error as exc:
                self.reply({"n": self.handled, "err": f"{type(exc).__name__}: {exc}"})
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        base = self.handled
        self.handled += batch.n
        errors = {i: d[3] for i, d in zip(batch.dead_idx, batch.dead, strict=True)}
        self.reply({"n": self.handled, "dead": [[base + i, e] for i, e in errors.items()]})
        if self.spool is not None and batch.decoded is not None:
            if self._batches.qsize():  # the next batch already waits on this thread: no time to spare for the spool
                self.spool.skip(len(batch.rows))
            else:
                self.spool.append(first, batch.rows, batch.decoded)

    def _commit_loop(self) -> None:
        try:
            while True:
                try:
                    batch = self._batches.get(timeout=SPOOL_IDLE_FLUSH_SECONDS)
                except queue.Empty:
                    if self.spool is not None:
                        self.spool.flush()
                    continue
                if batch is None:
                    return
                self.store(batch)
        except BaseException as exc:  # never leave the engine waiting on a silent, half-dead writer
            print(f"huracan writer: commit thread failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            os._exit(3)

    # -- main loop --------------------------------------------------------------------------------

    def run(self, fd: int) -> None:
        """Accumulate lines; commit when the batch is full, old enough, idle, flushed, or at EOF."""
        buf = b""
        events: list[bytes] = []
        health: list[bytes] = []
        eof = False
        batch_started = 0.0
        max_events = self.cfg.batch_max_events
        max_age = min(self.cfg.batch_max_seconds, self.cfg.target_latency_seconds)
        while True:
            flush = False
            pending = bool(events or health)
            wait = 1.0
            if pending:
                wait = max(0.0, min(self.cfg.linger_seconds, batch_started + max_age - time.monotonic()))
            readable = False
            if not eof and not self._stop:
                with contextlib.suppress(InterruptedError):
                    readable = bool(select.select([fd], [], [], wait)[0])
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    eof = True
                else:
                    if not pending:
                        batch_started = time.monotonic()
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line[:1] == b"{":
                            events.append(line)
                        elif line.startswith(b"!H"):
                            health.append(line[2:])
                        elif line == b"!F":
                            flush = True
                        elif line:
                            events.append(line)  # not JSON: dead-lettered with its error, and counted
                    if len(events) < max_events and not flush and time.monotonic() - batch_started < max_age:
                        continue
            if events or health:
                self._batches.put(self.prepare(events, health))
                events, health = [], []
            if eof or self._stop:
                return

    def start_committer(self) -> None:
        self._committer.start()

    def stop_committer(self) -> None:
        self._batches.put(None)
        self._committer.join()
        if self.spool is not None:
            self.spool.close()


def main(argv: Sequence[str] | None = None) -> int:
    global _ACK_FD
    parser = argparse.ArgumentParser(prog="observability.core.writer_process")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config-json", default="{}")
    args = parser.parse_args(argv)
    _ACK_FD = os.dup(1)
    os.dup2(2, 1)
    # The engine decides when we stop (EOF on stdin): Ctrl-C in a terminal, or a service manager's
    # SIGTERM to the whole group, must not stop us before the engine has flushed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        config = ObservabilityConfig.model_validate_json(args.config_json)
        layout = DataLayout(Path(args.data_dir)).ensure()
        conn = open_live_db(layout.live_db, synchronous=config.writer.synchronous)
        conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
    except ObservabilityError as exc:
        Writer.reply({"fatal": str(exc)})
        return 2
    except Exception as exc:
        Writer.reply({"fatal": f"{args.data_dir}: writer cannot start: {type(exc).__name__}: {exc}"})
        return 2
    writer = Writer(conn, layout, config)
    # Per-batch objects die by reference counting; the cyclic GC only adds pauses here.
    gc.collect()
    gc.freeze()
    gc.disable()
    Writer.reply({"ready": True, "pid": os.getpid()})
    writer.start_committer()
    upkeep = maintenance.spawn(layout, config)
    writer.run(sys.stdin.fileno())
    writer.stop_committer()
    maintenance.stop(upkeep)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
