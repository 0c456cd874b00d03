"""`huracan-obs health` reads the heartbeat read-only and says alive, stale or missing in one look."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from core_helpers import fast_config

from observability import SyncEventLogger
from observability.cli.main import main


def test_health_is_ok_while_the_logger_runs_and_stale_after_it_stops(data_dir: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with SyncEventLogger(data_dir=data_dir, config=fast_config()) as logger:
        deadline = time.monotonic() + 20
        while logger.health().written_total == 0 or not (data_dir / "sqlite" / "live.db").exists():
            logger.log_durable({"event_id": "x" * 12, "event_type": "error", "ts_event": time.time(),
                                "payload": {"component": "c", "error_type": "e", "message": "m"}}, timeout=20)
            assert time.monotonic() < deadline
        while main(["health", "--data-dir", str(data_dir), "--stale-after", "5"]) != 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "OK" in capsys.readouterr().out
    time.sleep(0.6)
    assert main(["health", "--data-dir", str(data_dir), "--stale-after", "0.5"]) == 1
    assert "STALE" in capsys.readouterr().out


def test_health_without_a_database_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no live feed database here" in err and "--data-dir" in err
