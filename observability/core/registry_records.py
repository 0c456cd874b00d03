"""Records and pure helpers of the registry: config-change and alias-move models, structured
diffs, canonical JSON and the hashes that make ids reproducible.

Everything here is deterministic and free of I/O except the file hashing helpers, so ids can be
recomputed anywhere (another box, months later) from the same inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from observability.errors import RegistryError

ID_SCHEME: Final = 1
"""Version of the model-id recipe below; stored in every metadata.json so a future recipe can coexist."""

HASH_CHUNK: Final = 1 << 20


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DiffEntry(_Record):
    """One leaf of a structured diff: `path` is dotted ('' for the whole value)."""

    path: str
    op: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class ConfigChangeRecord(_Record):
    """One change of one config key (a gate threshold when `gate` is set), as stored in config_changes.

    `change_seq` grows with every insertion and never repeats; it breaks ties between changes that
    carry the same timestamp: the later insertion wins.
    """

    change_seq: int = Field(ge=1)
    ts: AwareDatetime
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    old_value: Any | None = None
    new_value: Any | None = None
    diff: list[DiffEntry] = Field(default_factory=list)
    gate: str | None = None
    changed_by: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Annotated[str, StringConstraints(max_length=4000)] = ""


class AliasMove(_Record):
    """One move of an alias (champion, challenger, ...): every move is kept, none is overwritten."""

    seq: int = Field(ge=1)
    alias: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    model_id: str
    previous_model_id: str | None = None
    changed_at: AwareDatetime
    changed_by: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Annotated[str, StringConstraints(max_length=4000)] = ""


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN/inf: the same value always gives the same text."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"value is not JSON-serialisable with finite numbers ({exc}); "
                            "pass plain dicts, lists, strings, numbers, booleans or null") from None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of a config mapping (training config, or `config_at(ts)`), independent of key order."""
    return sha256_text(canonical_json(dict(config)))


def structured_diff(old: Any, new: Any, path: str = "") -> list[DiffEntry]:
    """Leaf-level differences between two JSON-like values; nested dicts are walked key by key."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[DiffEntry] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(DiffEntry(path=sub, op="added", new=new[key]))
            elif key not in new:
                out.append(DiffEntry(path=sub, op="removed", old=old[key]))
            else:
                out.extend(structured_diff(old[key], new[key], sub))
        return out
    if old is None and new is not None:
        return [DiffEntry(path=path, op="added", new=new)]
    if new is None and old is not None:
        return [DiffEntry(path=path, op="removed", old=old)]
    if canonical_json(old) == canonical_json(new):
        return []
    return [DiffEntry(path=path, op="changed", old=old, new=new)]


# ---------------------------------------------------------------- file hashing


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _walk_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        files.extend(Path(dirpath) / name for name in sorted(filenames))
    return files


def dataset_manifest(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Manifest of a dataset: one entry per file with its path, size and sha256, sorted by path.

    Paths are relative to each given root's parent (so `data/train/` lists `train/part-0.parquet`):
    the same dataset copied to another box or directory gives the same manifest.
    """
    entries: dict[str, dict[str, Any]] = {}
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise RegistryError(f"{root}: dataset path not found; pass existing files or directories")
        base = root.parent
        for f in _walk_files(root):
            rel = f.relative_to(base).as_posix()
            if rel in entries:
                raise RegistryError(f"{rel}: appears twice in the dataset; pass each file or directory once")
            entries[rel] = {"path": rel, "size": f.stat().st_size, "sha256": file_sha256(f)}
    if not entries:
        raise RegistryError("dataset is empty: no files under the given paths")
    return [entries[k] for k in sorted(entries)]


def data_snapshot_id(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> str:
    """sha256 of the canonical dataset manifest (paths, sizes, content hashes)."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return sha256_text(canonical_json(dataset_manifest(items)))


def artifact_digest(artifact: bytes | Path) -> tuple[str, Literal["bytes", "file", "dir"]]:
    """sha256 of an artifact: of its bytes (bytes or a file, so both give the same digest), or of
    the manifest of a directory (relative paths, sizes and content hashes of every file in it)."""
    if isinstance(artifact, bytes | bytearray | memoryview):
        return hashlib.sha256(artifact).hexdigest(), "bytes"
    if artifact.is_file():
        return file_sha256(artifact), "file"
    if artifact.is_dir():
        entries = [
            {"path": f.relative_to(artifact).as_posix(), "size": f.stat().st_size, "sha256": file_sha256(f)}
            for f in _walk_files(artifact)
        ]
        return sha256_text(canonical_json(entries)), "dir"
    raise RegistryError(f"{artifact}: model artifact not found; pass bytes or an existing file or directory")


def defining_metadata(
    *,
    artifact_sha256: str,
    name: str,
    parent_model_id: str | None,
    git_sha: str | None,
    git_dirty: bool,
    data_snapshot_id: str | None,
    training_config_hash: str | None,
) -> dict[str, Any]:
    """The fields that define a model, and so its id.

    Defining: the artifact content, its name, its parent, the code (git SHA + dirty flag), the data
    snapshot and the training config. NOT defining: metrics, who/when/why — re-registering the same
    model with other metrics or by someone else returns the first record unchanged.
    """
    return {
        "id_scheme": ID_SCHEME,
        "artifact_sha256": artifact_sha256,
        "name": name,
        "parent_model_id": parent_model_id,
        "git_sha": git_sha,
        "git_dirty": git_dirty,
        "data_snapshot_id": data_snapshot_id,
        "training_config_hash": training_config_hash,
    }


def model_id_for(defining: Mapping[str, Any]) -> str:
    """Model id = sha256 of the canonical JSON of the defining metadata (which holds the artifact hash)."""
    return sha256_text(canonical_json(dict(defining)))
