"""Scheduled upkeep inside the writer process: fallback replay, WAL checkpoints, Parquet export,
the trade journal projection, retention pruning and Parquet compaction.

It runs in its own process, a child of the writer (`python -m observability.core.maintenance`):
journal projection and export are Python-heavy, and on the writer's interpreter they would take
the GIL from validation (measured: end-to-end throughput halved). It stops when its stdin closes,
so it never outlives the writer, even after a kill -9. Storage jobs (pyarrow, DuckDB) are imported
on first use.

It runs at the lowest CPU priority (nice 19): on a saturated 2-core box the engine and the writer
come first and upkeep uses what they leave (measured: the demo's rate rose ~15 % against nice 10);
its lag shows in the export and journal watermarks, and pruning never passes them. Failures are
reported on stderr as one line and retried at the next tick; they never stop the writer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from observability.config.observability_config import ObservabilityConfig
from observability.core.ingest import prepare_batch, write_batch
from observability.core.io.arrow_memory import keep_freed_memory
from observability.core.live_store import checkpoint, exported_seq, max_seq, open_live_db, open_readonly
from observability.errors import ObservabilityError
from observability.paths import DataLayout


class Maintenance(threading.Thread):
    """The schedule; `run_due()` is one tick (tests drive it directly)."""

    def __init__(self, layout: DataLayout, config: ObservabilityConfig, *, tick_seconds: float = 1.0) -> None:
        super().__init__(name="maintenance", daemon=True)
        self.layout = layout
        self.config = config
        self.tick = tick_seconds
        self._stop_event = threading.Event()
        now = time.monotonic()
        self._last_export = now
        self._last_prune = now
        self._last_compact = now
        self._state_key: str | None = None
        self._journal: Any = None
        self.exports = 0

    def stop(self, timeout: float = 30.0) -> None:
        self._stop_event.set()
        self.join(timeout)

    def run(self) -> None:
        self.replay_fallback()
        while not self._stop_event.wait(self.tick):
            self.run_due()

    def run_due(self) -> None:
        """One tick: run whatever is due now (exposed so tests can drive it without waiting)."""
        try:
            checkpoint(self.layout.live_db)
            self._project_journal()
            if self.config.export.enabled and self._export_due():
                self._export()
            now = time.monotonic()
            if now - self._last_prune >= self.config.retention.prune_every_seconds:
                self._last_prune = now
                self._prune()
            if self.config.export.enabled and now - self._last_compact >= self.config.export.compact_every_seconds:
                self._last_compact = now
                from observability.core.io.compaction import compact

                compact(self.layout, uri=self.config.export.uri)
        except (ObservabilityError, sqlite3.Error, OSError) as exc:
            print(f"huracan writer: maintenance: {exc}", file=sys.stderr, flush=True)

    def _project_journal(self) -> None:
        """Trades, features, outcomes and shadow trades into journal.db, about a second behind live.db."""
        if self._journal is None:
            from observability.core.io.journal import JournalProjector

            self._journal = JournalProjector(self.layout)
        self._journal.run_once()

    def _prune(self) -> None:
        """Rows past the hot window, and only those already exported and journaled."""
        from observability.core.io.retention import prune

        r = self.config.retention
        prune(self.layout, hot_hours=r.live_hot_hours, health_keep_hours=r.health_keep_hours,
              batch_rows=r.prune_batch_rows, uri=self.config.export.uri)

    def replay_fallback(self) -> int:
        """Store events an earlier engine could not hand over (duplicates are ignored by event_id).

        Runs after the writer reported ready, in chunks; a file that cannot be read is renamed
        `*.bad` and reported, so one broken file can never keep the writer from starting.
        """
        total = 0
        folders = [self.layout.fallback_dir]
        if self.layout.spare_fallback_ready(create=False):  # never events another user could have put there
            folders.append(self.layout.spare_fallback_dir)
        for path in sorted(p for folder in folders for p in folder.glob("*.ndjson")):
            try:
                lines = [ln for ln in path.read_bytes().splitlines() if ln.startswith(b"{")]
                conn = open_live_db(self.layout.live_db)
                try:
                    for start in range(0, len(lines), 5000):
                        rows, dead, _ = prepare_batch(lines[start:start + 5000])
                        write_batch(conn, rows, dead)
                        total += len(rows)
                finally:
                    conn.close()
                path.unlink()
            except (ObservabilityError, sqlite3.Error, OSError, ValueError) as exc:
                path.rename(path.with_suffix(".bad"))
                print(f"huracan writer: {path}: cannot replay fallback events ({exc}); kept as .bad",
                      file=sys.stderr, flush=True)
        return total

    def _export_due(self) -> bool:
        if time.monotonic() - self._last_export >= self.config.export.every_seconds:
            return True
        if self._state_key is None:
            from observability.core.io.dataset import open_target

            self._state_key = open_target(self.layout, self.config.export.uri).state_key
        conn = open_readonly(self.layout.live_db)
        try:
            return max_seq(conn) - exported_seq(conn, self._state_key) >= self.config.export.every_rows
        finally:
            conn.close()

    def _export(self) -> None:
        from observability.core.io.exporter import export_once

        self._last_export = time.monotonic()
        export_once(self.layout, uri=self.config.export.uri)
        self.exports += 1


def spawn(layout: DataLayout, config: ObservabilityConfig) -> subprocess.Popen[bytes]:
    """Start the maintenance process; closing its stdin (or our death) stops it."""
    return subprocess.Popen(
        [sys.executable, "-m", "observability.core.maintenance", "--data-dir", str(layout.root),
         "--config-json", config.model_dump_json()],
        stdin=subprocess.PIPE, close_fds=True, env=keep_freed_memory(dict(os.environ)),
    )


STOP_GRACE_SECONDS = 2.0
"""How long a stopping writer lets upkeep finish its job in hand. Every job is crash-safe (exports
and journal chunks commit with their watermark, merges write before they delete), so a job cut
short is only redone by the next writer; waiting for a niced export of 250k rows on a loaded box
had made the engine's close take 5-10 s."""


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_GRACE_SECONDS) -> None:
    """Ask it to finish the job in hand and exit; a job that overruns is killed (all jobs are crash-safe)."""
    with contextlib.suppress(OSError):
        if proc.stdin:
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="observability.core.maintenance")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config-json", default="{}")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides when we stop (stdin EOF)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Background work: on a box with few cores the engine's loop and the writer come first.
    with contextlib.suppress(OSError):
        os.nice(19)
    upkeep = Maintenance(DataLayout(Path(args.data_dir)), ObservabilityConfig.model_validate_json(args.config_json))
    upkeep.start()
    while sys.stdin.buffer.read(4096):
        pass
    upkeep.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
