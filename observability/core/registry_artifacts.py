"""Content-addressed artifact storage: `models/<model_id>/artifact` (a file or a directory) plus
`metadata.json` (the defining metadata, from which the id is recomputed).

Writes are atomic: everything is written into a temporary sibling directory, fsynced, and renamed
into place in one step, so a reader or a crash never sees a half-written model. metadata.json holds
only what defines the id (a pure function of it), so two processes registering the same model at
once write identical directories and it does not matter whose rename wins.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from observability.core.registry_records import artifact_digest, canonical_json, model_id_for
from observability.errors import RegistryError

ARTIFACT_NAME: Final = "artifact"
METADATA_NAME: Final = "metadata.json"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))


def model_dir(models_dir: Path, model_id: str) -> Path:
    return models_dir / model_id


def artifact_path(models_dir: Path, model_id: str) -> Path:
    return models_dir / model_id / ARTIFACT_NAME


def store_artifact(models_dir: Path, model_id: str, artifact: bytes | Path, defining: Mapping[str, Any]) -> Path:
    """Put the artifact and its metadata at models/<model_id>/ atomically; return that directory.

    An existing directory whose content checks out is kept (stored once); one that does not (left
    by a crash or damaged) is moved aside as `.corrupt-*` and replaced.
    """
    final = model_dir(models_dir, model_id)
    if final.exists() and problem_with(models_dir, model_id, defining["artifact_sha256"]) is None:
        return final
    models_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = models_dir / f".tmp-{model_id[:16]}-{uuid.uuid4().hex}"
    tmp.mkdir(mode=0o700)
    try:
        target = tmp / ARTIFACT_NAME
        if isinstance(artifact, bytes | bytearray | memoryview):
            _write_file(target, bytes(artifact))
        elif artifact.is_dir():
            shutil.copytree(artifact, target)
        else:
            shutil.copyfile(artifact, target)
        if not isinstance(artifact, bytes | bytearray | memoryview):
            # the id names the content hashed before the copy: a file still being written (or
            # replaced) would otherwise be stored under an id its bytes do not have
            copied, _kind = artifact_digest(target)
            if copied != defining["artifact_sha256"]:
                raise RegistryError(f"{artifact}: the artifact changed while it was being registered; register "
                                    "it again once it is completely written")
        _write_file(tmp / METADATA_NAME, (canonical_json(dict(defining)) + "\n").encode())
        _fsync_tree(tmp)
        if final.exists():
            final.rename(models_dir / f".corrupt-{model_id[:16]}-{uuid.uuid4().hex}")
        try:
            tmp.rename(final)
        except OSError:
            # Another process renamed the same model into place first: its content is identical.
            if not final.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        _fsync_path(models_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def problem_with(models_dir: Path, model_id: str, artifact_sha256: str) -> str | None:
    """Re-hash one stored model; None when intact, else what is wrong (one line)."""
    folder = model_dir(models_dir, model_id)
    art = folder / ARTIFACT_NAME
    if not art.exists():
        return f"{model_id}: artifact missing ({art})"
    digest, _kind = artifact_digest(art)
    if digest != artifact_sha256:
        return f"{model_id}: artifact corrupt (sha256 {digest[:12]}… != registered {artifact_sha256[:12]}…)"
    meta = folder / METADATA_NAME
    try:
        defining = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{model_id}: metadata.json missing or unreadable ({meta})"
    if not isinstance(defining, dict) or defining.get("artifact_sha256") != artifact_sha256 \
            or model_id_for(defining) != model_id:
        return f"{model_id}: metadata.json does not match the model id (edited or damaged)"
    return None


def stray_dirs(models_dir: Path, known: set[str]) -> list[str]:
    """Model directories with no registry row and leftovers of interrupted writes."""
    if not models_dir.exists():
        return []
    out = []
    for entry in sorted(models_dir.iterdir()):
        if entry.name.startswith(".tmp-"):
            out.append(f"{entry.name}: temporary directory of an interrupted (or running) write")
        elif entry.is_dir() and not entry.name.startswith(".") and entry.name not in known:
            out.append(f"{entry.name}: model directory not in learning.db (registration interrupted?)")
    return out
