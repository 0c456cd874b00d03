"""`huracan-obs explain TRACE --ai`: the same facts in words, verified, with no LLM configured."""

from __future__ import annotations

import pytest

from observability.cli.main import main
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim import generate_events


def test_explain_with_ai_falls_back_to_the_verified_deterministic_writer(
    layout: DataLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(layout.root.parent)  # no configs/ai_routing.yaml here: built-in defaults, no LLM
    events = list(generate_events(seed=3, sim_seconds=120, events_per_second=200, settle=True))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    trace = conn.execute("SELECT trace_id FROM live_feed WHERE event_type = 'trade_closed' LIMIT 1").fetchone()[0]
    conn.close()
    assert main(["explain", trace, "--data-dir", str(layout.root), "--ai"]) == 0
    out = capsys.readouterr().out
    assert "In words (deterministic, verified)" in out
