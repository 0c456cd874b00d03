"""SQL that splits a payload into typed columns + `payload_rest`, and puts it back together.

Parquet keeps every payload key once: as a typed column when it has one, else inside the
`payload_rest` JSON. Readers rebuild the full payload JSON only when a query asks for it — DuckDB
drops unused view columns, so scans that never touch `payload` pay nothing.

The rebuilt payload has the same meaning for the Pydantic models, not the same bytes: typed keys
come first (absent ones as null, defaults filled in), then the others; a null-valued key without a
typed column is left out (JSON merge-patch semantics), which every model reads as its None default.
"""

from __future__ import annotations

from typing import Final

from observability.core.io.columns import PAYLOAD_PLAN


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rest_expr() -> str:
    branches = []
    for event_type, keys in PAYLOAD_PLAN.items():
        rest = [k for k, where in keys if where is None]
        if rest:
            pairs = ", ".join(f"{_lit(k)}, payload -> {_lit('$.' + k)}" for k in rest)
            branches.append(f"WHEN {_lit(event_type)} THEN json_merge_patch('{{}}', json_object({pairs}))::VARCHAR")
    return f"nullif(CASE event_type {' '.join(branches)} ELSE NULL END, '{{}}')"


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


REST_SQL: Final = _rest_expr()
"""Over a live row (`event_type`, `payload`): the JSON of the keys without a typed column, or NULL."""

PAYLOAD_SQL: Final = _payload_expr()
"""Over a Parquet row (typed columns, `payload_rest`): the full payload JSON."""
