"""live.db `health` rows -> Arrow with the types of `HealthSnapshot` (bools as BOOLEAN, ts as TIMESTAMPTZ)."""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import pyarrow as pa

from observability.core.live_store import HEALTH_COLUMNS
from observability.core.schemas import HealthSnapshot


def _arrow_type(name: str, sql: str) -> pa.DataType:
    if name == "ts":
        return pa.timestamp("us", tz="UTC")
    if HealthSnapshot.model_fields[name].annotation is bool:
        return pa.bool_()
    return {"INTEGER": pa.int64(), "REAL": pa.float64()}.get(sql, pa.string())


HEALTH_SCHEMA: Final = pa.schema([(name, _arrow_type(name, sql)) for name, sql, _ in HEALTH_COLUMNS])
_SELECT: Final = f"SELECT id, {', '.join(HEALTH_SCHEMA.names)} FROM health WHERE id > ? ORDER BY id"


def fetch_health(conn: sqlite3.Connection, *, after_id: int) -> tuple[pa.Table, int]:
    """Health rows with id > after_id, and the last id read."""
    try:
        rows = conn.execute(_SELECT, (after_id,)).fetchall()
    except sqlite3.OperationalError:
        return HEALTH_SCHEMA.empty_table(), after_id
    if not rows:
        return HEALTH_SCHEMA.empty_table(), after_id
    cols: list[Any] = list(zip(*rows, strict=True))
    arrays = []
    for field, values in zip(HEALTH_SCHEMA, cols[1:], strict=True):
        if field.name == "ts":
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        elif field.type == pa.bool_():
            arrays.append(pa.array([None if v is None else bool(v) for v in values], pa.bool_()))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=HEALTH_SCHEMA), int(rows[-1][0])
