"""Model and config registry: content-addressed models with lineage and aliases, and an
append-only audit trail of config and gate-threshold changes (`learning.db` + `models/<id>/`).

Months after a trade, this answers: which model (content hash) was champion, built from which code
(git SHA + dirty flag), data (snapshot id) and training config, and which thresholds were live.

- Model id: sha256 of the canonical JSON of the *defining* metadata, which includes the sha256
  of the artifact (see `registry_records.defining_metadata` for the field list). Registering the
  same model twice returns the same id and stores it once.
- Every alias move and every config change is a new row; nothing is updated in place, so history
  can be replayed. "What was live at T" takes the last change with ts <= T; for two changes with
  the same timestamp the later insertion (higher `change_seq`) wins.
- Reads (`readonly=True`) open learning.db with mode=ro, so the TUI or a report can never write.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from observability.core.registry_artifacts import artifact_path, problem_with, store_artifact, stray_dirs
from observability.core.registry_records import (
    AliasMove,
    ConfigChangeRecord,
    DiffEntry,
    artifact_digest,
    canonical_json,
    config_hash,
    data_snapshot_id,
    dataset_manifest,
    defining_metadata,
    model_id_for,
    structured_diff,
)
from observability.core.registry_store import (
    ALIAS_COLUMNS,
    CHANGE_COLUMNS,
    LEARNING_SCHEMA_VERSION,
    MODEL_COLUMNS,
    open_learning_db,
    open_learning_readonly,
    record_to_row,
    row_to_record,
    to_us,
    write_txn,
)
from observability.core.schemas import ModelDelta, ModelRecord
from observability.errors import RegistryError
from observability.paths import DataLayout

__all__ = [
    "LEARNING_SCHEMA_VERSION",
    "AliasMove",
    "ConfigChangeRecord",
    "DiffEntry",
    "Registry",
    "config_hash",
    "data_snapshot_id",
    "dataset_manifest",
    "git_state",
    "structured_diff",
]

_HEX_PREFIX = re.compile(r"[0-9a-f]{4,64}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
_MODEL_INSERT = (
    f"INSERT OR IGNORE INTO models (model_id, {', '.join(c[0] for c in MODEL_COLUMNS)}, "
    f"artifact_sha256, artifact_kind, training_config) VALUES ({', '.join('?' for _ in range(len(MODEL_COLUMNS) + 4))})"
)
_ALIAS_INSERT = (f"INSERT INTO alias_history ({', '.join(c[0] for c in ALIAS_COLUMNS)}) "
                 f"VALUES ({', '.join('?' for _ in ALIAS_COLUMNS)})")
_CHANGE_INSERT = (f"INSERT INTO config_changes ({', '.join(c[0] for c in CHANGE_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in CHANGE_COLUMNS)})")
_LATEST_PER_KEY = """
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY key ORDER BY ts DESC, change_seq DESC) AS rn
  FROM config_changes WHERE ts <= ?
) WHERE rn = 1 ORDER BY key
"""


def git_state(path: str | os.PathLike[str] = ".") -> tuple[str | None, bool]:
    """(HEAD sha, dirty) of the git checkout at `path`; (None, False) outside a repository.

    Dirty means `git status --porcelain` lists anything, untracked files included: an untracked
    module changes what the code does as much as an edited one.
    """
    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return None, False
    status = git("status", "--porcelain")
    dirty = status is None or status.returncode != 0 or bool(status.stdout.strip())
    return head.stdout.strip(), dirty


def _utc(ts: datetime | None, what: str) -> datetime:
    if ts is None:
        return datetime.now(UTC)
    if ts.tzinfo is None:
        raise RegistryError(f"{what} must be timezone-aware; pass e.g. datetime.now(UTC) or a value with +00:00")
    return ts.astimezone(UTC)


def _validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err.get("loc", ())) or "(record)"
    return f"{field}: {err.get('msg', 'invalid')}"


class Registry:
    """The registry over one data directory; see the module docstring for the guarantees."""

    def __init__(self, layout: DataLayout, *, readonly: bool = False) -> None:
        self.layout = layout
        self.readonly = readonly
        # One connection shared by the threads that use this object (hooks may be called from any
        # thread): a write holds the lock for its whole transaction, so no read sees it half-done.
        self._lock = threading.RLock()
        if readonly:
            self._conn = open_learning_readonly(layout.learning_db)
        else:
            layout.ensure()
            self._conn = open_learning_db(layout.learning_db)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _writable(self) -> None:
        if self.readonly:
            raise RegistryError("registry opened read-only; open Registry(layout) without readonly=True to write")

    # ------------------------------------------------------------ models

    def register_model(
        self,
        artifact: bytes | Path | str,
        *,
        name: str,
        metrics: dict[str, float],
        created_by: str,
        reason: str = "",
        parent_model_id: str | None = None,
        git_sha: str | None = None,
        git_dirty: bool = False,
        data_snapshot_id: str | None = None,
        training_config: dict[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> ModelRecord:
        """Store the artifact and its record; idempotent (same defining metadata -> same record).

        `git_sha=None` reads HEAD and the dirty flag from the repository of the current directory;
        a given `git_sha` is taken with the given `git_dirty`.
        """
        self._writable()
        if not name.strip() or not created_by.strip():
            raise RegistryError("register_model needs a non-empty name and created_by (who registers it)")
        parent = self.resolve_id(parent_model_id) if parent_model_id else None
        if git_sha is None:
            git_sha, git_dirty = git_state()
        source: bytes | Path = Path(artifact) if isinstance(artifact, str) else artifact
        digest, kind = artifact_digest(source)
        defining = defining_metadata(
            artifact_sha256=digest, name=name, parent_model_id=parent, git_sha=git_sha, git_dirty=git_dirty,
            data_snapshot_id=data_snapshot_id,
            training_config_hash=config_hash(training_config) if training_config is not None else None,
        )
        model_id = model_id_for(defining)
        existing = self._find(model_id)
        if existing is not None:
            return existing
        size = len(source) if isinstance(source, bytes) else sum(
            f.stat().st_size for f in ([source] if source.is_file() else source.rglob("*")) if f.is_file())
        try:
            record = ModelRecord(
                model_id=model_id, name=name, created_at=_utc(created_at, "created_at"), created_by=created_by,
                reason=reason, parent_model_id=parent, git_sha=git_sha, git_dirty=git_dirty,
                data_snapshot_id=data_snapshot_id, training_config_hash=defining["training_config_hash"],
                metrics=metrics, artifact_size=size,
            )
        except ValidationError as exc:
            raise RegistryError(f"model {name!r}: {_validation_message(exc)}") from None
        store_artifact(self.layout.models_dir, model_id, source, defining)
        tc_json = None if training_config is None else canonical_json(training_config)
        with self._lock, write_txn(self._conn) as conn:
            conn.execute(_MODEL_INSERT, [model_id, *record_to_row(record, MODEL_COLUMNS), digest, kind, tc_json])
        stored = self._find(model_id)
        assert stored is not None  # committed just above (by us or by a concurrent twin)
        return stored

    def _find(self, model_id: str) -> ModelRecord | None:
        row = self._one("SELECT * FROM models WHERE model_id = ?", (model_id,))
        return None if row is None else row_to_record(ModelRecord, row)

    def resolve_id(self, ref: str) -> str:
        """Full model id for a full id, an alias, or a unique id prefix (>= 4 hex characters)."""
        ref = ref.strip()
        if self._one("SELECT 1 FROM models WHERE model_id = ?", (ref,)):
            return ref
        row = self._one("SELECT model_id FROM aliases WHERE alias = ?", (ref,))
        if row is not None:
            return str(row[0])
        if _HEX_PREFIX.fullmatch(ref.lower()):
            rows = self._all("SELECT model_id FROM models WHERE model_id LIKE ? ORDER BY model_id LIMIT 4",
                             (ref.lower() + "%",))
            if len(rows) == 1:
                return str(rows[0][0])
            if len(rows) > 1:
                shown = ", ".join(str(r[0])[:12] for r in rows[:3])
                raise RegistryError(f"model id prefix {ref!r} is ambiguous ({shown}, ...); give more characters")
        raise RegistryError(f"unknown model {ref!r}: not a model id, a unique id prefix (4+ hex characters) "
                            "or an alias; see `huracan-obs registry list`")

    def get_model(self, ref: str) -> ModelRecord:
        record = self._find(self.resolve_id(ref))
        assert record is not None
        return record

    def list_models(self) -> list[ModelRecord]:
        rows = self._all("SELECT * FROM models ORDER BY created_at, rowid")
        return [row_to_record(ModelRecord, r) for r in rows]

    def training_config(self, ref: str) -> dict[str, Any] | None:
        row = self._one("SELECT training_config FROM models WHERE model_id = ?", (self.resolve_id(ref),))
        return None if row is None or row[0] is None else dict(json.loads(row[0]))

    def artifact_path(self, ref: str) -> Path:
        """Where the stored artifact is (a file, or a directory for directory artifacts)."""
        return artifact_path(self.layout.models_dir, self.resolve_id(ref))

    def lineage(self, ref: str) -> list[ModelRecord]:
        """The model, its parent, grandparent, ... (newest first)."""
        out: list[ModelRecord] = []
        seen: set[str] = set()
        current: str | None = self.resolve_id(ref)
        while current is not None and current not in seen:
            seen.add(current)
            record = self._find(current)
            if record is None:
                break
            out.append(record)
            current = record.parent_model_id
        return out

    def delta(self, ref: str) -> ModelDelta | None:
        """Metrics before (parent) and after (this model); None for a model without a parent."""
        record = self.get_model(ref)
        if record.parent_model_id is None:
            return None
        parent = self._find(record.parent_model_id)
        return ModelDelta(model_id=record.model_id, parent_model_id=record.parent_model_id,
                          metrics_before=parent.metrics if parent else {}, metrics_after=record.metrics)

    def verify(self) -> list[str]:
        """Re-hash every artifact; one line per missing or corrupt model, [] when all are intact."""
        problems = []
        for row in self._all("SELECT model_id, artifact_sha256 FROM models ORDER BY created_at, rowid"):
            problem = problem_with(self.layout.models_dir, row[0], row[1])
            if problem is not None:
                problems.append(problem)
        return problems

    def stray_artifacts(self) -> list[str]:
        """Directories under models/ that learning.db does not know (not corruption; for cleanup)."""
        known = {str(r[0]) for r in self._all("SELECT model_id FROM models")}
        return stray_dirs(self.layout.models_dir, known)

    # ------------------------------------------------------------ aliases

    def set_alias(self, alias: str, model_id: str, *, changed_by: str, reason: str = "",
                  ts: datetime | None = None) -> AliasMove:
        """Point `alias` at a model; the move is appended to alias_history, never overwritten."""
        self._writable()
        if not _ALIAS.fullmatch(alias):
            raise RegistryError(f"alias {alias!r}: use a letter then letters, digits, '_', '.' or '-' (max 100)")
        target = self.resolve_id(model_id)
        when = _utc(ts, "ts")
        with self._lock, write_txn(self._conn) as conn:
            previous = self._alias_at(alias, when)
            try:
                move = AliasMove(seq=1, alias=alias, model_id=target, previous_model_id=previous,
                                 changed_at=when, changed_by=changed_by, reason=reason)
            except ValidationError as exc:
                raise RegistryError(f"alias {alias!r}: {_validation_message(exc)}") from None
            seq = conn.execute(_ALIAS_INSERT, record_to_row(move, ALIAS_COLUMNS)).lastrowid
            latest = conn.execute("SELECT model_id, seq FROM alias_history WHERE alias = ? "
                                  "ORDER BY changed_at DESC, seq DESC LIMIT 1", (alias,)).fetchone()
            conn.execute("INSERT INTO aliases(alias, model_id, seq) VALUES (?, ?, ?) ON CONFLICT(alias) "
                         "DO UPDATE SET model_id = excluded.model_id, seq = excluded.seq",
                         (alias, latest[0], latest[1]))
        return move.model_copy(update={"seq": seq})

    def _alias_at(self, alias: str, when: datetime) -> str | None:
        row = self._one("SELECT model_id FROM alias_history WHERE alias = ? AND changed_at <= ? "
                        "ORDER BY changed_at DESC, seq DESC LIMIT 1", (alias, to_us(when)))
        return None if row is None else str(row[0])

    def alias_history(self, alias: str) -> list[AliasMove]:
        rows = self._all("SELECT * FROM alias_history WHERE alias = ? ORDER BY changed_at, seq", (alias,))
        return [row_to_record(AliasMove, r) for r in rows]

    def aliases(self) -> dict[str, str]:
        """Current alias -> model id."""
        return {str(r[0]): str(r[1]) for r in self._all("SELECT alias, model_id FROM aliases ORDER BY alias")}

    def aliases_at(self, ts: datetime) -> dict[str, str]:
        """Alias -> model id as it was at `ts` (same tie-break as config: later insertion wins)."""
        names = [str(r[0]) for r in self._all("SELECT DISTINCT alias FROM alias_history ORDER BY alias")]
        when = _utc(ts, "ts")
        out = {name: self._alias_at(name, when) for name in names}
        return {k: v for k, v in out.items() if v is not None}

    # ------------------------------------------------------------ config changes

    def record_config_change(self, key: str, old_value: Any, new_value: Any, *, changed_by: str,
                             reason: str = "", gate: str | None = None,
                             ts: datetime | None = None) -> ConfigChangeRecord:
        """Append one change (old -> new, with a structured diff); `new_value=None` removes the key."""
        self._writable()
        try:
            draft = ConfigChangeRecord(
                change_seq=1,  # placeholder: the store assigns the real, strictly increasing seq
                ts=_utc(ts, "ts"), key=key, old_value=old_value, new_value=new_value,
                diff=structured_diff(old_value, new_value), gate=gate, changed_by=changed_by, reason=reason,
            )
        except ValidationError as exc:
            raise RegistryError(f"config change {key!r}: {_validation_message(exc)}") from None
        row = record_to_row(draft, CHANGE_COLUMNS)
        with self._lock, write_txn(self._conn) as conn:
            seq = conn.execute(_CHANGE_INSERT, row).lastrowid
        return draft.model_copy(update={"change_seq": seq})

    def _changes(self, where: str, params: tuple[Any, ...]) -> list[ConfigChangeRecord]:
        rows = self._all(f"SELECT * FROM config_changes WHERE {where} ORDER BY ts, change_seq", params)
        return [row_to_record(ConfigChangeRecord, r) for r in rows]

    def config_changes(self, since: datetime | None = None) -> list[ConfigChangeRecord]:
        if since is None:
            return self._changes("1 = 1", ())
        return self._changes("ts >= ?", (to_us(_utc(since, "since")),))

    def key_history(self, key: str) -> list[ConfigChangeRecord]:
        return self._changes("key = ?", (key,))

    def threshold_history(self, gate: str) -> list[ConfigChangeRecord]:
        return self._changes("gate = ?", (gate,))

    def gates(self) -> list[str]:
        return [str(r[0]) for r in self._all(
            "SELECT DISTINCT gate FROM config_changes WHERE gate IS NOT NULL ORDER BY gate")]

    def value_at(self, key: str, ts: datetime) -> Any | None:
        """The value of `key` live at `ts` (inclusive); None before its first recorded change."""
        row = self._one(
            "SELECT new_value FROM config_changes WHERE key = ? AND ts <= ? ORDER BY ts DESC, change_seq DESC "
            "LIMIT 1", (key, to_us(_utc(ts, "ts"))))
        return None if row is None or row[0] is None else json.loads(row[0])

    def live_changes_at(self, ts: datetime) -> dict[str, ConfigChangeRecord]:
        """For each key, the change that set its value live at `ts` (removed keys omitted)."""
        rows = self._all(_LATEST_PER_KEY, (to_us(_utc(ts, "ts")),))
        records = (row_to_record(ConfigChangeRecord, r) for r in rows)
        return {rec.key: rec for rec in records if rec.new_value is not None}

    def config_at(self, ts: datetime) -> dict[str, Any]:
        """Every key -> value live at `ts`: "what was live at T"."""
        return {key: rec.new_value for key, rec in self.live_changes_at(ts).items()}

