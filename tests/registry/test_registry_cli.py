"""`huracan-obs registry ...` end to end: real learning.db, main([...]) in-process and one subprocess."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from observability.cli.common import console
from observability.cli.main import main
from observability.core.registry import Registry
from observability.paths import DataLayout

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def populated(layout: DataLayout) -> dict[str, str]:
    with Registry(layout) as reg:
        g1 = reg.register_model(b"gen1", name="scalp-lgbm", metrics={"auc": 0.60}, created_by="hamilton",
                                git_sha="d" * 40, created_at=T0)
        g2 = reg.register_model(b"gen2", name="scalp-lgbm", metrics={"auc": 0.64}, created_by="hamilton",
                                git_sha="d" * 40, parent_model_id=g1.model_id, created_at=T0 + timedelta(hours=1))
        reg.set_alias("champion", g1.model_id, changed_by="alice", ts=T0)
        reg.set_alias("champion", g2.model_id, changed_by="bob", reason="auc up", ts=T0 + timedelta(hours=2))
        reg.record_config_change("gates.spread.threshold", None, 4.0, changed_by="ops", gate="spread", ts=T0)
        reg.record_config_change("gates.spread.threshold", 4.0, 5.0, changed_by="mechanic", gate="spread",
                                 reason="pass rate too high", ts=T0 + timedelta(hours=3))
    return {"g1": g1.model_id, "g2": g2.model_id}


@pytest.fixture
def wide_terminal() -> object:
    """A 160-column terminal, so free-text columns (reasons) are not wrapped mid-phrase."""
    saved = console.width
    console.width = 160
    yield
    console.width = saved


def _run(capsys: pytest.CaptureFixture[str], layout: DataLayout, *argv: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(layout.root), "registry", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_model_with_abbreviated_ids_and_aliases(
        capsys: pytest.CaptureFixture[str], layout: DataLayout, populated: dict[str, str]) -> None:
    code, out, _ = _run(capsys, layout, "list")
    assert code == 0
    assert "models (2)" in out and populated["g1"][:12] in out and populated["g2"][:12] in out
    assert populated["g1"] not in out  # abbreviated
    assert "champion" in out


def test_show_diff_and_lineage_accept_prefixes_and_aliases(
        capsys: pytest.CaptureFixture[str], layout: DataLayout, populated: dict[str, str]) -> None:
    code, out, _ = _run(capsys, layout, "show", populated["g2"][:6])
    assert code == 0 and populated["g2"] in out and "0.64" in out
    code, out, _ = _run(capsys, layout, "diff", populated["g1"][:8], "champion")
    assert code == 0 and "metric auc" in out and "+0.04" in out
    code, out, _ = _run(capsys, layout, "lineage", "champion")
    assert code == 0 and populated["g1"][:12] in out and "auc+0.04" in out


def test_history_and_at_answer_what_was_live(capsys: pytest.CaptureFixture[str], layout: DataLayout,
                                             populated: dict[str, str], wide_terminal: object) -> None:
    code, out, _ = _run(capsys, layout, "history", "gate", "spread")
    assert code == 0 and "spread: 2 changes" in out and "pass rate too high" in out
    code, out, _ = _run(capsys, layout, "history", "alias", "champion")
    assert code == 0 and "2 moves" in out and "auc up" in out
    code, out, _ = _run(capsys, layout, "at", "2026-03-01T13:30:00Z")
    assert code == 0 and "│ 4.0 " in out and "│ 5.0 " not in out
    assert populated["g1"][:12] in out and populated["g2"][:12] not in out
    code, out, _ = _run(capsys, layout, "at", str((T0 + timedelta(hours=3)).timestamp()))
    assert code == 0 and "│ 5.0 " in out and "pass rate too high" in out and populated["g2"][:12] in out


def test_verify_exits_1_and_names_the_corrupt_model(
        capsys: pytest.CaptureFixture[str], layout: DataLayout, populated: dict[str, str]) -> None:
    code, out, _ = _run(capsys, layout, "verify")
    assert code == 0 and "all 2 models verified" in out
    (layout.models_dir / populated["g1"] / "artifact").write_bytes(b"gen!")
    code, out, _ = _run(capsys, layout, "verify")
    assert code == 1 and populated["g1"][:12] in out and "corrupt" in out


@pytest.mark.parametrize(("argv", "message"), [
    (("show", "nope"), "unknown model 'nope'"),
    (("diff", "champion", "0000"), "unknown model '0000'"),
    (("history", "gate", "nosuch"), "known gates: spread"),
    (("at", "yesterday-ish"), "use ISO 8601"),
    (("at", "inf"), "use ISO 8601"),
    (("register", "/nonexistent.bin", "--name", "x"), "not found"),
])
def test_bad_input_is_one_line_error_exit_2(capsys: pytest.CaptureFixture[str], layout: DataLayout,
                                            populated: dict[str, str], argv: tuple[str, ...], message: str) -> None:
    code, _out, err = _run(capsys, layout, *argv)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_registry_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--data-dir", str(tmp_path / "none"), "registry", "list"])
    assert code == 2 and "huracan-obs init" in capsys.readouterr().err


def test_register_and_alias_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"cli-weights")
    data = tmp_path / "train"
    data.mkdir()
    (data / "part-0.csv").write_text("x,y\n1,2\n")
    data_dir = str(tmp_path / "d")
    assert main(["--data-dir", data_dir, "init"]) == 0
    assert "learning.db" in capsys.readouterr().out
    with Registry(DataLayout(tmp_path / "d"), readonly=True) as fresh:
        assert fresh.list_models() == []
    # one real process end to end (entry module, exit code, stdout)
    reg = subprocess.run([sys.executable, "-m", "observability.cli.main", "--data-dir", data_dir, "registry",
                          "register", str(artifact), "--name", "cli-model", "--metrics", "auc=0.7", "--by", "tester",
                          "--git-sha", "e" * 40, "--data", str(data)], capture_output=True, text=True, check=True)
    model_id = reg.stdout.split()[-1]
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "registry", "register", str(artifact), "--name", "m", "--metrics",
                 "auc"]) == 2
    assert "use name=number" in capsys.readouterr().err
    assert main(["--data-dir", data_dir, "registry", "alias", "champion", model_id[:8], "--by", "tester"]) == 0
    with Registry(DataLayout(tmp_path / "d"), readonly=True) as ro:
        rec = ro.get_model("champion")
        assert rec.model_id == model_id and rec.metrics == {"auc": 0.7} and rec.data_snapshot_id
        assert rec.created_by == "tester"
