"""learning.db: the SQL side of the registry (DDL derived from the Pydantic records, pragmas,
schema version, write transactions that survive concurrent writers).

Tables: `models` (ModelRecord columns + artifact hash/kind + training config JSON),
`alias_history` (AliasMove, append-only) with `aliases` as the current pointer,
`config_changes` (ConfigChangeRecord, append-only). `model_lineage` and `gate_threshold_history`
are VIEWs over them: one source of truth, so the lineage or a gate's history can never disagree
with the rows they come from.

Concurrency: every write is one `BEGIN IMMEDIATE` transaction (the write lock is taken up front,
so two writers never deadlock upgrading read locks), with a long busy_timeout and a retry loop
for the rare SQLITE_BUSY that SQLite returns without waiting.
"""

from __future__ import annotations

import json
import sqlite3
import time
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar, get_args, get_origin

from pydantic import BaseModel

from observability.core.live_store import check_schema_version
from observability.core.registry_records import AliasMove, ConfigChangeRecord, canonical_json
from observability.core.schemas import ModelRecord
from observability.core.sql_schema import _DATETIME_NAMES, column_ddl, columns_for
from observability.errors import DataDirError, SchemaVersionError

LEARNING_SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_MS: Final = 30_000
"""Registry writes are rare and short, but an artifact copy or a burst of registrations from
Hamilton may hold the lock for a while; waiting is always better than losing a record."""
WRITE_RETRIES: Final = 20

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")

MODEL_COLUMNS: Final = columns_for(ModelRecord, exclude=("model_id",))
MODEL_EXTRA_COLUMNS: Final = [("artifact_sha256", "TEXT", False), ("artifact_kind", "TEXT", False),
                              ("training_config", "TEXT", True)]
ALIAS_COLUMNS: Final = columns_for(AliasMove, exclude=("seq",))
CHANGE_COLUMNS: Final = columns_for(ConfigChangeRecord, exclude=("change_seq",))

LEARNING_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS schema_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
  model_id TEXT PRIMARY KEY,
  {column_ddl(MODEL_COLUMNS)},
  {column_ddl(MODEL_EXTRA_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS models_parent ON models(parent_model_id);
CREATE INDEX IF NOT EXISTS models_created ON models(created_at);
CREATE VIEW IF NOT EXISTS model_lineage AS
  SELECT c.model_id, c.parent_model_id, c.created_at,
         p.metrics AS metrics_before, c.metrics AS metrics_after
  FROM models c JOIN models p ON p.model_id = c.parent_model_id;
CREATE TABLE IF NOT EXISTS alias_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  {column_ddl(ALIAS_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS alias_history_alias ON alias_history(alias, changed_at, seq);
CREATE TABLE IF NOT EXISTS aliases (
  alias TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  seq INTEGER NOT NULL REFERENCES alias_history(seq)
);
CREATE TABLE IF NOT EXISTS config_changes (
  change_seq INTEGER PRIMARY KEY AUTOINCREMENT,
  {column_ddl(CHANGE_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS config_changes_key ON config_changes(key, ts, change_seq);
CREATE INDEX IF NOT EXISTS config_changes_gate ON config_changes(gate, ts, change_seq) WHERE gate IS NOT NULL;
CREATE VIEW IF NOT EXISTS gate_threshold_history AS
  SELECT change_seq, gate, ts, key, old_value, new_value, changed_by, reason
  FROM config_changes WHERE gate IS NOT NULL;
"""

EXPECTED_COLUMNS: Final[dict[str, set[str]]] = {
    "models": {"model_id", *(c[0] for c in MODEL_COLUMNS), *(c[0] for c in MODEL_EXTRA_COLUMNS)},
    "alias_history": {"seq", *(c[0] for c in ALIAS_COLUMNS)},
    "config_changes": {"change_seq", *(c[0] for c in CHANGE_COLUMNS)},
}


# ---------------------------------------------------------------- row <-> record


def _is_json_field(annotation: Any) -> bool:
    """dict/list/Any/sub-model fields are stored as JSON text (see sql_schema's mapping)."""
    while get_origin(annotation) in (typing.Annotated, typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) is not typing.Annotated and len(args) != 1:
            return False
        annotation = args[0]
    if annotation is Any or get_origin(annotation) in (dict, list):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_datetime_field(annotation: Any) -> bool:
    while get_origin(annotation) in (typing.Annotated, typing.Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return isinstance(annotation, type) and (issubclass(annotation, datetime) or annotation.__name__ in _DATETIME_NAMES)


def to_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return round(ts.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def record_to_row(record: BaseModel, columns: list[tuple[str, str, bool]]) -> list[Any]:
    """Values for `columns` from a record: datetimes as µs, JSON fields as canonical JSON, bools as 0/1."""
    fields = type(record).model_fields
    row: list[Any] = []
    for name, _typ, _null in columns:
        value = getattr(record, name)
        annotation = fields[name].annotation
        if value is None:
            row.append(None)
        elif _is_datetime_field(annotation):
            row.append(to_us(value))
        elif _is_json_field(annotation):
            row.append(canonical_json(_plain(value)))
        elif isinstance(value, bool):
            row.append(int(value))
        else:
            row.append(value)
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def row_to_record(model: type[R], row: sqlite3.Row) -> R:
    """Inverse of `record_to_row` for the columns of `row` that are fields of `model`."""
    data: dict[str, Any] = {}
    present = set(row.keys())  # `in row` would test values: sqlite3.Row is a sequence
    for name, field in model.model_fields.items():
        if name not in present:
            continue
        value = row[name]
        if value is not None and _is_datetime_field(field.annotation):
            value = from_us(value)
        elif value is not None and _is_json_field(field.annotation):
            value = json.loads(value)
        data[name] = value
    return model.model_validate(data)


# ---------------------------------------------------------------- connections


def _check_columns(conn: sqlite3.Connection, path: Path) -> None:
    """The tables must hold every column the records need; a mismatch means another schema wrote them."""
    for table, expected in EXPECTED_COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        missing = expected - have
        if have and missing:
            raise SchemaVersionError(
                f"{path}: table {table} lacks columns {sorted(missing)}; it was written by an incompatible "
                "huracan-observability; move learning.db aside or upgrade the package"
            )


def with_retries(action: Callable[[], T]) -> T:
    """Run `action`, retrying when SQLite reports the database busy/locked despite busy_timeout."""
    delay = 0.01
    for attempt in range(WRITE_RETRIES):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            msg = str(exc).lower()
            if ("locked" not in msg and "busy" not in msg) or attempt == WRITE_RETRIES - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One BEGIN IMMEDIATE ... COMMIT; rolled back on any error."""
    with_retries(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
        with_retries(lambda: conn.execute("COMMIT"))
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def open_learning_db(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) learning.db read-write: pragmas, version check, schema."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        check_schema_version(conn, path, LEARNING_SCHEMA_VERSION)
        with_retries(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=FULL")  # rare writes; an audit trail should survive power loss
        conn.execute("PRAGMA foreign_keys=ON")
        with write_txn(conn):
            check_schema_version(conn, path, LEARNING_SCHEMA_VERSION)
            _check_columns(conn, path)
            for statement in LEARNING_DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO schema_meta(key, value) VALUES ('schema_version', ?)",
                         (str(LEARNING_SCHEMA_VERSION),))
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataDirError(f"{path}: cannot open as a registry database ({exc}); "
                           "move it aside or point --data-dir elsewhere") from None
    except BaseException:
        conn.close()
        raise
    return conn


def open_learning_readonly(path: Path) -> sqlite3.Connection:
    """Open learning.db with mode=ro (readers: TUI, analytics, CLI); DataDirError when absent."""
    if not path.exists():
        raise DataDirError(f"{path}: no model registry here; run `huracan-obs init` or pass --data-dir")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        check_schema_version(conn, path, LEARNING_SCHEMA_VERSION)
        _check_columns(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataDirError(f"{path}: cannot read the registry database ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn
