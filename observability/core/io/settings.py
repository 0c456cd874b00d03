"""DuckDB settings changed for one block of statements, restored after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import duckdb

SMALL_WORK_THREADS: Final = 1
"""Threads for a block of many small statements (a warm incremental refresh: the rows of a second, a few
minutes of trades, minute partials). Why: each statement's pipelines are too small to split, and handing
their tasks to a second thread cost more CPU than it saved (~15 % of a warm refresh at 10 M events, more on
a busy 2-core box, where that thread also waits for a core)."""


@contextmanager
def duck_settings(con: duckdb.DuckDBPyConnection, **values: object) -> Iterator[None]:
    """Run the block with these settings (`name=value`, values as SQL literals), then set them back."""
    names = list(values)
    before = con.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchall()[0]
    for name, value in values.items():
        con.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        for name, value in zip(names, before, strict=True):
            con.execute(f"SET {name} = {_literal(value)}")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
