"""Committed rows -> Arrow record batches of the export's columns: the envelope, and each event type's payloads.

Why: typing payload JSON at export time (DuckDB `from_json`, ~3 µs/row) was the largest share of an
export. The writer has already decoded every payload into a msgspec Struct to validate it
(`wire_check`), so the typed values are in hand there: reading them off the Structs costs a fraction
of a parse. The columns are the ones `columns.TYPE_COLUMNS` derives from the Pydantic models (a key
left out reads as the field's default, which the Struct holds, as `payload_typing` fills it in), and
`payload_rest` holds the keys without a column as the engine sent them (`msgspec.Raw`: no re-encoding;
same meaning as the export's JSON path, which re-renders numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from operator import attrgetter
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from observability.core.io.columns import PAYLOAD_PLAN, RAW_FIELDS, TYPE_COLUMNS, PayloadColumn
from observability.core.live_store import LIVE_FEED_COLUMNS

ENVELOPE: Final = "_envelope"
"""The stream of envelope batches (seq order); each event type has a stream of its own."""

ENVELOPE_FIELDS: Final[tuple[tuple[str, pa.DataType], ...]] = tuple((n, t) for n, t in RAW_FIELDS if n != "payload")
"""The envelope columns of a spool batch: every live_feed column but the payload (its typed columns are in the
event type's stream). With the event id here, the exporter's check against live.db needs only seqs and
commit times, and runs while the files are being written (`spool_export`)."""

_ROW_INDEX: Final = {name: i for i, name in enumerate(LIVE_FEED_COLUMNS)}
"""Where each column sits in a live_feed row tuple (`ingest` / `wire_check.fast_rows` build them in this order)."""

_INT64_TS: Final = {"ts_event", "ts_logged", "ts_stored"}


@cache
def _rest_keys(event_type: str) -> tuple[str, ...]:
    return tuple(k for k, where in PAYLOAD_PLAN[event_type] if where is None)


@cache
def _rest_decoder(event_type: str) -> msgspec.json.Decoder[Any] | None:
    """Decodes only the keys without a column, each as its raw JSON text (other keys are skipped unparsed)."""
    keys = _rest_keys(event_type)
    if not keys:
        return None
    fields = [(k, msgspec.Raw, None) for k in keys]  # absent: None (present, even null: its raw text)
    return msgspec.json.Decoder(msgspec.defstruct(f"Rest_{event_type}", fields, kw_only=True))


def stream_schema(name: str) -> pa.Schema | None:
    """The schema of a spool stream: the envelope's, or an event type's (seq, its typed columns, payload_rest);
    None for a name that is neither."""
    if name == ENVELOPE:
        return _ENVELOPE_SCHEMA
    return _type_schema(name) if name in TYPE_COLUMNS else None


_ENVELOPE_SCHEMA: Final = pa.schema([pa.field(n, t) for n, t in ENVELOPE_FIELDS])


@cache
def _type_schema(event_type: str) -> pa.Schema:
    fields = [pa.field("seq", pa.int64())] + [pa.field(c.name, c.arrow_type) for c in TYPE_COLUMNS[event_type]]
    return pa.schema([*fields, pa.field("payload_rest", pa.string())])


def _getter(col: PayloadColumn) -> Any:
    if len(col.json_path) == 1:
        return attrgetter(col.json_path[0])
    outer, inner = attrgetter(col.json_path[0]), attrgetter(col.json_path[1])
    return lambda p: None if (sub := outer(p)) is None else inner(sub)


@cache
def _plan(event_type: str) -> tuple[tuple[PayloadColumn, Any], ...]:
    return tuple((col, _getter(col)) for col in TYPE_COLUMNS[event_type])


def _rest(event_type: str, payload_texts: Sequence[str]) -> pa.Array:
    decoder = _rest_decoder(event_type)
    if decoder is None:
        return pa.nulls(len(payload_texts), pa.string())
    keys = [(k, f'"{k}":') for k in _rest_keys(event_type)]
    out: list[str | None] = []
    for text in payload_texts:
        rest = decoder.decode(text)
        parts = [label + bytes(raw).decode() for k, label in keys
                 if (raw := getattr(rest, k)) is not None and bytes(raw) != b"null"]
        out.append("{" + ",".join(parts) + "}" if parts else None)
    return pa.array(out, pa.string())


def envelope_batch(first_seq: int, columns: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """Committed rows' envelopes (`columns`: the live_feed row tuples transposed), seqs first_seq, first_seq+1, ..."""
    n = len(columns[0])
    arrays: list[pa.Array] = [pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64))]
    for name, typ in ENVELOPE_FIELDS[1:]:
        values = columns[_ROW_INDEX[name]]
        arrays.append(pa.array(values, pa.int64()).cast(typ) if name in _INT64_TS else pa.array(values, typ))
    return pa.RecordBatch.from_arrays(arrays, schema=_ENVELOPE_SCHEMA)


def type_batch(event_type: str, seqs: npt.NDArray[np.int64], payload_texts: Sequence[str],
               payloads: Sequence[Any]) -> pa.RecordBatch:
    """One event type's committed rows (their seqs, payload JSON and decoded payload Structs) as a spool batch."""
    arrays: list[pa.Array] = [pa.array(seqs)]
    for col, get in _plan(event_type):  # a key the event left out holds the field's default in the Struct
        arrays.append(pa.array(list(map(get, payloads)), col.arrow_type))
    arrays.append(_rest(event_type, payload_texts))
    return pa.RecordBatch.from_arrays(arrays, schema=_type_schema(event_type))
