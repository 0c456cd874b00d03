"""The rendered report verifies whatever its labels contain."""

from __future__ import annotations

from datetime import date

from observability.ai.number_verifier import NumberVerifier
from observability.reporting.markdown_report import render
from observability.reporting.report_data import ConfigChange, MetricFinding, Period, ReportData


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
