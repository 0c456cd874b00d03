"""Gate explainer and counterfactual sweeps on crafted data whose answers are known exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import pytest

from observability.analytics.gate_counterfactuals import counterfactual_sweep
from observability.analytics.gate_explainer import GateExplainer, UnknownTraceError
from observability.analytics.windows import Window, make_window
from observability.config.gates_config import GatesConfig
from observability.core.io.query import QueryLayer
from observability.errors import ObservabilityError
from tests.analytics import crafted_gates

DAY = make_window("24h", until=datetime(2026, 1, 7, tzinfo=UTC))
FIXED_WEEK = make_window("7d", until=datetime(2026, 1, 8, tzinfo=UTC))
GATES = GatesConfig()  # built-in defaults, the same as configs/gates.yaml


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from observability.paths import DataLayout

    layout = DataLayout(tmp_path_factory.mktemp("crafted") / "data").ensure()
    crafted_gates.populate(layout)
    q = QueryLayer(layout)
    yield q.connect()
    q.close()


def by_threshold(con: duckdb.DuckDBPyConnection, window: Window = DAY) -> dict[float, object]:
    sweep = counterfactual_sweep(con, "spread", window, [5.5, 7, 8, 9, 10, 12], mode="scalp", gates=GATES)
    return {r.threshold: r for r in sweep.rows}


def test_counterfactual_sweep_counts_and_pnl_are_exact(crafted: duckdb.DuckDBPyConnection) -> None:
    sweep = counterfactual_sweep(crafted, "spread", DAY, [5.5, 7, 8, 9, 10, 12], mode="scalp", gates=GATES)
    assert sweep.signals == 7 and sweep.current_threshold == 8.0 and sweep.direction == "max"
    rows = {r.threshold: r for r in sweep.rows}
    expected = {  # threshold: (passed_gate, delta_passed, taken, delta_taken, newly_taken, wins, shadow_pnl,
        #             newly_blocked, blocked_trade_pnl)
        5.5: (1, -2, 1, -1, 0, 0, 0.0, 1, -2.0),
        7.0: (2, -1, 1, -1, 0, 0, 0.0, 1, -2.0),
        8.0: (3, 0, 2, 0, 0, 0, 0.0, 0, 0.0),
        9.0: (5, 2, 3, 1, 1, 1, 4.0, 0, 0.0),
        10.0: (6, 3, 4, 2, 2, 1, 3.0, 0, 0.0),
        12.0: (7, 4, 5, 3, 3, 2, 5.0, 0, 0.0),
    }
    for thr, (pg, dp, tk, dt, nt, wins, spnl, nb, bpnl) in expected.items():
        r = rows[thr]
        got = (r.passed_gate, r.delta_passed, r.taken, r.delta_taken, r.newly_taken, r.newly_taken_wins,
               r.shadow_pnl, r.newly_blocked, r.blocked_trade_pnl)
        assert got == pytest.approx((pg, dp, tk, dt, nt, wins, spnl, nb, bpnl)), thr
        assert r.net_effect == pytest.approx(spnl - bpnl)
    assert rows[8.0].is_current and not rows[9.0].is_current
    assert rows[12.0].newly_taken_ids == ["sh-C3", "sh-C4", "sh-C5"]
    assert rows[5.5].newly_blocked_ids == ["t-C2"]
    assert sweep.best() is rows[12.0]


def test_counterfactual_facts_carry_the_shadow_ids(crafted: duckdb.DuckDBPyConnection) -> None:
    sweep = counterfactual_sweep(crafted, "spread", DAY, [9], mode="scalp", gates=GATES)
    facts = {f.id: f for f in sweep.to_facts()}
    f = facts["counterfactual.24h.spread.9.shadow_pnl"]
    assert f.value == pytest.approx(4.0) and f.evidence == ["sh-C3"] and f.unit == "USDT"


def test_default_sweep_steps_by_the_near_miss_margin(crafted: duckdb.DuckDBPyConnection) -> None:
    sweep = counterfactual_sweep(crafted, "spread", DAY, mode="scalp", gates=GATES)
    assert [r.threshold for r in sweep.rows] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]


def test_unknown_gate_in_sweep_is_a_one_line_error(crafted: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ObservabilityError, match="no decisions of gate 'spreed'"):
        counterfactual_sweep(crafted, "spreed", DAY, gates=GATES)


def test_trend_is_the_pass_rate_per_hour(crafted: duckdb.DuckDBPyConnection) -> None:
    trend = GateExplainer(crafted, GATES).trend("spread", DAY, "1h", mode="scalp")
    assert [(p.decisions, round(p.pass_rate_pct, 4)) for p in trend.points] == [(4, 50.0), (3, 33.3333)]
    assert trend.points[0].bucket_start == datetime(2026, 1, 6, tzinfo=UTC)


def test_distribution_bins_values_around_the_threshold(crafted: duckdb.DuckDBPyConnection) -> None:
    dist = GateExplainer(crafted, GATES).distribution("spread", DAY, bins=4, mode="scalp")
    assert dist.threshold == 8.0
    assert [(b.lo, b.hi, b.passed, b.failed) for b in dist.bins] == [
        (5.0, 6.5, 2, 0), (6.5, 8.0, 1, 0), (8.0, 9.5, 0, 2), (9.5, 11.0, 0, 2)]


def test_near_misses_are_failures_within_the_margin(crafted: duckdb.DuckDBPyConnection) -> None:
    nm = GateExplainer(crafted, GATES).near_misses("spread", DAY, margin=1.5, mode="scalp")
    assert nm.count == 3
    assert [(i.trace_id, i.margin, i.blocked_alone) for i in nm.items] == [
        ("tr-C3", -0.5, True), ("tr-C6", -0.5, False), ("tr-C4", -1.5, True)]


def test_gate_summaries_compare_pass_rate_with_target(con: duckdb.DuckDBPyConnection) -> None:
    summaries = {s.gate: s for s in GateExplainer(con, GATES).summaries(FIXED_WEEK)}
    spread = summaries["spread"]
    assert (spread.decisions, spread.passed) == (10, 8)
    assert spread.pass_rate_pct == pytest.approx(80.0) and spread.target_pct == pytest.approx(85.0)
    assert spread.near_misses == 1  # B1 at 9.0 vs 8.0, margin 1.0; B2 at 12.0 is not near
    assert spread.blocked_alone == 2
    assert spread.value_max == 12.0
    assert list(summaries) == ["spread", "liquidity", "model_confidence"]  # configured order
    facts = {f.id: f.value for f in spread.to_facts()}
    assert facts["gates.7d.spread.pass_rate"] == pytest.approx(80.0)


def test_explain_blocked_signal_in_one_sentence(con: duckdb.DuckDBPyConnection) -> None:
    ex = GateExplainer(con, GATES).explain_signal("tr-B1")
    assert not ex.taken and ex.blocked_by == ["spread"]
    spread = ex.gates[0]
    assert (spread.value, spread.threshold, spread.margin, spread.near_miss) == (9.0, 8.0, -1.0, True)
    assert ex.shadow_id == "B1" and ex.shadow_pnl == pytest.approx(1.0)
    assert ex.sentence == ("Signal tr-B1 (BTCUSDT scalp long) was BLOCKED by 1 of 3 gates: spread 9 vs max 8 "
                           "(margin -1 bps, near miss); 2 passed; its shadow trade B1 made +1.00 USDT.")


def test_explain_taken_signal_names_the_tightest_gate(con: duckdb.DuckDBPyConnection) -> None:
    ex = GateExplainer(con, GATES).explain_signal("tr-S1")
    assert ex.taken and ex.blocked_by == [] and ex.trade_id == "S1"
    # relative margins: spread 3/8, liquidity 50k/250k, model_confidence 0.25/0.55 -> liquidity is tightest
    assert ex.sentence.startswith("Signal tr-S1 (BTCUSDT scalp long) was TAKEN: all 3 gates passed; tightest: "
                                  "liquidity 300,000 vs min 250,000")
    assert ex.sentence.endswith("trade S1 net P&L +1.80 USDT.")
    assert {f.id for f in ex.to_facts()} >= {"signal.tr-S1.spread.margin", "signal.tr-S1.trade_pnl"}


def test_explain_unknown_trace_is_a_one_line_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnknownTraceError, match="no signal, gate decision or trade has trace_id 'nope'"):
        GateExplainer(con, GATES).explain_signal("nope")


def test_gate_missing_from_config_falls_back_to_the_data(con: duckdb.DuckDBPyConnection) -> None:
    only_spread = GatesConfig(gates={"spread": GATES.gates["spread"]})
    summaries = {s.gate: s for s in GateExplainer(con, only_spread).summaries(FIXED_WEEK)}
    liquidity = summaries["liquidity"]
    assert (liquidity.threshold, liquidity.direction, liquidity.target_pct) == (250_000.0, "min", None)
    assert liquidity.near_miss_margin is None and liquidity.near_misses == 0
    assert list(summaries) == ["spread", "liquidity", "model_confidence"]  # configured first, then recorded order
    sweep = counterfactual_sweep(con, "liquidity", FIXED_WEEK, [200_000.0], gates=only_spread)
    assert sweep.current_threshold == 250_000.0 and sweep.rows[0].delta_passed == 0
