"""The export spool: a typed columnar copy of committed live_feed rows, kept beside live.db until exported.

Why: an export that reads rows from SQLite (~2 µs/row: SQLite hands over one value at a time) and
parses their payload JSON into typed columns (~3 µs/row) could not pass ~300k rows/s on two cores.
The writer has every payload decoded already (it validated it), so it appends committed rows, typed
(`spool_columns`), to Arrow IPC streams here, a few thousand at a time (`SpoolWriter`); the exporter
then reads columns that are already typed. It costs the writer ~3 µs/row, so a writer with no time to
spare (the next validated batch already waiting for the commit thread) leaves batches out.

live.db stays the only truth. The spool is never fsynced and may lack any batch (left out as above, a
writer killed before it wrote them, a batch with rows validated by Pydantic or ignored as duplicates,
a full disk, the size cap). The exporter uses spool rows only for runs whose seq and commit time
equal live.db's, row by row, and reads everything else from live.db as before; so a missing, stale
or torn spool costs speed, never a row.

Layout: `<live.db dir>/export-spool/<first_seq>.open/` is the segment a writer is appending to (it
holds `lock`, flocked while it writes: freed by any death), `<first_seq>-<last_seq>/` a finished one.
In each, `_envelope.arrows` has the envelopes (seq order) and `<event_type>.arrows` that type's
payload columns, one batch per write; the envelope batch is written last, so a row counts as spooled
once it is there. A writer starting up removes open segments no live writer holds (their last batch
may be torn, and after a power loss their pages may be garbage); the exporter removes finished
segments its watermark has passed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from observability.core.io.spool_columns import ENVELOPE, envelope_batch, stream_schema, type_batch
from observability.core.live_store import LIVE_FEED_COLUMNS

FLUSH_ROWS: Final = 4096
"""Committed rows gathered before they are written (see `SpoolWriter`)."""

FLUSH_SECONDS: Final = 0.25
"""...or for at most this long."""

SEGMENT_ROWS: Final = 50_000
"""Rows per segment. A reader (the query layer, every second or so) reads the open segment from its
start, so it must stay small; the exporter deletes each finished segment its watermark has passed."""

MAX_BYTES: Final = 1 << 30
"""The spool stops growing here (an export that cannot run, a target that is down): live.db has every
row, and the export reads those from there."""

_EVENT_TYPE: Final = LIVE_FEED_COLUMNS.index("event_type")
_PAYLOAD: Final = LIVE_FEED_COLUMNS.index("payload")
_LOCK: Final = "lock"
_OPEN: Final = ".open"


def _first_last(name: str) -> tuple[int, int | None] | None:
    """(first, last) of a finished segment's name, (first, None) of an open one's; None: not a segment."""
    try:
        if name.endswith(_OPEN):
            return int(name[: -len(_OPEN)]), None
        first, last = name.split("-")
        return int(first), int(last)
    except ValueError:
        return None


def _segments(root: Path) -> list[tuple[int, int | None, Path]]:
    if not root.is_dir():
        return []
    found = [(*fl, p) for p in root.iterdir() if (fl := _first_last(p.name)) is not None]
    return sorted(found, key=lambda s: s[0])


def spool_bytes(root: Path) -> int:
    return sum(f.stat().st_size for _, _, seg in _segments(root) for f in seg.iterdir() if f.is_file())


def remove_dead_segments(root: Path) -> int:
    """Delete open segments whose writer is gone (their lock is free); return how many."""
    removed = 0
    for _, last, seg in _segments(root):
        if last is not None:
            continue
        try:
            with open(seg / _LOCK, "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer's
        except OSError:
            pass
        shutil.rmtree(seg, ignore_errors=True)
        removed += 1
    return removed


def remove_exported(root: Path, watermark: int) -> int:
    """Delete finished segments whose every row is at or below the export watermark; return how many."""
    removed = 0
    for _, last, seg in _segments(root):
        if last is not None and last <= watermark:
            shutil.rmtree(seg, ignore_errors=True)
            removed += 1
    return removed


@dataclass
class _Segment:
    path: Path
    first: int
    lock: BinaryIO
    last: int = 0
    rows: int = 0
    streams: dict[str, tuple[pa.NativeFile, pa.ipc.RecordBatchStreamWriter]] = field(default_factory=dict)

    def write(self, event_type: str, batch: pa.RecordBatch) -> None:
        """Append to a stream (the envelope's or an event type's); flushed, so the exporter sees whole batches."""
        stream = self.streams.get(event_type)
        if stream is None:
            sink = pa.BufferedOutputStream(pa.OSFile(str(self.path / f"{event_type}.arrows"), "wb"), 1 << 16)
            schema = stream_schema(event_type)
            assert schema is not None, event_type
            stream = sink, pa.ipc.new_stream(sink, schema)
            self.streams[event_type] = stream
        stream[1].write_batch(batch)
        stream[0].flush()

    def close(self) -> None:
        for sink, writer in self.streams.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()
            with contextlib.suppress(OSError):
                sink.close()
        self.streams.clear()
        self.lock.close()


class SpoolWriter:
    """Appends committed rows to the spool (the writer process's commit thread); never raises.

    Rows are gathered until `flush_rows` of them or `flush_seconds` have passed (or `flush()`), then
    written: building a commit's Arrow batches costs ~1 ms whatever its size (columns per event type),
    so a quiet engine's commits of a few dozen rows cost ~8 µs/row spooled one by one, ~3 µs gathered.
    Any failure (full disk, a removed directory) drops the segment in hand and spooling resumes with a
    new one `segment_rows` rows later: the rows are in live.db either way.
    """

    def __init__(self, root: Path, *, segment_rows: int = SEGMENT_ROWS, max_bytes: int = MAX_BYTES,
                 flush_rows: int = FLUSH_ROWS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.root = root
        self.segment_rows = segment_rows
        self.max_bytes = max_bytes
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.skipped_rows = 0
        """Rows committed but not spooled (they export from live.db)."""
        self._segment: _Segment | None = None
        self._resume_at = 0
        self._rows: list[tuple[Any, ...]] = []
        self._payloads: list[Any] = []
        self._first = 0
        self._since = 0.0
        with contextlib.suppress(OSError):
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            remove_dead_segments(root)

    def append(self, first_seq: int | None, rows: Sequence[tuple[Any, ...]], payloads: Sequence[Any]) -> bool:
        """Spool rows committed with seqs first_seq, first_seq+1, ...; `payloads` are their decoded Structs.

        False when the batch will not be spooled: seqs unknown (None: live.db ignored some rows as
        duplicates), a row without a Struct (Pydantic's path), the cap, a failure. A segment may have such
        gaps: the exporter reads those rows from live.db.
        """
        if not rows:
            return True
        if first_seq is None or None in payloads:
            return self._left_out(len(rows))
        if self._rows and first_seq != self._first + len(self._rows):
            self.flush()  # a gap: what is gathered is one run of seqs
        if not self._rows:
            self._first, self._since = first_seq, time.monotonic()
        self._rows.extend(rows)
        self._payloads.extend(payloads)
        if len(self._rows) >= self.flush_rows or time.monotonic() - self._since >= self.flush_seconds:
            return self.flush()
        return True

    def flush(self) -> bool:
        """Write the gathered rows (the writer also calls this when idle, so readers never wait long)."""
        rows, payloads, first_seq = self._rows, self._payloads, self._first
        if not rows:
            return True
        self._rows, self._payloads = [], []
        if self._segment is not None and first_seq <= self._segment.last:
            self._finish()  # seqs went back (a replaced live.db): never mix two runs of seqs in one segment
        if self._segment is None and not self._open(first_seq):
            return self._left_out(len(rows))
        seg = self._segment
        assert seg is not None
        try:
            columns = list(zip(*rows, strict=True))
            event_types, texts = columns[_EVENT_TYPE], columns[_PAYLOAD]
            groups: dict[str, list[int]] = {}
            for i, event_type in enumerate(event_types):
                groups.setdefault(event_type, []).append(i)
            for event_type, idx in groups.items():
                seqs = np.asarray(idx, dtype=np.int64) + first_seq
                seg.write(event_type, type_batch(event_type, seqs, [texts[i] for i in idx],
                                                 [payloads[i] for i in idx]))
            seg.write(ENVELOPE, envelope_batch(first_seq, columns))  # last: a row is spooled once this is written
        except (OSError, pa.ArrowException, ValueError, TypeError):
            self._drop()
            return self._left_out(len(rows))
        seg.rows += len(rows)
        seg.last = first_seq + len(rows) - 1
        if seg.rows >= self.segment_rows:
            self._finish()
        return True

    def _left_out(self, rows: int) -> bool:
        """Count rows that will not be spooled (they export from live.db); False, for `append` and `flush`."""
        self.skipped_rows += rows
        return False

    def skip(self, rows: int) -> None:
        """Leave a committed batch out (the writer has no time for it), and what is gathered with it: those
        rows export from live.db."""
        self._left_out(rows + len(self._rows))
        self._rows, self._payloads = [], []

    def close(self) -> None:
        """Write what is gathered and finish the open segment (the writer is stopping)."""
        self.flush()
        self._finish()

    def _open(self, first_seq: int) -> bool:
        if first_seq < self._resume_at:
            return False
        try:
            if spool_bytes(self.root) >= self.max_bytes:
                self._resume_at = first_seq + self.segment_rows
                return False
            path = self.root / f"{first_seq:020d}{_OPEN}"
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # someone may have removed the spool
            path.mkdir(mode=0o700)
            lock = open(path / _LOCK, "a+b")  # noqa: SIM115 - held for the segment's life
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._resume_at = first_seq + self.segment_rows
            return False
        self._segment = _Segment(path, first_seq, lock)
        return True

    def _finish(self) -> None:
        seg, self._segment = self._segment, None
        if seg is None:
            return
        seg.close()
        if not seg.rows:
            shutil.rmtree(seg.path, ignore_errors=True)
            return
        try:
            os.replace(seg.path, self.root / f"{seg.first:020d}-{seg.last:020d}")
        except OSError:
            shutil.rmtree(seg.path, ignore_errors=True)

    def _drop(self) -> None:
        seg, self._segment = self._segment, None
        if seg is not None:
            seg.close()
            shutil.rmtree(seg.path, ignore_errors=True)
            self._resume_at = seg.last + 1 + self.segment_rows


def _read_stream(path: Path) -> pa.Table | None:
    """Every complete batch of a stream (a batch being appended, or torn by a crash, ends it)."""
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (OSError, pa.ArrowException):
        return None
    batches = []
    with contextlib.suppress(OSError, pa.ArrowException):
        for batch in reader:
            batches.append(batch)
    return pa.Table.from_batches(batches, reader.schema) if batches else None


class SpoolReader:
    """The exporter's view of the spool: per event type, the spooled rows in a seq range.

    Segments are read (memory-mapped) once per reader; an open segment shows the batches complete when
    it was first read.
    """

    def __init__(self, root: Path) -> None:
        self._segments = _segments(root)
        self._tables: dict[Path, dict[str, tuple[pa.Table, npt.NDArray[np.int64]]]] = {}

    def _load(self, seg: Path) -> dict[str, tuple[pa.Table, npt.NDArray[np.int64]]]:
        """Each stream's table, with its seq column as one numpy array (to find ranges by binary search)."""
        if seg not in self._tables:
            tables = {}
            for f in seg.glob("*.arrows"):
                table = _read_stream(f)
                schema = stream_schema(f.stem)
                if table is not None and schema is not None and table.schema.equals(schema):
                    tables[f.stem] = table, table["seq"].to_numpy()
            self._tables[seg] = tables
        return self._tables[seg]

    def rows(self, after: int, until: int) -> dict[str, pa.Table]:
        """Spooled rows with after < seq <= until, per event type, each in seq order."""
        parts: dict[str, list[pa.Table]] = {}
        for i, (first, last, seg) in enumerate(self._segments):
            nxt = self._segments[i + 1][0] if i + 1 < len(self._segments) else None
            if first > until or (last if last is not None else (nxt - 1 if nxt is not None else until)) <= after:
                continue
            for event_type, (table, seq) in self._load(seg).items():
                lo, hi = np.searchsorted(seq, [after, until], side="right")
                if hi > lo:
                    parts.setdefault(event_type, []).append(table.slice(lo, hi - lo))
        return {et: pa.concat_tables(ts) if len(ts) > 1 else ts[0] for et, ts in parts.items()}

    def next_seq(self, after: int) -> int | None:
        """The smallest spooled seq above `after` (None: nothing spooled there)."""
        for _, last, seg in self._segments:
            if last is not None and last <= after:
                continue
            envelope = self._load(seg).get(ENVELOPE)
            if envelope is not None:
                i = int(np.searchsorted(envelope[1], after, side="right"))
                if i < len(envelope[1]):
                    return int(envelope[1][i])
        return None
