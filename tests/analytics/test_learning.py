"""Model evolution (versions, deltas, champion changes) and trading results under each model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from observability.analytics.learning_tracker import results_by_champion, results_by_model
from observability.analytics.model_evolution import model_evolution
from observability.analytics.windows import make_window
from observability.core.registry import Registry
from observability.paths import DataLayout
from tests.analytics.dataset import DAY1

WEEK = make_window("7d", until=datetime(2026, 1, 8, tzinfo=UTC))
NINE = datetime.fromtimestamp(DAY1, tz=UTC) + timedelta(hours=9)


def test_versions_carry_metric_deltas_and_champion_changes(con: duckdb.DuckDBPyConnection) -> None:
    evo = model_evolution(con, WEEK)
    [v] = evo.versions
    assert (v.model_id, v.parent_model_id, v.alias, v.ts) == ("model-b", "model-a", "champion", NINE)
    assert v.metrics == {"auc": 0.61} and v.changes == pytest.approx({"auc": 0.03})
    [c] = evo.champion_changes
    assert (c.model_id, c.ts, c.evidence) == ("model-b", NINE, v.event_id)
    facts = {f.id: f.value for f in evo.to_facts()}
    assert facts["model.model-b.delta.auc"] == pytest.approx(0.03)
    assert facts["models.champion_changes"] == 1


def test_registry_alias_history_is_merged(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with Registry(DataLayout(tmp_path / "reg")) as reg:
        rec = reg.register_model(b"weights-c", name="model-c", metrics={"auc": 0.63}, created_by="hamilton",
                                 git_sha="abc1234")
        reg.set_alias("champion", rec.model_id, changed_by="quant", reason="promote", ts=NINE + timedelta(days=1))
        evo = model_evolution(con, WEEK, registry=reg)
    assert [c.model_id for c in evo.champion_changes] == ["model-b", rec.model_id]
    assert evo.champion_changes[1].changed_by == "quant"
    assert evo.champion_changes[1].evidence.startswith("registry:alias_history:")


def test_results_by_model_and_by_champion_period(con: duckdb.DuckDBPyConnection) -> None:
    [a] = results_by_model(con, WEEK)
    assert (a.model_id, a.trades) == ("model-a", 6)
    assert a.win_rate_pct == pytest.approx(50.0) and a.pnl_net_usdt == pytest.approx(3.0)
    assert a.expectancy_bps == pytest.approx(50.0)
    assert set(a.evidence) == {"S1", "S2", "R1", "S3", "S4", "R2", "R3"}
    [reign] = results_by_champion(con, model_evolution(con, WEEK).champion_changes, until=WEEK.until)
    # opened after 09:00 on day 1: S3, S4, R2 closed (+0.8 -1.2 -2.1), R3 open
    assert (reign.model_id, reign.trades) == ("model-b", 3)
    assert reign.pnl_net_usdt == pytest.approx(0.8 - 1.2 - 2.1)
    assert reign.win_rate_pct == pytest.approx(100 / 3)
    assert {f.id for f in reign.to_facts()} >= {"model_results.model-b.20260105T0900.pnl_net"}
