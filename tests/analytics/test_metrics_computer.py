"""Every metric family against values computed BY HAND from tests/analytics/dataset.py.

Closed trades (net P&L USDT / bps): S1 +1.8/+180, S2 -1.2/-120, R1 +4.9/+490, S3 +0.8/+80,
S4 -1.2/-120 (short), R2 -2.1/-210. R3 is open. Shadows: B1 +1 (spread), B2 -2 (spread),
B3 +2 (model_confidence).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import duckdb
import pytest

from observability.analytics.metrics_computer import MetricsComputer, MetricsReport
from observability.analytics.views import utc_date
from observability.analytics.windows import Window, make_window
from observability.config.metrics_config import MetricsConfig
from observability.paths import DataLayout

UNTIL = datetime(2026, 1, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def report(con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig) -> MetricsReport:
    return MetricsComputer(con, metrics_config).compute(make_window("7d", until=UNTIL))


def v(report: MetricsReport, name: str, scope: str = "all", group: str | None = None) -> float:
    value = report.value(name, scope, group)
    assert value is not None, f"{name} {scope} {group} has no value"
    return value


def test_win_rate_expectancy_and_profit_factor_match_hand_values(report: MetricsReport) -> None:
    assert v(report, "trades_closed") == 6
    assert v(report, "trades_open") == 1
    assert v(report, "win_rate") == pytest.approx(50.0)
    assert v(report, "loss_rate") == pytest.approx(50.0)
    assert v(report, "expectancy_usdt") == pytest.approx(3.0 / 6)
    assert v(report, "expectancy_bps") == pytest.approx(300.0 / 6)
    assert v(report, "profit_factor") == pytest.approx(7.5 / 4.5)
    assert v(report, "avg_win_usdt") == pytest.approx(2.5)
    assert v(report, "avg_loss_usdt") == pytest.approx(-1.5)
    assert v(report, "avg_win_bps") == pytest.approx((180 + 490 + 80) / 3)
    assert v(report, "avg_loss_bps") == pytest.approx((-120 - 120 - 210) / 3)
    assert v(report, "win_loss_ratio") == pytest.approx(2.5 / 1.5)
    assert v(report, "largest_win_usdt") == pytest.approx(4.9)
    assert v(report, "largest_loss_usdt") == pytest.approx(-2.1)


def test_metrics_are_split_per_mode(report: MetricsReport) -> None:
    assert v(report, "trades_closed", "scalp") == 4
    assert v(report, "expectancy_usdt", "scalp") == pytest.approx((1.8 - 1.2 + 0.8 - 1.2) / 4)
    assert v(report, "expectancy_bps", "runner") == pytest.approx((490 - 210) / 2)
    assert v(report, "profit_factor", "scalp") == pytest.approx(2.6 / 2.4)
    assert report.get("win_rate", "runner") is not None
    assert report.get("win_rate", "runner").target == 40  # type: ignore[union-attr]


def test_pnl_fees_and_exit_mix(report: MetricsReport) -> None:
    assert v(report, "pnl_gross_usdt") == pytest.approx(2 - 1 + 5 + 1 - 1 - 2)
    assert v(report, "pnl_net_usdt") == pytest.approx(3.0)
    assert v(report, "fees_usdt") == pytest.approx(4 * 0.2 + 2 * 0.1)
    assert v(report, "fee_drag_pct") == pytest.approx(100 * 1.0 / (2 + 5 + 1))
    assert v(report, "exit_stop_loss_pct") == pytest.approx(100 * 2 / 6)
    assert v(report, "exit_take_profit_pct") == pytest.approx(100 * 2 / 6)
    assert v(report, "exit_timeout_pct") == pytest.approx(100 * 1 / 6)


def test_slippage_average_and_p95(report: MetricsReport) -> None:
    s1 = (100.0 - 99.9) / 99.9 * 10_000  # the only trade filled away from its requested price
    assert v(report, "slippage_entry_avg_bps") == pytest.approx(s1 / 7)
    assert v(report, "slippage_entry_avg_bps", "scalp") == pytest.approx(s1 / 4)
    # 7 values, six 0 and one s1: p95 position 0.95 * 6 = 5.7 -> 0 + 0.7 * s1
    assert v(report, "slippage_entry_p95_bps") == pytest.approx(0.7 * s1)
    assert report.get("slippage_exit_avg_bps") is not None
    assert report.get("slippage_exit_avg_bps").status == "no_data"  # type: ignore[union-attr]
    assert v(report, "fill_latency_avg_ms") == pytest.approx((20 + 40 + 50 + 30 + 10 + 60 + 70) / 7)


def test_hold_time_and_excursions(report: MetricsReport) -> None:
    assert v(report, "hold_time_avg_s") == pytest.approx((60 + 120 + 3600 + 30 + 90 + 1800) / 6)
    assert v(report, "hold_time_median_s") == pytest.approx((90 + 120) / 2)
    assert v(report, "mfe_avg_bps") == pytest.approx((250 + 30 + 600 + 120 + 10 + 50) / 6)
    assert v(report, "mae_avg_bps") == pytest.approx((-50 - 110 - 80 - 20 - 100 - 220) / 6)


def test_drawdown_and_daily_sharpe_sortino(report: MetricsReport) -> None:
    # equity (all): 1.8, 0.6, 5.5, 6.3, 5.1, 3.0 -> peak 6.3, trough after it 3.0
    assert v(report, "max_drawdown_usdt") == pytest.approx(3.3)
    assert v(report, "max_drawdown_usdt", "scalp") == pytest.approx(1.6)  # 1.8 -> 0.2
    assert v(report, "max_drawdown_usdt", "runner") == pytest.approx(2.1)  # 4.9 -> 2.8
    assert v(report, "equity_end_usdt") == pytest.approx(3.0)
    daily = [1.8 - 1.2 + 4.9, 0.8 - 1.2, -2.1]  # 2026-01-05, -06, -07
    mean = sum(daily) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in daily) / 2)
    downside = math.sqrt(sum(min(d, 0.0) ** 2 for d in daily) / 3)
    assert v(report, "sharpe_daily") == pytest.approx(mean / sd * math.sqrt(365))
    assert v(report, "sortino_daily") == pytest.approx(mean / downside * math.sqrt(365))
    assert report.get("sharpe_daily").status == "insufficient"  # type: ignore[union-attr]  # 3 days < 5
    assert v(report, "daily_pnl_avg_usdt") == pytest.approx(1.0)
    assert v(report, "days_positive_pct") == pytest.approx(100 / 3)


def test_gate_pass_rates_and_shadow_outcomes_per_gate(report: MetricsReport) -> None:
    assert v(report, "signals_total") == 10
    assert v(report, "take_rate_pct") == pytest.approx(70.0)
    assert v(report, "take_rate_pct", "scalp") == pytest.approx(100 * 4 / 6)
    assert v(report, "gate_pass_rate", group="spread") == pytest.approx(80.0)
    assert v(report, "gate_pass_rate", group="model_confidence") == pytest.approx(90.0)
    assert v(report, "gate_pass_rate", group="liquidity") == pytest.approx(100.0)
    assert v(report, "gate_pass_rate", "scalp", "spread") == pytest.approx(100 * 4 / 6)
    assert v(report, "gate_block_share_pct", group="spread") == pytest.approx(100 * 2 / 3)
    assert v(report, "shadow_trades_closed") == 3
    assert v(report, "shadow_win_rate") == pytest.approx(100 * 2 / 3)
    assert v(report, "shadow_expectancy_bps") == pytest.approx((100 - 200 + 200) / 3)
    assert v(report, "shadow_pnl_usdt") == pytest.approx(1.0)
    assert v(report, "shadow_pnl_by_gate_usdt", group="spread") == pytest.approx(1 - 2)
    assert v(report, "shadow_pnl_by_gate_usdt", group="model_confidence") == pytest.approx(2.0)
    assert v(report, "shadow_win_rate_by_gate", group="spread") == pytest.approx(50.0)


def test_confidence_calibration(report: MetricsReport) -> None:
    pairs = [(0.8, 1), (0.7, 0), (0.65, 1), (0.6, 1), (0.9, 0), (0.55, 0)]  # (confidence, won)
    assert v(report, "brier_score") == pytest.approx(sum((c - w) ** 2 for c, w in pairs) / 6)
    assert v(report, "calibration_gap_pct") == pytest.approx(100 * (4.2 / 6 - 0.5))
    assert v(report, "calibration_bucket_win_rate", group="0.6") == pytest.approx(100.0)  # R1 0.65, S3 0.6
    assert v(report, "calibration_bucket_confidence", group="0.6") == pytest.approx(62.5)
    assert v(report, "calibration_bucket_win_rate", group="0.9") == pytest.approx(0.0)


def test_queue_health_drops_writer_lag_and_errors(report: MetricsReport) -> None:
    assert v(report, "queue_fill_avg_pct") == pytest.approx(30.0)
    assert v(report, "queue_fill_max_pct") == pytest.approx(50.0)
    assert v(report, "queue_depth_max") == 500
    assert v(report, "events_dropped") == 5
    assert v(report, "dead_letters") == 2
    assert v(report, "writer_lag_max_s") == pytest.approx(1.5)
    assert v(report, "writer_lag_avg_s") == pytest.approx(0.7)
    assert v(report, "events_per_s_avg") == pytest.approx(200.0)
    assert v(report, "writer_down_samples") == 1
    assert v(report, "errors_total") == 2
    assert v(report, "errors_unrecoverable") == 1
    assert v(report, "spread_avg_bps") == pytest.approx(3.0)
    assert v(report, "model_updates_total") == 1
    assert v(report, "config_changes_total") == 1


def test_latencies_signal_decision_fill(report: MetricsReport) -> None:
    assert v(report, "latency_signal_to_decision_avg_ms") == pytest.approx(300.0)  # 3 gates, 100 ms apart
    assert v(report, "latency_decision_to_fill_avg_ms") == pytest.approx(200.0)  # fill 500 ms after signal
    assert v(report, "latency_signal_to_fill_p95_ms") == pytest.approx(500.0)


def test_threshold_status_and_alerts(report: MetricsReport) -> None:
    assert report.get("events_dropped").status == "warn"  # type: ignore[union-attr]
    assert report.get("queue_fill_max_pct").status == "ok"  # type: ignore[union-attr]
    assert report.get("latency_signal_to_decision_p95_ms").status == "critical"  # type: ignore[union-attr]
    assert report.get("win_rate").status == "insufficient"  # type: ignore[union-attr]  # 6 trades < 10
    fired = {(a.metric, a.severity) for a in report.alerts}
    assert ("events_dropped", "ERROR") in fired
    assert ("dead_letters", "WARNING") in fired
    assert not any(a.metric == "win_rate" for a in report.alerts)


def test_values_carry_evidence_and_convert_to_facts(report: MetricsReport) -> None:
    win = report.get("win_rate")
    assert win is not None
    assert set(win.evidence) == {"S1", "S2", "R1", "S3", "S4", "R2"}
    shadow = report.get("shadow_pnl_by_gate_usdt", group="spread")
    assert shadow is not None and set(shadow.evidence) == {"B1", "B2"}
    facts = {f.id: f for f in win.to_facts()}
    assert facts["metrics.7d.all.win_rate"].value == pytest.approx(50.0)
    assert facts["metrics.7d.all.win_rate"].unit == "%"
    assert facts["metrics.7d.all.win_rate.n"].value == 6
    assert "metrics.7d.all.gate_pass_rate[spread]" in {f.id for f in report.to_facts()}


def test_window_excludes_trades_closed_outside_it(
    con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig
) -> None:
    first_day = make_window("24h", until=datetime(2026, 1, 6, tzinfo=UTC))
    report = MetricsComputer(con, metrics_config).compute(first_day, metrics=["trades_closed", "pnl_net_usdt"])
    assert report.value("trades_closed") == 3  # S1, S2, R1
    assert report.value("pnl_net_usdt") == pytest.approx(1.8 - 1.2 + 4.9)
    assert {v.name for v in report.values} == {"trades_closed", "pnl_net_usdt"}


def test_empty_window_gives_no_data_not_errors(con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig) -> None:
    report = MetricsComputer(con, metrics_config).compute(make_window("1h", until=datetime(2025, 1, 1, tzinfo=UTC)))
    win = report.get("win_rate")
    assert win is not None and win.value is None and win.status == "no_data"
    assert report.value("trades_closed") == 0
    assert win.to_facts() == [] or all(f.id.endswith(".n") for f in win.to_facts())


def test_daily_series_counts_days_without_trades_as_zero(
    con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig
) -> None:
    # runner closes R1 on 01-05 and R2 on 01-07: 01-06 is a flat day of the daily series, not a missing one
    report = MetricsComputer(con, metrics_config).compute(make_window("7d", until=UNTIL))
    assert v(report, "daily_pnl_avg_usdt", "runner") == pytest.approx((4.9 + 0.0 - 2.1) / 3)
    assert v(report, "days_positive_pct", "runner") == pytest.approx(100 / 3)
    # a window running two days past the last trade: 01-08 and 01-09 are flat days too
    later = MetricsComputer(con, metrics_config).compute(make_window("7d", until=datetime(2026, 1, 10, tzinfo=UTC)))
    daily = [1.8 - 1.2 + 4.9, 0.8 - 1.2, -2.1, 0.0, 0.0]  # 2026-01-05 .. 01-09
    mean = sum(daily) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in daily) / 4)
    downside = math.sqrt(sum(min(d, 0.0) ** 2 for d in daily) / 5)
    assert v(later, "daily_pnl_avg_usdt") == pytest.approx(0.6)
    assert v(later, "sharpe_daily") == pytest.approx(mean / sd * math.sqrt(365))
    assert v(later, "sortino_daily") == pytest.approx(mean / downside * math.sqrt(365))
    assert later.get("sharpe_daily").n == 5  # type: ignore[union-attr]


def test_too_few_days_for_a_sharpe_ratio_is_insufficient_not_no_data(
    con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig
) -> None:
    one_day = make_window("24h", until=datetime(2026, 1, 6, tzinfo=UTC))  # one day: no sample std deviation
    report = MetricsComputer(con, metrics_config).compute(one_day, metrics=["sharpe_daily", "trades_closed"])
    sharpe = report.get("sharpe_daily")
    assert sharpe is not None and sharpe.value is None and sharpe.n == 1 and sharpe.status == "insufficient"


def test_signal_taken_in_the_window_counts_even_if_its_trade_closes_after_it(
    con: duckdb.DuckDBPyConnection, metrics_config: MetricsConfig
) -> None:
    # S1: signal 00:58:59.5, fill 00:59:00, close 01:00:00; the window ends 00:59:30, before the close
    window = Window(label="w", since=datetime(2026, 1, 5, tzinfo=UTC),
                    until=datetime(2026, 1, 5, 0, 59, 30, tzinfo=UTC))
    report = MetricsComputer(con, metrics_config).compute(
        window, metrics=["signals_total", "take_rate_pct", "latency_decision_to_fill_avg_ms"])
    assert v(report, "signals_total") == 1
    assert v(report, "take_rate_pct") == pytest.approx(100.0)
    assert v(report, "latency_decision_to_fill_avg_ms") == pytest.approx(200.0)


def test_equity_at_window_end_is_the_last_trade_of_a_simultaneous_close(layout: DataLayout) -> None:
    from observability.core import builders
    from observability.core.ingest import ingest_events
    from observability.core.io.query import QueryLayer
    from observability.core.live_store import open_live_db

    ts = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()
    events = []
    for tid, exit_ in (("B", 102.0), ("A", 101.0), ("C", 97.0)):  # C closes earlier; A and B at the same instant
        exe = builders.execution(order_id=f"o{tid}", side="buy", price_requested=100.0, price_filled=100.0,
                                 size_requested=1.0, size_filled=1.0, fees=0.0)
        close = ts - 60 if tid == "C" else ts
        events += [builders.trade_opened(trade_id=tid, side="long", execution=exe, model_id="m", symbol="X",
                                         trace_id=f"tr-{tid}", mode="scalp", ts_event=close - 120),
                   builders.trade_closed(trade_id=tid, side="long", entry_price=100.0, exit_price=exit_, size=1.0,
                                         fees=0.0, hold_seconds=120.0, exit_reason="timeout", symbol="X",
                                         trace_id=f"tr-{tid}", mode="scalp", ts_event=close)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    q = QueryLayer(layout)
    report = MetricsComputer(q.connect()).compute(make_window("1d", until=datetime(2026, 1, 6, tzinfo=UTC)),
                                                  metrics=["equity_end_usdt", "pnl_net_usdt"])
    q.close()
    assert v(report, "equity_end_usdt") == pytest.approx(-3.0 + 1.0 + 2.0)  # C, then A and B
    assert v(report, "equity_end_usdt") == pytest.approx(v(report, "pnl_net_usdt"))


def test_the_utc_day_of_a_time_is_its_calendar_date_at_utc_also_before_1970() -> None:
    """The daily P&L groups closes by integer arithmetic on epoch microseconds: floored, so the microsecond
    before midnight stays on its day on either side of 1970."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # the session zone plays no part
    day = 86_400_000_000
    stamps = [k * day + d for k in (-3, -1, 0, 1, 20_419) for d in (-1, 0, 1, day // 2)]
    times = "SELECT TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds(unnest($s::BIGINT[])) AS t"
    rows = con.execute(f"SELECT {utc_date('t')} = CAST(t AT TIME ZONE 'UTC' AS DATE) FROM ({times})",
                       {"s": stamps}).fetchall()
    assert rows == [(True,)] * len(stamps)
