"""SQL that splits a payload into typed columns + `payload_rest`, and puts it back together.

Parquet keeps every payload key once: as a typed column when it has one, else inside the
`payload_rest` JSON. Readers rebuild the full payload JSON only when a query asks for it — DuckDB
drops unused view columns, so scans that never touch `payload` pay nothing.

The rebuilt payload has the same meaning for the Pydantic models, not the same bytes: typed keys
come first (absent ones as null, defaults filled in), then the others; a null-valued key without a
typed column is left out (JSON merge-patch semantics), which every model reads as its None default.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from observability.core.io.columns import PAYLOAD_PLAN, TYPE_COLUMNS, PayloadColumn


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TypeQuery:
    """How one event type's payloads become typed columns (see `payload_typing`).

    `sql` over `__payloads(payload)` returns the struct `j` of the type's fields, and the raw JSON of
    any key without a column that is also a struct of typed fields; flattened, column `result` of
    `columns` holds each typed column (NULL: the `default` applies), and each `rest` result the raw
    JSON of a key without a column.
    """

    sql: str
    columns: tuple[tuple[PayloadColumn, str, Any], ...]
    """(column, result column, default or None)."""
    rest: tuple[tuple[str, str], ...]
    """(payload key, result column)."""


def _type_query(event_type: str) -> TypeQuery | None:
    """Why per type: from_json into the struct of every type's fields made DuckDB build and hand over
    ~80 mostly-null columns per row; one type's struct has 4-24. And why only the struct: flattening it
    in Arrow is free, while 20 extract/coalesce expressions and building payload_rest with
    json_merge_patch in SQL cost ~25% of the typing (the keys without a column are read as raw JSON by
    the same single parse).
    """
    cols = TYPE_COLUMNS[event_type]
    rest = [k for k, where in PAYLOAD_PLAN[event_type] if where is None]
    if not cols and not rest:
        return None
    tree: dict[str, Any] = {}
    for col in cols:
        node = tree
        for part in col.json_path[:-1]:
            node = node.setdefault(part, {})
        node[col.json_path[-1]] = col.duck_type
    again = [k for k in rest if k in tree]  # a sub-model with some typed fields: its JSON is read again
    tree.update({k: "JSON" for k in rest if k not in tree})
    extra = "".join(f", payload -> {_lit('$.' + k)} AS \"rest.{k}\"" for k in again)
    return TypeQuery(
        sql=f"SELECT from_json(payload, {_lit(json.dumps(tree))}) AS j{extra} FROM __payloads",
        columns=tuple((c, "j." + ".".join(c.json_path), dict(c.defaults).get(event_type)) for c in cols),
        rest=tuple((k, f"rest.{k}" if k in again else f"j.{k}") for k in rest),
    )


TYPE_QUERIES: Final[dict[str, TypeQuery]] = {et: q for et in PAYLOAD_PLAN if (q := _type_query(et)) is not None}
"""Per event type with a payload model: how its payloads are typed."""


def _value(where: tuple[tuple[str, str], ...] | str) -> str:
    if isinstance(where, str):
        return f'"{where}"'
    pairs = ", ".join(f'{_lit(sub)}, "{col}"' for sub, col in where)
    return f'CASE WHEN "{where[0][1]}" IS NULL THEN NULL ELSE json_object({pairs}) END'


def payload_sql(event_types: Collection[str] | None = None) -> str:
    """Over a Parquet row (typed columns, `payload_rest`): the full payload JSON. With `event_types`, only
    their branches (a row of another type reads as its `payload_rest`): for rows known to be of those types,
    whose scan then reads only their columns (a trace's rows: ~1/3 fewer columns and a smaller plan)."""
    branches = []
    for event_type, keys in PAYLOAD_PLAN.items():
        if event_types is not None and event_type not in event_types:
            continue
        typed = f"json_object({', '.join(f'{_lit(k)}, {_value(where)}' for k, where in keys if where is not None)})"
        if any(where is None for _, where in keys):
            typed = f"json_merge_patch({typed}, coalesce(payload_rest, '{{}}'))"
        branches.append(f"WHEN {_lit(event_type)} THEN {typed}::VARCHAR")
    return f"CASE event_type {' '.join(branches)} ELSE payload_rest END"


PAYLOAD_SQL: Final = payload_sql()
"""Over a Parquet row (typed columns, `payload_rest`): the full payload JSON."""
