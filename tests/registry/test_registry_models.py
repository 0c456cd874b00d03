"""Model registry: content-addressed ids, verify, lineage, aliases, lookups, schema guards."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from observability.core.registry import Registry, data_snapshot_id, dataset_manifest, git_state
from observability.core.registry_records import artifact_digest, defining_metadata, model_id_for
from observability.core.registry_store import EXPECTED_COLUMNS
from observability.core.schemas import ModelRecord
from observability.errors import DataDirError, RegistryError, SchemaVersionError
from observability.paths import DataLayout

SHA = "a" * 40
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _register(reg: Registry, artifact: bytes | Path, **kw: object) -> ModelRecord:
    args: dict[str, object] = {"name": "scalp-lgbm", "metrics": {"auc": 0.61}, "created_by": "hamilton",
                               "git_sha": SHA}
    args.update(kw)
    return reg.register_model(artifact, **args)  # type: ignore[arg-type]


@pytest.fixture
def reg(layout: DataLayout) -> Registry:
    r = Registry(layout)
    yield r  # type: ignore[misc]
    r.close()


def test_same_bytes_give_same_id_and_are_stored_once(reg: Registry, layout: DataLayout) -> None:
    first = _register(reg, b"weights-v1")
    second = _register(reg, b"weights-v1", metrics={"auc": 0.99}, created_by="someone-else")
    assert second == first  # the first record stands: metrics and who/when are not defining
    assert len(reg.list_models()) == 1
    assert [p.name for p in layout.models_dir.iterdir()] == [first.model_id]
    assert (layout.models_dir / first.model_id / "artifact").read_bytes() == b"weights-v1"


def test_bytes_and_a_file_with_the_same_content_get_the_same_id(reg: Registry, tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights-v1")
    assert _register(reg, f).model_id == _register(reg, b"weights-v1").model_id


def test_defining_metadata_changes_the_id(reg: Registry) -> None:
    base = _register(reg, b"w").model_id
    variants = {
        _register(reg, b"w", git_sha="b" * 40).model_id,
        _register(reg, b"w", git_dirty=True).model_id,
        _register(reg, b"w", data_snapshot_id="snap-1").model_id,
        _register(reg, b"w", training_config={"lr": 0.1}).model_id,
        _register(reg, b"w", name="runner-lgbm").model_id,
        _register(reg, b"w2").model_id,
    }
    assert base not in variants and len(variants) == 6


def test_training_config_hash_ignores_key_order(reg: Registry) -> None:
    a = _register(reg, b"w", training_config={"lr": 0.1, "depth": 6})
    b = _register(reg, b"w", training_config={"depth": 6, "lr": 0.1})
    assert a.model_id == b.model_id and a.training_config_hash
    assert reg.training_config(a.model_id) == {"depth": 6, "lr": 0.1}


def test_one_flipped_byte_is_named_by_verify(reg: Registry, layout: DataLayout) -> None:
    good = _register(reg, b"A" * 1000, name="good")
    bad = _register(reg, b"B" * 1000, name="bad")
    assert reg.verify() == []
    path = layout.models_dir / bad.model_id / "artifact"
    data = bytearray(path.read_bytes())
    data[500] ^= 0x01
    path.write_bytes(bytes(data))
    problems = reg.verify()
    assert len(problems) == 1
    assert bad.model_id in problems[0] and "corrupt" in problems[0]
    assert good.model_id not in problems[0]


def test_missing_artifact_and_edited_metadata_are_named_by_verify(reg: Registry, layout: DataLayout) -> None:
    gone = _register(reg, b"gone", name="gone")
    edited = _register(reg, b"edited", name="edited")
    (layout.models_dir / gone.model_id / "artifact").unlink()
    meta = layout.models_dir / edited.model_id / "metadata.json"
    meta.write_text(meta.read_text().replace('"edited"', '"renamed"'))
    problems = reg.verify()
    assert any(gone.model_id in p and "missing" in p for p in problems)
    assert any(edited.model_id in p and "metadata.json" in p for p in problems)


def test_directory_artifact_is_stored_and_verified(reg: Registry, tmp_path: Path, layout: DataLayout) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(b"\x00\x01" * 100)
    (src / "sub" / "vocab.txt").write_text("a\nb\n")
    rec = _register(reg, src)
    assert rec.artifact_size == 204
    stored = reg.artifact_path(rec.model_id)
    assert (stored / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert _register(reg, stored).model_id == rec.model_id  # a copy hashes the same
    (stored / "sub" / "vocab.txt").write_text("a\nc\n")
    assert [rec.model_id in p for p in reg.verify()] == [True]


def test_registering_again_repairs_a_damaged_directory_left_without_a_row(reg: Registry, layout: DataLayout) -> None:
    rec = _register(reg, b"fine")
    with sqlite3.connect(layout.learning_db) as conn:
        conn.execute("DELETE FROM models")
    (layout.models_dir / rec.model_id / "artifact").write_bytes(b"junk")
    assert _register(reg, b"fine").model_id == rec.model_id
    assert reg.verify() == []
    assert any(p.name.startswith(".corrupt-") for p in layout.models_dir.iterdir())


def test_lineage_and_delta_round_trip_through_the_database(layout: DataLayout) -> None:
    with Registry(layout) as reg:
        gen1 = _register(reg, b"g1", metrics={"auc": 0.60, "brier": 0.25})
        gen2 = _register(reg, b"g2", metrics={"auc": 0.63, "brier": 0.22}, parent_model_id=gen1.model_id[:8])
        gen3 = _register(reg, b"g3", metrics={"auc": 0.65}, parent_model_id=gen2.model_id)
    with Registry(layout, readonly=True) as ro:
        assert [m.model_id for m in ro.lineage(gen3.model_id)] == [gen3.model_id, gen2.model_id, gen1.model_id]
        delta = ro.delta(gen2.model_id)
        assert delta is not None and delta.parent_model_id == gen1.model_id
        assert delta.changes() == pytest.approx({"auc": 0.03, "brier": -0.03})
        assert ro.delta(gen1.model_id) is None
        assert ro.get_model(gen2.model_id) == gen2


def test_unknown_parent_is_rejected(reg: Registry) -> None:
    with pytest.raises(RegistryError, match="unknown model 'feedbeef'"):
        _register(reg, b"x", parent_model_id="feedbeef")


def test_alias_history_keeps_every_move_and_round_trips(layout: DataLayout) -> None:
    with Registry(layout) as reg:
        a = _register(reg, b"a").model_id
        b = _register(reg, b"b").model_id
        reg.set_alias("champion", a, changed_by="alice", reason="first", ts=T0)
        reg.set_alias("challenger", b, changed_by="alice", ts=T0)
        reg.set_alias("champion", b, changed_by="bob", reason="beat a on auc", ts=T0 + timedelta(hours=1))
        reg.set_alias("champion", a, changed_by="carol", reason="rollback", ts=T0 + timedelta(hours=2))
    with Registry(layout, readonly=True) as ro:
        moves = ro.alias_history("champion")
        assert [(m.model_id, m.previous_model_id, m.changed_by, m.reason) for m in moves] == [
            (a, None, "alice", "first"), (b, a, "bob", "beat a on auc"), (a, b, "carol", "rollback")]
        assert [m.seq for m in moves] == sorted(m.seq for m in moves)
        assert ro.aliases() == {"challenger": b, "champion": a}
        assert ro.get_model("champion").model_id == a
        assert ro.aliases_at(T0 + timedelta(minutes=90)) == {"challenger": b, "champion": b}
        assert ro.aliases_at(T0 - timedelta(seconds=1)) == {}


def test_bad_alias_name_is_a_clear_error(reg: Registry) -> None:
    a = _register(reg, b"a").model_id
    with pytest.raises(RegistryError, match="alias '1 bad'"):
        reg.set_alias("1 bad", a, changed_by="me")


def _id_of(artifact: bytes) -> str:
    """The id `_register` gives `artifact`, computed without registering it."""
    digest, _ = artifact_digest(artifact)
    return model_id_for(defining_metadata(
        artifact_sha256=digest, name="scalp-lgbm", parent_model_id=None, git_sha=SHA, git_dirty=False,
        data_snapshot_id=None, training_config_hash=None))


def test_prefix_lookup_accepts_unique_prefixes_and_rejects_ambiguous_or_unknown(reg: Registry) -> None:
    seen: dict[str, bytes] = {}
    i = 0
    while (prefix := _id_of(f"m{i}".encode())[:4]) not in seen:  # birthday search: ~300 tries
        seen[prefix] = f"m{i}".encode()
        i += 1
    a = _register(reg, seen[prefix])
    b = _register(reg, f"m{i}".encode())
    assert a.model_id[:4] == b.model_id[:4] == prefix
    assert reg.get_model(a.model_id[:12]).model_id == a.model_id
    with pytest.raises(RegistryError, match=f"prefix '{prefix}' is ambiguous"):
        reg.get_model(prefix)
    with pytest.raises(RegistryError, match="unknown model 'nope'"):
        reg.get_model("nope")


def test_git_state_reads_head_and_dirty_flag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True)  # noqa: E731
    run("init", "-q")
    (repo / "f.py").write_text("x = 1\n")
    run("add", "f.py")
    run("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "init")
    head = run("rev-parse", "HEAD").stdout.strip()
    assert git_state(repo) == (head, False)
    (repo / "f.py").write_text("x = 2\n")
    assert git_state(repo) == (head, True)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert git_state(outside) == (None, False)


def test_data_snapshot_id_survives_relocation_and_changes_with_content(tmp_path: Path) -> None:
    for where in ("a", "b"):
        d = tmp_path / where / "train"
        d.mkdir(parents=True)
        (d / "part-0.parquet").write_bytes(b"rows")
        (d / "part-1.parquet").write_bytes(b"more rows")
    a, b = tmp_path / "a" / "train", tmp_path / "b" / "train"
    assert data_snapshot_id([a]) == data_snapshot_id(b)
    assert [e["path"] for e in dataset_manifest([a])] == ["train/part-0.parquet", "train/part-1.parquet"]
    (b / "part-1.parquet").write_bytes(b"more rowz")
    assert data_snapshot_id(a) != data_snapshot_id(b)
    with pytest.raises(RegistryError, match="dataset path not found"):
        data_snapshot_id(tmp_path / "missing")


def test_readonly_registry_refuses_writes_and_missing_db_is_clear(tmp_path: Path, layout: DataLayout) -> None:
    with pytest.raises(DataDirError, match="no model registry"):
        Registry(DataLayout(tmp_path / "empty"), readonly=True)
    Registry(layout).close()
    with Registry(layout, readonly=True) as ro, pytest.raises(RegistryError, match="read-only"):
        ro.register_model(b"x", name="n", metrics={}, created_by="me", git_sha=SHA)


def test_newer_schema_version_is_a_clear_error(layout: DataLayout) -> None:
    Registry(layout).close()
    with sqlite3.connect(layout.learning_db) as conn:
        conn.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError, match="schema version 99 is newer"):
            Registry(layout, readonly=readonly)


def test_tables_hold_every_field_of_the_pydantic_records(reg: Registry, layout: DataLayout) -> None:
    from observability.core.registry import AliasMove, ConfigChangeRecord

    with sqlite3.connect(layout.learning_db) as conn:
        for table, model in (("models", ModelRecord), ("alias_history", AliasMove),
                             ("config_changes", ConfigChangeRecord)):
            cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            assert set(model.model_fields) <= cols == EXPECTED_COLUMNS[table]
        views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        assert {"model_lineage", "gate_threshold_history"} <= views


def test_bad_input_gives_one_line_registry_errors(reg: Registry) -> None:
    with pytest.raises(RegistryError, match=r"metrics\.auc"):
        _register(reg, b"x", metrics={"auc": float("nan")})
    with pytest.raises(RegistryError, match="timezone-aware"):
        _register(reg, b"x", created_at=datetime(2026, 1, 1))
    with pytest.raises(RegistryError, match="not found"):
        _register(reg, Path("/nonexistent/model.bin"))
    with pytest.raises(RegistryError, match="non-empty name"):
        _register(reg, b"x", name=" ")


def test_leftovers_of_a_crashed_registration_are_harmless_and_reported(reg: Registry, layout: DataLayout) -> None:
    rec = _register(reg, b"survivor")
    # what a crash leaves: a half-written temporary directory (before the rename) ...
    (layout.models_dir / f".tmp-{rec.model_id[:16]}-dead").mkdir()
    (layout.models_dir / f".tmp-{rec.model_id[:16]}-dead" / "artifact").write_bytes(b"surv")
    # ... or a complete directory whose row never committed (after the rename)
    with sqlite3.connect(layout.learning_db) as conn:
        conn.execute("DELETE FROM models")
    assert reg.verify() == []
    strays = reg.stray_artifacts()
    assert any(".tmp-" in s and "interrupted" in s for s in strays)
    assert any(s.startswith(rec.model_id) and "not in learning.db" in s for s in strays)
    assert _register(reg, b"survivor").model_id == rec.model_id  # re-registering adopts the intact directory
    assert reg.verify() == [] and not any(s.startswith(rec.model_id) for s in reg.stray_artifacts())


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs a file whose content changes on every read")
def test_an_artifact_that_changes_while_being_registered_is_refused_not_stored_corrupt(
        reg: Registry, layout: DataLayout) -> None:
    # /proc/self/io counts the bytes this process has read: each read of it returns new content,
    # like a model file Hamilton is still writing while it is being registered
    with pytest.raises(RegistryError, match="changed while it was being registered"):
        reg.register_model(Path("/proc/self/io"), name="moving", metrics={}, created_by="t", git_sha="c" * 40)
    assert reg.list_models() == [] and reg.verify() == []
    assert not layout.models_dir.exists() or [p for p in layout.models_dir.iterdir()] == []
