"""Export rows from the spool: typed columns the writer already built, confirmed against live.db.

See `spool` for why. Here a slice of the export is assembled from the spool's envelope and per-event-type
tables in the shape the exporter's pipeline takes from its JSON path (`exporter._Slice`: envelope rows in
seq order and their `TypedRows`), for only the leading run of rows whose seq and commit time equal live.db's,
row for row. That read brings the event ids too, which the spool leaves out.
It costs ~0.3 µs/row, against ~5 µs to read and type the full rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import adbc_driver_sqlite.dbapi as adbc_sqlite
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from observability.core.io.columns import RAW_FIELDS
from observability.core.io.payload_typing import TYPED_FIELDS, TypedRows, end_to_end
from observability.core.io.spool import SpoolReader
from observability.core.io.spool_columns import ENVELOPE

ENVELOPE_SCHEMA = pa.schema([pa.field(n, t) for n, t in RAW_FIELDS if n != "payload"])
"""The exporter's envelope rows: live_feed's columns without the payload."""


def _live_rows(readers: Sequence[adbc_sqlite.Connection], after: int, until: int) -> pa.Table:
    """(seq, event_id, ts_stored) of live.db's rows with after < seq <= until, in seq order.

    The range is cut into one part per connection, read side by side: the driver releases the GIL, and
    this read is most of what taking rows from the spool costs.
    """
    cuts = [after + (until - after) * i // len(readers) for i in range(len(readers) + 1)]

    def part(i: int) -> pa.Table:
        with readers[i].cursor() as cur:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(max(cuts[i + 1] - cuts[i], 1))})
            cur.execute("SELECT seq, event_id, ts_stored FROM live_feed WHERE seq > ? AND seq <= ? ORDER BY seq",
                        (cuts[i], cuts[i + 1]))
            table = cur.fetch_arrow_table()
        return table.cast(_LIVE_SCHEMA) if table.num_rows else _LIVE_SCHEMA.empty_table()

    with ThreadPoolExecutor(len(readers), thread_name_prefix="export-check") as pool:
        return pa.concat_tables(pool.map(part, range(len(readers))))


_LIVE_SCHEMA: Final = pa.schema([("seq", pa.int64()), ("event_id", pa.string()), ("ts_stored", pa.int64())])


def _confirmed(seq: npt.NDArray[np.int64], stored: npt.NDArray[np.int64], live: pa.Table) -> int:
    """How many leading spooled rows (seq order) are live.db's rows: the same seq and commit time (ts_stored, µs).

    A commit time is one batch of one live.db: the same events stored into another live.db, or after a
    restore of an older copy, are not taken for these.
    """
    m = min(len(seq), live.num_rows)
    same = (seq[:m] == live["seq"].to_numpy()[:m]) & (stored[:m] == live["ts_stored"].to_numpy()[:m])
    return m if same.all() else int(np.argmin(same))


def confirmed_rows(parts: dict[str, pa.Table], live: pa.Table) -> tuple[TypedRows, TypedRows] | None:
    """From spooled rows of a seq range (`SpoolReader.rows`) and live.db's first rows of that range
    (seq, event_id, ts_stored as int64, in seq order): the envelope rows (seq order, event ids from live.db)
    and typed payloads of the leading run the spool has right, None if it has not the first row.

    The payloads are laid out by event type, with `where` giving them in seq order (`live_rows.export_table`
    takes them so; reordering here would move every column twice).
    """
    envelope = parts.get(ENVELOPE)
    typed = [t for name, t in parts.items() if name != ENVELOPE]
    if envelope is None or not typed:
        return None
    env_seq = envelope["seq"].to_numpy()
    k = _confirmed(env_seq, envelope["ts_stored"].cast(pa.int64()).to_numpy(), live)
    seq = np.concatenate([t["seq"].to_numpy() for t in typed])
    order = np.argsort(seq, kind="stable")
    m = min(k, len(seq))  # every confirmed envelope needs its payload row (a torn type stream may lack some)
    same = seq[order[:m]] == env_seq[:m]
    k = m if same.all() else int(np.argmin(same))
    if k == 0:
        return None
    last = int(env_seq[k - 1])
    kept = [t.slice(0, int(np.searchsorted(t["seq"].to_numpy(), last, side="right"))) for t in typed]
    laid = [({name: t[name] for name in t.column_names}, t.num_rows) for t in kept if t.num_rows]
    order = np.argsort(np.concatenate([t["seq"].to_numpy() for t in kept]), kind="stable")
    columns = {name: envelope[name].slice(0, k) for name in envelope.column_names}
    columns["event_id"] = live["event_id"].slice(0, k).cast(pa.string())
    rows = pa.Table.from_arrays([columns[f.name] for f in ENVELOPE_SCHEMA], schema=ENVELOPE_SCHEMA)
    return TypedRows(rows, np.arange(k, dtype=np.int64)), TypedRows(end_to_end(laid, TYPED_FIELDS), order)


MIN_RUN: Final = 20_000
"""Fewer spooled rows than this, cut short by rows the spool lacks, are read from live.db with them: a
writer that is often behind spools every other batch, and typing each short gap alone (a DuckDB pass of
~10 queries) made the export slower than typing every row."""


@dataclass(frozen=True)
class SpoolSource:
    """The spool and the live.db connections its rows are checked with, for one export."""

    spool: SpoolReader
    readers: tuple[adbc_sqlite.Connection, ...]
    """Read-only ADBC connections to live.db; the check reads one part of each slice on each."""
    min_run: int = MIN_RUN

    def slice(self, *, after: int, limit: int) -> tuple[TypedRows, TypedRows] | None:
        """Envelope rows and typed payloads of up to `limit` rows above `after` (`confirmed_rows`).

        None when the spool cannot give the next row (not spooled, or not the row live.db has), or only a
        run shorter than `min_run` before such a row: the caller reads that slice from live.db.
        """
        parts = self.spool.rows(after, after + limit)
        if ENVELOPE not in parts:
            return None
        live = _live_rows(self.readers, after, int(parts[ENVELOPE]["seq"][-1].as_py()))
        got = confirmed_rows(parts, live)
        if got is None or (got[0].table.num_rows < min(self.min_run, live.num_rows)):
            return None
        return got

    def next_seq(self, after: int) -> int | None:
        return self.spool.next_seq(after)
