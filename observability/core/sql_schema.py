"""SQL DDL derived from the Pydantic models, so column lists are never hand-copied twice.

Mapping: datetime -> INTEGER microseconds since the epoch (UTC); bool/int -> INTEGER;
float -> REAL; str, enums and string literals -> TEXT; dicts, lists and sub-models -> TEXT (JSON).
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

_DATETIME_NAMES = frozenset({"AwareDatetime", "NaiveDatetime", "PastDatetime", "FutureDatetime"})


def unwrap(annotation: Any) -> tuple[Any, bool]:
    """Unwrap Annotated/Optional; return (inner type, nullable). The inner type is None for a union of
    several types (it has no single column type). Shared by the SQL and the Arrow schema derivations."""
    nullable = False
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(get_args(annotation))
            if len(args) != 1:
                return None, nullable
            annotation = args[0]
        else:
            return annotation, nullable


def sql_type(annotation: Any) -> tuple[str, bool]:
    """SQLite column type for a Pydantic field annotation, and whether it is nullable."""
    inner, nullable = unwrap(annotation)
    if get_origin(inner) is Literal:
        first = get_args(inner)[0]
        return ("INTEGER" if isinstance(first, int) and not isinstance(first, bool) else "TEXT"), nullable
    if isinstance(inner, type):
        if issubclass(inner, datetime) or inner.__name__ in _DATETIME_NAMES or issubclass(inner, bool | int):
            return "INTEGER", nullable
        if issubclass(inner, float):
            return "REAL", nullable
        if issubclass(inner, str | Enum):
            return "TEXT", nullable
    return "TEXT", nullable


def columns_for(model: type[BaseModel], *, exclude: tuple[str, ...] = ()) -> list[tuple[str, str, bool]]:
    """(name, sql type, nullable) for each field of `model`, in declaration order.

    Nullable follows the type (`X | None`), not the default: writers always fill every column.
    """
    out = []
    for name, field in model.model_fields.items():
        if name in exclude:
            continue
        typ, nullable = sql_type(field.annotation)
        out.append((name, typ, nullable))
    return out


def column_ddl(cols: list[tuple[str, str, bool]]) -> str:
    return ",\n  ".join(f"{n} {t}{'' if null else ' NOT NULL'}" for n, t, null in cols)
