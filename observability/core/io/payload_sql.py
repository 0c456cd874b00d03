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
from typing import Any, Final

from observability.core.io.columns import PAYLOAD_PLAN, TYPE_COLUMNS


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return _lit(str(value))


def _typed_select(event_type: str) -> str | None:
    """SELECT over `payload` rows of ONE event type: its typed columns (defaults filled in), then payload_rest.

    Why per type: from_json into the struct of every type's fields made DuckDB build and hand over
    ~80 mostly-null columns per row; one type's struct has 4-24. The keys without a column are read
    by the same from_json as raw JSON (one parse per row; `payload -> key` parsed it again per key).
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
    exprs = []
    for col in cols:
        ref = "j." + ".".join(f'"{p}"' for p in col.json_path)
        default = dict(col.defaults).get(event_type)
        expr = ref if default is None else f"coalesce({ref}, {_sql_literal(default)})::{col.duck_type}"
        exprs.append(f'{expr} AS "{col.name}"')
    # the same single parse hands over the keys without a column (a sub-model with some typed fields is read again)
    tree.update({k: "JSON" for k in rest if k not in tree})
    pairs = ", ".join(f"{_lit(k)}, payload -> {_lit('$.' + k)}" if isinstance(tree[k], dict) else f'{_lit(k)}, j."{k}"'
                      for k in rest)
    exprs.append(f"nullif(json_merge_patch('{{}}', json_object({pairs}))::VARCHAR, '{{}}') AS payload_rest"
                 if rest else "NULL::VARCHAR AS payload_rest")
    parsed = f"from_json(payload, {_lit(json.dumps(tree))}) AS j"
    return f"SELECT {', '.join(exprs)} FROM (SELECT payload, {parsed} FROM __payloads)"


def _value(where: tuple[tuple[str, str], ...] | str) -> str:
    if isinstance(where, str):
        return f'"{where}"'
    pairs = ", ".join(f'{_lit(sub)}, "{col}"' for sub, col in where)
    return f'CASE WHEN "{where[0][1]}" IS NULL THEN NULL ELSE json_object({pairs}) END'


def _payload_expr() -> str:
    branches = []
    for event_type, keys in PAYLOAD_PLAN.items():
        typed = f"json_object({', '.join(f'{_lit(k)}, {_value(where)}' for k, where in keys if where is not None)})"
        if any(where is None for _, where in keys):
            typed = f"json_merge_patch({typed}, coalesce(payload_rest, '{{}}'))"
        branches.append(f"WHEN {_lit(event_type)} THEN {typed}::VARCHAR")
    return f"CASE event_type {' '.join(branches)} ELSE payload_rest END"


TYPED_SQL: Final[dict[str, str]] = {et: sql for et in PAYLOAD_PLAN if (sql := _typed_select(et)) is not None}
"""Per event type, over a table `__payloads(payload)` of that type's rows: the typed columns and payload_rest."""

PAYLOAD_SQL: Final = _payload_expr()
"""Over a Parquet row (typed columns, `payload_rest`): the full payload JSON."""
