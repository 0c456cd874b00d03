"""`huracan-obs query` as a user runs it: real process, real data dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from storage_helpers import gate_events, store

from observability.cli.main import main
from observability.paths import DataLayout


def obs(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "observability.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=60,
    )


def test_query_prints_a_table_csv_and_json(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    store(layout, gate_events(6))
    sql = "SELECT gate, count(*) AS n FROM gate_decisions GROUP BY gate ORDER BY gate LIMIT 2"
    args = ["--data-dir", str(layout.root), "query", sql]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "gate" in table and "g0" in table and "g1" in table
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["gate,n", "g0,1", "g1,1"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"gate": "g0", "n": 1}, {"gate": "g1", "n": 1}]


def test_query_refuses_a_write_in_one_line(layout: DataLayout) -> None:
    result = obs(layout.root, "query", "DELETE FROM events")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "huracan-obs: error: refused: DELETE statements are not allowed; the query layer is read-only (use SELECT)"
    ]


def test_query_syntax_error_prints_duckdbs_message_without_traceback(layout: DataLayout) -> None:
    result = obs(layout.root, "query", "SELEC gate FROM gate_decisions")
    assert result.returncode == 2
    assert "syntax error" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_export_command_reports_rows_and_watermark(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    store(layout, gate_events(12))
    assert main(["--data-dir", str(layout.root), "export"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exported 12 rows into 3 files" in out and "watermark seq 12" in out
