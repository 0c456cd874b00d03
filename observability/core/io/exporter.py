"""live_feed -> Parquet by seq watermark: exactly once, whatever crashes when.

One export step: read rows with seq in (W, W+chunk] (W = `export_state.exported_seq`), write one
file per (date, symbol) partition named `<first_seq>-<last_seq>[.<box>].parquet` atomically and durably,
then advance W in the same live.db, then publish W in the dataset's marker for this box (readers on
other machines use it as they use W). Every crash point is safe:
- before a rename: only a hidden temp file exists; the next run deletes it;
- after some renames, before W moves: those files start above W, so readers ignore them and the
  next run deletes them (their rows are still in live.db: pruning never passes W);
- after W moves, before the marker: other machines ignore those files a little longer; the next run publishes;
- after the marker: done.
A box publishes its marker before its first file, so other machines never count files of a first export
that did not finish (a box without a marker is one that exported before markers existed).
Only this box's files are ever deleted here: other boxes' seq ranges mean nothing to this live.db.
Rows for a chunk are deterministic, so a re-export after such a crash writes the same files again.
A file lock serialises the exporter, compaction and pruning of one data directory.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Final

import adbc_driver_sqlite.dbapi as adbc_sqlite
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from observability.core.io.dataset import (
    Target,
    file_name,
    list_files,
    open_target,
    partition_path,
    publish_watermark,
    published_watermark,
    split_files,
)
from observability.core.io.files import EXPORT_WRITE_OPTIONS, delete_files, remove_temp_files, write_parquet
from observability.core.io.live_rows import ExportChunk, arrow_reader, fetch_raw_arrow, file_table, new_duck
from observability.core.io.payload_typing import TypedRows, concat_typed, type_rows
from observability.core.io.spool import SpoolReader, remove_exported
from observability.core.io.spool_export import MIN_RUN, SpoolSource, done
from observability.core.live_store import box_id, export_record, exported_seq, open_live_db
from observability.errors import DataDirError
from observability.paths import DataLayout

CHUNK_ROWS: Final = 200_000
"""Rows per export step: bounds memory, keeps files large (few files make fast queries), and lets a
scheduled export of a minute of events at 20k/s run as a pipeline of several chunks."""


SLICE_ROWS: Final = 100_000
"""Rows read from SQLite at a time (at most half a chunk): a chunk's second slice is read while its first
is typed. Not smaller: each slice costs ~10 DuckDB queries (one per event type) of a few ms fixed cost."""

WRITE_THREADS: Final = 4
"""Partition files written at once within a chunk. More threads than this product's 2 cores: a chunk's
partitions differ in size (3 symbols of ~66k rows and a few stragglers), and with 2 threads the third
big file ran alone at the end (wall 1.30 vs 1.54 µs/row measured for 4 vs 2 threads)."""


@dataclass(frozen=True)
class ExportResult:
    rows: int
    files: int
    bytes: int
    first_seq: int | None
    last_seq: int | None
    watermark: int
    reconciled_files: int
    """Files from an interrupted run (orphans above the watermark, temp files, merged sources) removed."""
    seconds: float
    skipped: bool = False
    """True when another exporter or a compaction held the dataset and `wait=False` was asked."""
    from_spool: int = 0
    """Rows read typed from the writer's spool (the others were read and typed from live.db)."""


@contextmanager
def dataset_lock(layout: DataLayout, *, wait: bool = True) -> Iterator[bool]:
    """Exclusive lock of the data directory's dataset (exporter, compaction); freed on kill -9.

    Yields False instead of waiting when `wait=False` and someone else holds it.
    """
    layout.sqlite_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(layout.sqlite_dir / "dataset.lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def set_watermark(conn: sqlite3.Connection, key: str, seq: int) -> None:
    conn.execute(
        "INSERT INTO export_state (target, exported_seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(target) DO UPDATE SET exported_seq = excluded.exported_seq, updated_at = excluded.updated_at",
        (key, seq, time.time_ns() // 1000),
    )


def _check_first_export(conn: sqlite3.Connection, target: Target, box: str) -> None:
    """Before the first export from this live.db to a target, refuse if this box already has files there.

    Without an export record the watermark reads 0, and reconcile would delete every such file as
    unfinished (then overwrite their names): that happens when export.uri is respelled or live.db is
    replaced while the Parquet history stays. The record is written before any file, so a first export
    cut short still has its leftovers removed by the next run.
    """
    if export_record(conn, target.state_key) is not None:
        return
    mine = [f for f in list_files(target) if f.box == box]
    if mine:
        where = target.uri or target.base
        raise DataDirError(
            f"{where}: {len(mine)} Parquet files of this box are already there but live.db has no export record "
            "for it (export.uri respelled, or live.db replaced); exporting would overwrite them: restore the "
            "previous export.uri or live.db, or move those files elsewhere")
    set_watermark(conn, target.state_key, 0)


def reconcile(target: Target, box: str, watermark: int | None) -> int:
    """Remove what an interrupted export or compaction of this box left behind; return how many files."""
    _, orphans, covered = split_files([f for f in list_files(target) if f.box == box], {box: watermark})
    delete_files(target, [f.path for f in orphans + covered])
    return len(orphans) + len(covered) + remove_temp_files(target, box)


def _write_part(target: Target, box: str, part: pa.Table) -> int:
    lo, hi = int(part["seq"][0].as_py()), int(part["seq"][-1].as_py())
    day, symbol = part["date"][0].as_py(), part["symbol"][0].as_py()
    return write_parquet(target, f"{partition_path(day, symbol)}/{file_name(lo, hi, box)}", file_table(part),
                         options=EXPORT_WRITE_OPTIONS)


_Slice = tuple[TypedRows, TypedRows]
"""A slice of a chunk: its envelope rows (no payload) and their typed payloads, each with `where` to seq order."""


def _type_slice(duck: duckdb.DuckDBPyConnection, raw: pa.Table) -> _Slice:
    envelope = TypedRows(raw.drop_columns(["payload"]), np.arange(raw.num_rows))
    return envelope, type_rows(duck, raw["event_type"], raw["payload"])


class SpoolMismatch(Exception):
    """A chunk's rows from the spool are not live.db's (checked while its files were written)."""


def _assemble(slices: list[Future[_Slice]]) -> ExportChunk:
    """A chunk's slices, once typed, as one chunk ready to be cut into files."""
    typed = [f.result() for f in slices]
    return ExportChunk.of(concat_typed([env for env, _ in typed]), concat_typed([t for _, t in typed]))


def _write_chunk(target: Target, box: str, assembled: Future[ExportChunk], checks: list[Future[bool]]
                 ) -> tuple[int, int]:
    """Write one chunk's files (one per partition) once it is assembled; return (files, bytes).

    Each thread takes its partition's rows from the chunk and encodes and compresses them (C++ that
    releases the GIL): WRITE_THREADS partitions side by side use every core where one writer used one.
    Raises SpoolMismatch, after the files are written, if a slice from the spool failed its check
    (`checks`): the files lie above the watermark, which readers ignore and the next run deletes.
    """
    chunk = assembled.result()
    parts = chunk.partitions()
    with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="export-write") as pool:
        sizes = list(pool.map(lambda rows: _write_part(target, box, chunk.part(rows)),
                              sorted(parts, key=len, reverse=True)))
    if not all(check.result() for check in checks):
        raise SpoolMismatch
    return len(parts), sum(sizes)


@dataclass
class _Progress:
    watermark: int
    rows: int = 0
    files: int = 0
    bytes: int = 0
    first: int | None = None
    spooled: int = 0


@dataclass(frozen=True)
class _Chunk:
    """A chunk handed to the file writer, and what its commit records."""

    written: Future[tuple[int, int]]
    first: int
    last: int
    rows: int
    spooled: int


def _run_chunks(reader: adbc_sqlite.Connection, spool: SpoolSource | None, target: Target, box: str,
                max_rows: int | None, chunk_rows: int, commit: Callable[[_Chunk], None], start: int) -> None:
    """Read, type and write every chunk above `start` as a pipeline, committing each once its files are durable.

    A slice the spool holds (see `spool_export`) comes typed from there instead; its check against
    live.db runs while the chunk's files are written, and a chunk whose check failed is not committed
    (SpoolMismatch).

    A chunk is read from SQLite (C, no GIL) in slices of SLICE_ROWS, each typed by DuckDB in a thread as
    soon as it is read, and its files are written in another thread while the next chunk is read, typed
    and assembled, so the stages overlap on all cores even within one chunk. Chunks are written in order and
    `commit` (the watermark) runs only after a chunk's files are durable, so a crash still leaves only
    files above the watermark.
    """
    duck: duckdb.DuckDBPyConnection | None = None  # opened only when there is something to type (~15 ms)
    after, fetched = start, 0
    writing: _Chunk | None = None
    try:
        with (ThreadPoolExecutor(1, thread_name_prefix="export-type") as typer,
              ThreadPoolExecutor(1, thread_name_prefix="export-assemble") as assembler,
              ThreadPoolExecutor(1, thread_name_prefix="export-write") as writer):
            while True:
                slices: list[Future[_Slice]] = []
                checks: list[Future[bool]] = []
                first, chunk, spooled_rows = after + 1, 0, 0
                while chunk < chunk_rows and (max_rows is None or fetched < max_rows):
                    room = chunk_rows - chunk if max_rows is None else min(chunk_rows - chunk, max_rows - fetched)
                    limit = min(max(1, min(SLICE_ROWS, chunk_rows // 2)), room)  # typing overlaps the next read
                    spooled = spool.slice(after=after, limit=room) if spool is not None else None
                    if spooled is None and spool is not None and (nxt := spool.next_seq(after)) is not None \
                            and nxt > after + 1:
                        limit = min(limit, nxt - after - 1)  # rows the spool lacks, up to where it has them again
                    rows = (spooled.envelope.table if spooled is not None
                            else fetch_raw_arrow(reader, after_seq=after, limit=limit))
                    if rows.num_rows == 0:
                        break
                    lo, hi = pc.min_max(rows["seq"]).values()
                    first = first if chunk else int(lo.as_py())
                    after, fetched, chunk = int(hi.as_py()), fetched + rows.num_rows, chunk + rows.num_rows
                    if spooled is not None:
                        spooled_rows += rows.num_rows
                        slices.append(done((spooled.envelope, spooled.typed)))
                        checks.append(spooled.matches)
                        continue
                    duck = duck if duck is not None else new_duck()
                    slices.append(typer.submit(_type_slice, duck, rows))
                # assembled while the previous chunk's last files are written, which leaves a core idle
                assembled = assembler.submit(_assemble, slices) if slices else None
                if writing is not None:  # the previous chunk's files were written while this one was read
                    commit(writing)
                    writing = None
                if assembled is None:
                    return
                writing = _Chunk(writer.submit(_write_chunk, target, box, assembled, checks), first, after, chunk,
                                 spooled_rows)
    finally:
        if duck is not None:
            duck.close()


def export_once(
    layout: DataLayout, *, max_rows: int | None = None, uri: str | None = None, wait: bool = False,
    chunk_rows: int = CHUNK_ROWS, use_spool: bool = True, spool_min_run: int = MIN_RUN,
) -> ExportResult:
    """Export every row above the watermark (at most `max_rows`) to Parquet; safe to call any time.

    By default it does not wait for a running compaction or another exporter: it returns at once
    with `skipped=True` (the writer process calls it on a schedule and must never stall on it);
    the next call catches up. `wait=True` (the CLI) waits for the dataset lock instead.

    Pipelined (see `_run_chunks`): reading, typing and writing of successive chunks of `chunk_rows`
    overlap, the watermark moves only after a chunk's files are durable. Rows the writer's spool holds
    are taken typed from there, in runs of at least `spool_min_run` rows (`use_spool=False`: every row
    from live.db).
    """
    started = time.perf_counter()
    target = open_target(layout, uri)
    if not layout.live_db.exists():
        raise DataDirError(f"{layout.live_db}: no live feed database to export; run the engine or "
                           "`huracan-obs demo` first, or pass the right --data-dir")
    conn = open_live_db(layout.live_db)
    try:
        with (dataset_lock(layout, wait=wait) as locked, arrow_reader(layout.live_db) as reader,
              arrow_reader(layout.live_db) as second):
            watermark = exported_seq(conn, target.state_key)
            box = target.box(box_id(conn))
            if not locked:
                return ExportResult(rows=0, files=0, bytes=0, first_seq=None, last_seq=None, watermark=watermark,
                                    reconciled_files=0, seconds=time.perf_counter() - started, skipped=True)
            _check_first_export(conn, target, box)
            reconciled = reconcile(target, box, watermark)
            if published_watermark(target, box) != watermark:
                # a crash fell between watermark and marker; or this box's first export: from now on files
                # it leaves above its watermark are unfinished to every reader, not only to its own
                publish_watermark(target, box, watermark)
            progress = _Progress(watermark)

            def commit(chunk: _Chunk) -> None:
                written = chunk.written.result()
                set_watermark(conn, target.state_key, chunk.last)
                publish_watermark(target, box, chunk.last)
                progress.first = progress.first if progress.first is not None else chunk.first
                progress.watermark, progress.rows = chunk.last, progress.rows + chunk.rows
                progress.files, progress.bytes = progress.files + written[0], progress.bytes + written[1]
                progress.spooled += chunk.spooled

            with ThreadPoolExecutor(1, thread_name_prefix="export-check") as checks:
                spool = (SpoolSource(SpoolReader(layout.export_spool_dir), (reader, second), spool_min_run, checks)
                         if use_spool else None)
                try:
                    _run_chunks(reader, spool, target, box, max_rows, max(1, chunk_rows), commit, watermark)
                except SpoolMismatch:  # not this live.db's spool, or not all of it: check each slice first
                    reconciled += reconcile(target, box, progress.watermark)
                    left = None if max_rows is None else max_rows - progress.rows
                    checked_first = None if spool is None else replace(spool, checks=None)
                    _run_chunks(reader, checked_first, target, box, left, max(1, chunk_rows), commit,
                                progress.watermark)
            remove_exported(layout.export_spool_dir, progress.watermark)
    finally:
        conn.close()
    return ExportResult(rows=progress.rows, files=progress.files, bytes=progress.bytes, first_seq=progress.first,
                        last_seq=progress.watermark if progress.rows else None, watermark=progress.watermark,
                        reconciled_files=reconciled, seconds=time.perf_counter() - started,
                        from_spool=progress.spooled)
