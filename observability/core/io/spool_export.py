"""Export rows from the spool: typed columns the writer already built, confirmed against live.db.

See `spool` for why. Here a slice of the export is assembled from the spool's envelope and per-event-type
tables in the shape the exporter's pipeline takes from its JSON path (`exporter._Slice`: envelope rows in
seq order and their `TypedRows`). Only rows whose seq and commit time (ts_stored) equal live.db's, row for
row, are exported from here. The exporter checks that while it writes their files (`SpoolSource.checks`):
SQLite counts the matching rows (~0.15 µs/row, on two connections side by side), which then costs no time
before the first file is written; a chunk's watermark moves only once its check passed, and a failed
check (a spool of another live.db, say) redoes the export with each slice checked first. Against ~5 µs/row
to read and type full rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeVar

import adbc_driver_sqlite.dbapi as adbc_sqlite
import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa

from observability.core.io.payload_typing import TYPED_FIELDS, TypedRows, end_to_end
from observability.core.io.spool import SpoolReader
from observability.core.io.spool_columns import ENVELOPE


def _live_rows(readers: Sequence[adbc_sqlite.Connection], after: int, until: int) -> pa.Table:
    """(seq, ts_stored) of live.db's rows with after < seq <= until, in seq order, as int64.

    The range is cut into one part per connection, read side by side: the driver releases the GIL.
    """
    cuts = [after + (until - after) * i // len(readers) for i in range(len(readers) + 1)]

    def part(i: int) -> pa.Table:
        with readers[i].cursor() as cur:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(max(cuts[i + 1] - cuts[i], 1))})
            cur.execute("SELECT seq, ts_stored FROM live_feed WHERE seq > ? AND seq <= ? ORDER BY seq",
                        (cuts[i], cuts[i + 1]))
            table = cur.fetch_arrow_table()
        return table.cast(_LIVE_SCHEMA) if table.num_rows else _LIVE_SCHEMA.empty_table()

    with ThreadPoolExecutor(len(readers), thread_name_prefix="export-check") as pool:
        return pa.concat_tables(pool.map(part, range(len(readers))))


_LIVE_SCHEMA: Final = pa.schema([("seq", pa.int64()), ("ts_stored", pa.int64())])


def _confirmed(seq: npt.NDArray[np.int64], stored: npt.NDArray[np.int64], live: pa.Table) -> int:
    """How many leading spooled rows (seq order) are live.db's rows: the same seq and commit time (ts_stored, µs).

    A commit time is one batch of one live.db: the same events stored into another live.db, or after a
    restore of an older copy, are not taken for these.
    """
    m = min(len(seq), live.num_rows)
    same = (seq[:m] == live["seq"].to_numpy()[:m]) & (stored[:m] == live["ts_stored"].to_numpy()[:m])
    return m if same.all() else int(np.argmin(same))


def _leading(parts: dict[str, pa.Table], k: int) -> tuple[TypedRows, TypedRows] | None:
    """The first `k` spooled envelope rows, or fewer: up to the first whose payload row the spool lacks (a
    torn stream), with their typed payloads; None when that leaves none.

    The payloads are laid out by event type, with `where` giving them in seq order (`live_rows.export_table`
    takes them so; reordering here would move every column twice).
    """
    envelope = parts[ENVELOPE]
    typed = [t for name, t in parts.items() if name != ENVELOPE]
    env_seq = envelope["seq"].to_numpy()
    seqs = [t["seq"].to_numpy() for t in typed]
    seq = np.concatenate(seqs) if typed else np.empty(0, np.int64)
    order = np.argsort(seq, kind="stable")
    m = min(k, len(seq))
    same = seq[order[:m]] == env_seq[:m]
    k = m if same.all() else int(np.argmin(same))
    if k == 0:
        return None
    if k < len(seq):  # payload rows past the k-th envelope row are left out, and the order is that of the rest
        last = int(env_seq[k - 1])
        ends = [int(np.searchsorted(s, last, side="right")) for s in seqs]
        typed = [t.slice(0, end) for t, end in zip(typed, ends, strict=True)]
        order = np.argsort(np.concatenate([s[:end] for s, end in zip(seqs, ends, strict=True)]), kind="stable")
    laid = [({name: t[name] for name in t.column_names}, t.num_rows) for t in typed if t.num_rows]
    return (TypedRows(envelope.slice(0, k), np.arange(k, dtype=np.int64)),
            TypedRows(end_to_end(laid, TYPED_FIELDS), order))


def confirmed_rows(parts: dict[str, pa.Table], live: pa.Table) -> tuple[TypedRows, TypedRows] | None:
    """From spooled rows of a seq range (`SpoolReader.rows`) and live.db's first rows of that range (seq and
    ts_stored as int64, in seq order): the envelope rows (seq order) and typed payloads of the leading run
    the spool has right, None if it has not the first row."""
    envelope = parts.get(ENVELOPE)
    if envelope is None:
        return None
    return _leading(parts, _confirmed(envelope["seq"].to_numpy(), envelope["ts_stored"].cast(pa.int64()).to_numpy(),
                                      live))


def spooled_run(parts: dict[str, pa.Table], after: int) -> tuple[TypedRows, TypedRows] | None:
    """Like `confirmed_rows`, before the check against live.db: the leading run of spooled rows from seq
    after+1 on without a gap in their seqs (live.db's are consecutive)."""
    envelope = parts.get(ENVELOPE)
    if envelope is None:
        return None
    steps = envelope["seq"].to_numpy() - np.arange(envelope.num_rows)  # constant along a run without gaps
    return _leading(parts, int(np.searchsorted(steps, after + 1, side="right")) if steps[0] == after + 1 else 0)


MIN_RUN: Final = 20_000
"""Fewer spooled rows than this, cut short by rows the spool lacks, are read from live.db with them: a
writer that is often behind spools every other batch, and typing each short gap alone (a DuckDB pass of
~10 queries) made the export slower than typing every row."""


T = TypeVar("T")

_COUNT: Final = (
    "WITH c(lo, hi, ts) AS MATERIALIZED (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)) "
    "SELECT count(*) FROM c JOIN live_feed AS l ON l.seq BETWEEN c.lo AND c.hi AND l.ts_stored = c.ts")
"""Rows of live.db that match [first seq, last seq, commit time] triples (a JSON array): a key range per triple.
The triples are unpacked once (the materialized CTE): compared as `json_extract(...)` in the join, SQLite
extracted the commit time again for every row it scanned, half the check's CPU (0.32 -> 0.15 µs/row)."""


@dataclass(frozen=True)
class SpooledSlice:
    """Envelope rows and typed payloads of a slice from the spool."""

    envelope: TypedRows
    typed: TypedRows
    matches: Future[bool]
    """Whether live.db holds these very rows (seq and commit time, row for row); the watermark waits for it."""


def done(value: T) -> Future[T]:
    """A future that already holds `value` (a step of the export's pipeline with nothing left to wait for)."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


@dataclass(frozen=True)
class SpoolSource:
    """The spool and the live.db connections its rows are checked with, for one export."""

    spool: SpoolReader
    readers: tuple[adbc_sqlite.Connection, ...]
    """Read-only ADBC connections to live.db; the check reads one part of each slice on each."""
    min_run: int = MIN_RUN
    checks: ThreadPoolExecutor | None = None
    """Where slices are checked against live.db while their files are written; None: each slice is checked
    before it is taken, and only the run live.db confirms is (after a failed check)."""

    def slice(self, *, after: int, limit: int) -> SpooledSlice | None:
        """Up to `limit` rows above `after`: the leading run the spool has (`spooled_run` / `confirmed_rows`).

        None when the spool cannot give the next row, or only a run shorter than `min_run` cut short by a
        row it lacks: the caller reads that slice from live.db.
        """
        parts = self.spool.rows(after, after + limit)
        if ENVELOPE not in parts:
            return None
        spooled = int(parts[ENVELOPE]["seq"][-1].as_py())
        if self.checks is None:
            live = _live_rows(self.readers, after, spooled)
            got = confirmed_rows(parts, live)
            if got is None or (got[0].table.num_rows < min(self.min_run, live.num_rows)):
                return None
            return SpooledSlice(*got, done(True))
        got = spooled_run(parts, after)
        if got is None:
            return None
        envelope = got[0].table
        last = int(envelope["seq"][-1].as_py())
        if envelope.num_rows < self.min_run and last < spooled:
            return None
        return SpooledSlice(*got, self.checks.submit(self._matches, envelope))

    def _matches(self, envelope: pa.Table) -> bool:
        """Whether live.db holds exactly these rows (seqs without a gap): per commit time, every seq from the
        commit's first spooled row to its last is a row of live.db with that commit time.

        Counted by SQLite itself (seq is the key, so a count equal to the rows is every row): ~0.15 µs/row,
        against ~0.4 to hand both columns of every row over to Arrow and compare them here.
        """
        seq, stored = envelope["seq"].to_numpy(), envelope["ts_stored"].cast(pa.int64()).to_numpy()
        first = np.flatnonzero(np.diff(stored, prepend=stored[0] - 1))
        last = np.append(first[1:], len(seq)) - 1
        commits = np.stack([seq[first], seq[last], stored[first]], axis=1)

        def count(i: int, part: npt.NDArray[np.int64]) -> int:
            with self.readers[i].cursor() as cur:
                cur.execute(_COUNT, (orjson.dumps(part.tolist()).decode(),))
                row = cur.fetchone()
            return int(row[0]) if row else 0

        parts = np.array_split(commits, len(self.readers))
        with ThreadPoolExecutor(len(self.readers), thread_name_prefix="export-check") as pool:
            return sum(pool.map(count, range(len(parts)), parts)) == len(seq)

    def next_seq(self, after: int) -> int | None:
        return self.spool.next_seq(after)
