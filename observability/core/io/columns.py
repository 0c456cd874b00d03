"""Typed columns of the Parquet event store, derived from the Pydantic models in `schemas.py`.

Why typed columns next to the payload JSON: analytics filter and aggregate on gate, passed,
margin, pnl_net, ... over millions of rows; parsing JSON per row at query time would cost 10-50x
a columnar scan. The JSON stays too, so no field is ever lost and the view `events.payload`
is exactly what was logged.

Rules: every scalar payload field (bool, int, float, str, enum, literal) becomes a column named
like the field; `list[str]` becomes a string list; fields of a nested sub-model (for example the
TradeExecution in `execution`) are flattened one level as `<field>_<sub>`. Datetimes, dicts and
free-form values stay in the JSON only. A name used by two payloads with different types, or
colliding with an envelope column, is a schema bug and fails at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel

from observability.core.schemas import PAYLOAD_CLASSES
from observability.core.sql_schema import unwrap

EXCLUDED_FIELDS: Final = frozenset({"traceback"})
"""Large free text: kept in the payload JSON only, so it does not bloat every scan."""


@dataclass(frozen=True)
class PayloadColumn:
    name: str
    json_path: tuple[str, ...]
    arrow_type: pa.DataType
    duck_type: str
    defaults: tuple[tuple[str, Any], ...]
    """(event_type, default) for payloads whose field has a non-None default: a missing key reads as it."""
    event_types: tuple[str, ...]
    """The event types whose payload model has this field (the only rows where it can be non-null)."""


def _scalar(annotation: Any) -> tuple[pa.DataType, str] | None:
    inner = unwrap(annotation)[0]
    if get_origin(inner) is Literal:
        first = get_args(inner)[0]
        return (pa.string(), "VARCHAR") if isinstance(first, str) else None
    if get_origin(inner) is list:
        item = _scalar(get_args(inner)[0])
        if item is not None and item[1] == "VARCHAR":
            return pa.list_(pa.string()), "VARCHAR[]"
        return None
    if not isinstance(inner, type):
        return None
    if issubclass(inner, bool):
        return pa.bool_(), "BOOLEAN"
    if issubclass(inner, datetime):
        return None
    if issubclass(inner, int):
        return pa.int64(), "BIGINT"
    if issubclass(inner, float):
        return pa.float64(), "DOUBLE"
    if issubclass(inner, str | Enum):
        return pa.string(), "VARCHAR"
    return None


def _model(annotation: Any) -> type[BaseModel] | None:
    inner = unwrap(annotation)[0]
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _collect() -> list[PayloadColumn]:
    found: dict[str, tuple[tuple[str, ...], pa.DataType, str, list[tuple[str, Any]], list[str]]] = {}

    def add(event_type: str, name: str, path: tuple[str, ...], annotation: Any, default: Any) -> None:
        typed = _scalar(annotation)
        if typed is None or name in EXCLUDED_FIELDS:
            return
        entry = found.setdefault(name, (path, typed[0], typed[1], [], []))
        if entry[2] != typed[1] or entry[0] != path:
            raise TypeError(f"payload field {name!r} has conflicting types or paths across event types")
        if default is not None and not isinstance(default, list):
            entry[3].append((event_type, default))
        entry[4].append(event_type)

    for event_type, cls in PAYLOAD_CLASSES.items():
        for fname, field in cls.model_fields.items():
            sub = _model(field.annotation)
            if sub is not None:
                for sname, sfield in sub.model_fields.items():
                    add(event_type, f"{fname}_{sname}", (fname, sname), sfield.annotation, None)
                continue
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            add(event_type, fname, (fname,), field.annotation, default)
    return [PayloadColumn(n, p, a, d, tuple(defs), tuple(types)) for n, (p, a, d, defs, types) in found.items()]


def _payload_plan() -> dict[str, tuple[tuple[str, tuple[tuple[str, str], ...] | str | None], ...]]:
    """Per event type, each payload key in model order and where it is stored.

    A key maps to a column name (scalar), to ((sub_key, column), ...) (a sub-model whose every
    field is a column), or to None: the key is kept in the `payload_rest` JSON.
    """
    names = {c.name for c in PAYLOAD_COLUMNS}
    plan: dict[str, tuple[tuple[str, tuple[tuple[str, str], ...] | str | None], ...]] = {}
    for event_type, cls in PAYLOAD_CLASSES.items():
        keys: list[tuple[str, tuple[tuple[str, str], ...] | str | None]] = []
        for fname, field in cls.model_fields.items():
            sub = _model(field.annotation)
            if sub is not None:
                subs = tuple((s, f"{fname}_{s}") for s in sub.model_fields)
                keys.append((fname, subs if all(c in names for _, c in subs) else None))
            else:
                keys.append((fname, fname if fname in names else None))
        plan[event_type] = tuple(keys)
    return plan


PAYLOAD_COLUMNS: Final[tuple[PayloadColumn, ...]] = tuple(_collect())
PAYLOAD_PLAN: Final = _payload_plan()
TYPE_COLUMNS: Final[dict[str, tuple[PayloadColumn, ...]]] = {
    et: tuple(c for c in PAYLOAD_COLUMNS if et in c.event_types) for et in PAYLOAD_CLASSES
}
"""Per event type, the typed columns its payload can fill (in PAYLOAD_COLUMNS order)."""

RAW_FIELDS: Final[tuple[tuple[str, pa.DataType], ...]] = (
    ("seq", pa.int64()),
    ("event_id", pa.string()),
    ("event_version", pa.int32()),
    ("event_type", pa.string()),
    ("severity", pa.string()),
    ("ts_event", pa.timestamp("us", tz="UTC")),
    ("ts_logged", pa.timestamp("us", tz="UTC")),
    ("source", pa.string()),
    ("symbol", pa.string()),
    ("mode", pa.string()),
    ("trace_id", pa.string()),
    ("payload", pa.string()),
    ("ts_stored", pa.timestamp("us", tz="UTC")),
)
"""A live_feed row in Arrow (timestamps: µs since the epoch, UTC)."""

_clash = {c.name for c in PAYLOAD_COLUMNS} & ({n for n, _ in RAW_FIELDS} | {"date", "payload_rest"})
if _clash:
    raise TypeError(f"payload fields {sorted(_clash)} collide with envelope columns")

FILE_SCHEMA: Final = pa.schema(
    [pa.field("payload_rest" if n == "payload" else n, t) for n, t in RAW_FIELDS]
    + [pa.field(c.name, c.arrow_type) for c in PAYLOAD_COLUMNS]
)
"""Schema of every Parquet file. `payload_rest` is the payload JSON without the keys that have a
typed column (NULL when nothing is left): storing those twice doubled the file size. `date` is not
in the file: it lives in the Hive path."""

WIDE_SCHEMA: Final = FILE_SCHEMA.append(pa.field("payload", pa.string())).append(pa.field("date", pa.date32()))
"""An event row inside a reader or the exporter: file columns, the full payload JSON, the partition date."""
