"""The threshold a gate is reported at is the one the engine RECORDED last (the Mechanic moves it at run
time, modes may differ), not the gates.yaml default; and a threshold sweep recommends an alternative
only when it beats what was actually done."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from observability.analytics.gate_counterfactuals import counterfactual_sweep
from observability.analytics.gate_explainer import GateExplainer
from observability.analytics.windows import Window
from observability.config.gates_config import GatesConfig
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

GATES = GatesConfig()  # spread: max 8 (runner 12) in gates.yaml
T0 = datetime(2026, 1, 6, tzinfo=UTC).timestamp()
WINDOW = Window(label="1d", since=datetime(2026, 1, 6, tzinfo=UTC), until=datetime(2026, 1, 7, tzinfo=UTC))
# (trace, mode, spread value, recorded threshold, seconds after T0); the Mechanic moved scalp 8 -> 10
DECISIONS = [("a", "scalp", 9.0, 8.0, 60), ("b", "scalp", 9.0, 10.0, 120), ("c", "runner", 11.0, 12.0, 180)]


@pytest.fixture
def con(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    layout.ensure()
    events = [builders.gate_decision(gate="spread", value=v, threshold=thr, direction="max", symbol="X",
                                     trace_id=f"tr-{t}", mode=mode, gate_order=1, ts_event=T0 + dt)
              for t, mode, v, thr, dt in DECISIONS]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    return QueryLayer(layout).connect()


def test_summary_shows_the_recorded_live_threshold_per_mode(con: duckdb.DuckDBPyConnection) -> None:
    ex = GateExplainer(con, GATES)
    [both] = ex.summaries(WINDOW)
    assert both.live_thresholds == {"scalp": 10.0, "runner": 12.0}
    assert both.threshold is None  # the modes differ: no single live threshold
    assert both.config_threshold == 8.0
    [scalp] = ex.summaries(WINDOW, mode="scalp")
    assert (scalp.threshold, scalp.live_thresholds) == (10.0, {"scalp": 10.0})


def test_sweep_marks_the_recorded_threshold_as_current(con: duckdb.DuckDBPyConnection) -> None:
    sweep = counterfactual_sweep(con, "spread", WINDOW, [8.0, 9.0, 10.0], mode="scalp", gates=GATES)
    assert sweep.current_threshold == 10.0
    assert [r.threshold for r in sweep.rows if r.is_current] == [10.0]
    mixed = counterfactual_sweep(con, "spread", WINDOW, [8.0, 10.0, 12.0], gates=GATES)
    assert mixed.current_threshold is None and mixed.live_thresholds == {"scalp": 10.0, "runner": 12.0}
    assert not any(r.is_current for r in mixed.rows)


def test_best_alternative_must_beat_what_was_done(con: duckdb.DuckDBPyConnection) -> None:
    # no trades or shadows: every alternative changes P&L by 0, so none is better than the status quo
    sweep = counterfactual_sweep(con, "spread", WINDOW, [7.0, 8.0, 9.0], mode="scalp", gates=GATES)
    assert sweep.best() is None


def test_distribution_marks_the_recorded_threshold(con: duckdb.DuckDBPyConnection) -> None:
    assert GateExplainer(con, GATES).distribution("spread", WINDOW, bins=2, mode="scalp").threshold == 10.0


def test_gates_cli_recommends_no_single_threshold_for_modes_that_differ(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from observability.cli.common import console
    from observability.cli.main import main

    monkeypatch.setattr(console, "width", 200)
    argv = ["gates", "--data-dir", str(layout.root), "--since", "2026-01-06", "--until", "2026-01-07"]
    assert main(argv) == 0
    assert "per mode: use --mode" in capsys.readouterr().out
    assert main([*argv, "--mode", "scalp"]) == 0
    assert "per mode" not in capsys.readouterr().out
