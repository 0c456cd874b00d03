"""huracan-obs explain / gates / metrics / insights on the fixed data set, in-process."""

from __future__ import annotations

import json

import pytest

from observability.cli.main import main
from observability.paths import DataLayout

UNTIL = ["--until", "2026-01-08"]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_metrics_json_has_values_alerts_and_facts(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(capsys, "metrics", "--data-dir", str(fixed_layout.root), "--window", "7d", *UNTIL,
                    "--mode", "scalp", "--metric", "win_rate", "--metric", "events_dropped")
    values = {(v["name"], v["scope"]): v["value"] for v in body["values"]}
    assert values == {("win_rate", "all"): 50.0, ("win_rate", "scalp"): 50.0, ("events_dropped", "all"): 5.0}
    assert [a["metric"] for a in body["alerts"]] == ["events_dropped"]
    assert "metrics.7d.scalp.win_rate" in {f["id"] for f in body["facts"]}


def test_metrics_table_prints_labels_and_status(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--data-dir", str(fixed_layout.root), "--window", "7d", *UNTIL,
                 "--metric", "events_dropped"]) == 0
    out = capsys.readouterr().out
    assert "Events dropped" in out and "warn" in out and "Alerts" in out


def test_gates_json_has_summaries_and_a_sweep(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(capsys, "gates", "--data-dir", str(fixed_layout.root), "--window", "7d", *UNTIL,
                    "--gate", "spread", "--sweep", "8,10,12.5")
    [spread] = [s for s in body["summaries"] if s["gate"] == "spread"]
    assert spread["pass_rate_pct"] == 80.0
    [sweep] = body["sweeps"]
    rows = {r["threshold"]: r for r in sweep["rows"]}
    # at 12.5 both spread-only blocks (B1 9.0, B2 12.0) pass: shadow P&L +1 - 2
    assert rows[12.5]["newly_taken"] == 2 and rows[12.5]["shadow_pnl"] == pytest.approx(-1.0)
    assert body["near_misses"]["count"] == 1


def test_gates_table_lists_every_gate(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates", "--data-dir", str(fixed_layout.root), "--window", "7d", *UNTIL]) == 0
    out = capsys.readouterr().out
    assert all(g in out for g in ("spread", "liquidity", "model_confidence"))


def test_explain_prints_sentence_timeline_and_lineage(fixed_layout: DataLayout,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "tr-S1", "--data-dir", str(fixed_layout.root)]) == 0
    out = capsys.readouterr().out
    assert "was TAKEN" in out and "take_profit" in out and "lineage: model model-a" in out
    body = run_json(capsys, "explain", "tr-B1", "--data-dir", str(fixed_layout.root))
    assert body["explanation"]["blocked_by"] == ["spread"] and body["trade"] is None
    assert [s["stage"] for s in body["timeline"]["trace"]["steps"]][-1] == "shadow exit"


def test_explain_accepts_a_trade_or_shadow_id(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "explain", "S2", "--data-dir", str(fixed_layout.root))["timeline"]["trace"]["trace_id"] \
        == "tr-S2"
    assert run_json(capsys, "explain", "B3", "--data-dir", str(fixed_layout.root))["explanation"]["blocked_by"] \
        == ["model_confidence"]


def test_insights_for_a_date(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(capsys, "insights", "--data-dir", str(fixed_layout.root), "--date", "2026-01-05")
    kinds = {(f["kind"], f["subject"]) for f in body["findings"]}
    assert ("logger_loss", "dropped") in kinds
    assert main(["insights", "--data-dir", str(fixed_layout.root), "--date", "2026-01-05"]) == 0
    assert "Logger: dropped" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["explain", "nope"], "no events with trace_id 'nope'"),
    (["metrics", "--window", "5x"], "duration must look like 15m, 1h, 24h, 7d or 2w, got '5x'"),
    (["metrics", "--metric", "win_ratio"], "unknown metric(s) ['win_ratio']"),
    (["gates", "--gate", "spread", "--sweep", "a,b"], "--sweep must be numbers separated by commas"),
    (["insights", "--date", "05/01/2026"], "date must be YYYY-MM-DD, got '05/01/2026'"),
])
def test_bad_input_is_one_line_and_exit_2(fixed_layout: DataLayout, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], message: str) -> None:
    assert main([*argv, "--data-dir", str(fixed_layout.root)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_gates_on_an_empty_data_dir_says_so(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates", "--data-dir", str(layout.root)]) == 0
    assert "no gate decisions from" in capsys.readouterr().out


def test_metrics_on_an_empty_window_says_so(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--data-dir", str(layout.root), "--metric", "win_rate"]) == 0
    out = capsys.readouterr().out
    assert "no data from" in out and str(layout.root) in out.replace("\n", "")


def test_explain_shows_sub_millisecond_latencies(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    from observability.core import builders
    from observability.core.ingest import ingest_events
    from observability.core.live_store import open_live_db

    t0 = 1_767_571_200.0
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [
        builders.signal_received(signal_id="s", side="long", confidence=0.7, price=100.0, model_id="m", symbol="X",
                                 trace_id="tr-fast", mode="scalp", ts_event=t0),
        builders.gate_decision(gate="spread", value=5.0, threshold=8.0, direction="max", symbol="X",
                               trace_id="tr-fast", mode="scalp", gate_order=1, ts_event=t0 + 0.0004)])
    conn.close()
    assert main(["explain", "tr-fast", "--data-dir", str(layout.root)]) == 0
    out = capsys.readouterr().out
    assert "0.4" in out.split("gate spread")[0].splitlines()[-1]  # 0.4 ms, not rounded to "0"


def test_gate_sweep_table_says_how_many_newly_taken_have_an_outcome(
    layout: DataLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from observability.cli.common import console
    from observability.core import builders
    from observability.core.ingest import ingest_events
    from observability.core.live_store import open_live_db

    t0 = 1_767_571_200.0  # 2026-01-05; the blocked signal's shadow trade is still open: no outcome yet
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [
        builders.gate_decision(gate="spread", value=9.0, threshold=8.0, direction="max", symbol="X",
                               trace_id="tr-open", mode="scalp", gate_order=1, ts_event=t0),
        builders.shadow_trade_opened(shadow_id="sh-open", side="long", entry_price=100.0, size=1.0,
                                     blocked_by=["spread"], symbol="X", trace_id="tr-open", mode="scalp",
                                     ts_event=t0 + 1)])
    conn.close()
    monkeypatch.setattr(console, "width", 200)  # one line per row
    assert main(["gates", "--data-dir", str(layout.root), "--since", "2026-01-05", "--until", "2026-01-06",
                 "--gate", "spread", "--sweep", "8,10"]) == 0
    out = capsys.readouterr().out
    assert "1 (0 closed, 0 won)" in out


def test_insights_without_data_do_not_read_as_all_clear(layout: DataLayout,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["insights", "--data-dir", str(layout.root), "--date", "2026-01-05"]) == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert "no events" in out and str(layout.root) in out
