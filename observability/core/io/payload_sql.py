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


def sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return _lit(str(value))


def _rest_of(event_type: str) -> str | None:
    """JSON of one event type's payload keys without a typed column (None: every key has one)."""
    rest = [k for k, where in PAYLOAD_PLAN[event_type] if where is None]
    if not rest:
        return None
    pairs = ", ".join(f"{_lit(k)}, payload -> {_lit('$.' + k)}" for k in rest)
    return f"json_merge_patch('{{}}', json_object({pairs}))::VARCHAR"


def _rest_expr() -> str:
    branches = [f"WHEN {_lit(et)} THEN {rest}" for et in PAYLOAD_PLAN if (rest := _rest_of(et)) is not None]
    return f"nullif(CASE event_type {' '.join(branches)} ELSE NULL END, '{{}}')"


def _typed_select(event_type: str) -> str | None:
    """SELECT over `payload` rows of ONE event type: its typed columns (defaults filled in), then payload_rest.

    Why per type: from_json into the struct of every type's fields made DuckDB build and hand over
    ~80 mostly-null columns per row; one type's struct has 4-24, which cut the typing cost ~3x.
    """
    cols = TYPE_COLUMNS[event_type]
    rest = _rest_of(event_type)
    if not cols and rest is None:
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
        expr = ref if default is None else f"coalesce({ref}, {sql_literal(default)})::{col.duck_type}"
        exprs.append(f'{expr} AS "{col.name}"')
    exprs.append(f"nullif({rest}, '{{}}') AS payload_rest" if rest is not None else "NULL::VARCHAR AS payload_rest")
    struct = f", from_json(payload, {_lit(json.dumps(tree))}) AS j" if cols else ""
    return f"SELECT {', '.join(exprs)} FROM (SELECT payload{struct} FROM __payloads)"


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

REST_SQL: Final = _rest_expr()
"""Over a live row (`event_type`, `payload`): the JSON of the keys without a typed column, or NULL."""

PAYLOAD_SQL: Final = _payload_expr()
"""Over a Parquet row (typed columns, `payload_rest`): the full payload JSON."""
