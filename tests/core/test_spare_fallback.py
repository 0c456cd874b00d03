"""The spare fallback folder lives in the system temp dir, which every user shares: only a real folder
of this user that nobody else can enter may hold (or hand back) unwritten events."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
import pytest

from observability.config.observability_config import ObservabilityConfig
from observability.core import builders
from observability.core.maintenance import Maintenance
from observability.core.writer_link import FallbackError, write_fallback
from observability.paths import DataLayout


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataLayout:
    """A data dir whose own fallback folder cannot be made (a file in its place), and an isolated temp dir."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir(mode=0o1777)
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    out = DataLayout(tmp_path / "data").ensure()
    out.fallback_dir.rmdir()
    out.fallback_dir.write_bytes(b"")
    return out


def _event_line() -> bytes:
    return orjson.dumps(builders.gate_decision(gate="spread", value=1.0, threshold=5.0, direction="max",
                                               symbol="BTC/USDT", trace_id="t1", mode="scalp")) + b"\n"


def test_the_spare_folder_and_its_parent_end_owner_only_even_when_made_open_before(layout: DataLayout) -> None:
    spare = layout.spare_fallback_dir
    spare.mkdir(parents=True)
    for d in (spare.parent, spare):
        os.chmod(d, 0o777)
    kept = write_fallback(layout, [_event_line()])
    assert kept is not None and kept.parent == spare
    assert {d: d.stat().st_mode & 0o777 for d in (spare.parent, spare)} == {spare.parent: 0o700, spare: 0o700}


def test_a_spare_folder_that_is_a_link_elsewhere_is_neither_written_nor_replayed(
    layout: DataLayout, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    planted = elsewhere / "unwritten-1-1.ndjson"
    planted.write_bytes(_event_line())
    layout.spare_fallback_dir.parent.mkdir(mode=0o700, parents=True)
    layout.spare_fallback_dir.symlink_to(elsewhere)
    with pytest.raises(FallbackError, match="1 unwritten events could not be kept"):
        write_fallback(layout, [_event_line()])
    assert [p.name for p in elsewhere.iterdir()] == [planted.name]
    layout.fallback_dir.unlink()
    assert Maintenance(layout, ObservabilityConfig()).replay_fallback() == 0
    assert planted.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_spare_folder_owned_by_another_user_is_neither_written_nor_replayed(layout: DataLayout) -> None:
    spare = layout.spare_fallback_dir
    spare.mkdir(mode=0o700, parents=True)
    planted = spare / "unwritten-1-1.ndjson"
    planted.write_bytes(_event_line())
    os.chown(spare, 65534, 65534)
    with pytest.raises(FallbackError):
        write_fallback(layout, [_event_line()])
    layout.fallback_dir.unlink()
    assert Maintenance(layout, ObservabilityConfig()).replay_fallback() == 0
    assert planted.exists()
