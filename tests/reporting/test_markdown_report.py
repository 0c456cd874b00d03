"""The rendered report verifies whatever its labels contain."""

from __future__ import annotations

from datetime import date

from observability.ai.number_verifier import NumberVerifier
from observability.config.ai_routing_config import AIRoutingConfig
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.reporting.daily_report import daily_report
from observability.reporting.markdown_report import render
from observability.reporting.report_data import ConfigChange, MetricFinding, Period, ReportData
from tests.reporting.dataset import T0, populate


def test_a_metric_label_with_digits_is_text_not_a_number() -> None:
    data = ReportData(Period.daily(date(2026, 11, 26)))
    base = "metrics.all.brier_score"
    data.add(base, "Brier score of model confidence vs direction right (gross P&L > 0)", 0.2611, "", 4)
    data.add(f"{base}.limit", "Brier score of model confidence vs direction right (gross P&L > 0) warn threshold",
             0.25, "", 2)
    data.add("metrics.all.drawdown.limit", "Max drawdown warn threshold", 250, "USDT", 2)
    data.add("metrics.all.latency_p99", "p99 fill latency", 42.3, "ms", 1)
    data.metrics += [MetricFinding(base, "Brier score of model confidence vs direction right (gross P&L > 0)",
                                   "warn", "brier_score"),
                     MetricFinding("metrics.all.latency_p99", "p99 fill latency", "", "latency_p99")]
    md = render(data, "Nothing to add.")
    report = NumberVerifier(data.fact_set()).verify(md)
    assert report.verified, report.findings()
    assert "0.2611" in md and "“(gross P\\&L \\> 0)”" in md


def test_a_first_config_record_shows_its_value() -> None:
    data = ReportData(Period.daily(date(2026, 11, 26)))
    data.add("config.0.new", "gates.spread.threshold new value", 8, "", 0)
    data.configs.append(ConfigChange(0, "gates.spread.threshold", "config", "first record", numeric=False))
    md = render(data, "Nothing to add.")
    assert "config “gates.spread.threshold” changed by “config”: new value 8;" in md
    assert NumberVerifier(data.fact_set()).verify(md).verified


def test_a_first_config_record_is_not_counted_as_a_change(layout: DataLayout) -> None:
    populate(layout)
    conn = open_live_db(layout.live_db)
    try:
        ingest_events(conn, [builders.config_changed(key="risk.max_position_usd", old_value=None, new_value=25_000.0,
                                                     changed_by="config", reason="first record",
                                                     ts_event=T0 + 100)])
    finally:
        conn.close()
    result = daily_report(layout, date(2026, 11, 26), AIRoutingConfig())
    assert result.verified, result.verification.findings()
    assert "Config changes: 1. Config starting values recorded: 1." in result.markdown
    assert "config “risk.max\\_position\\_usd” changed by “config”: new value 25,000;" in result.markdown
