"""The weekly report: the seven UTC days ending on the given day (inclusive)."""

from __future__ import annotations

from datetime import date

from observability.config.ai_routing_config import AIRoutingConfig
from observability.paths import DataLayout
from observability.reporting.report_data import Period
from observability.reporting.report_pipeline import ReportResult, build_report


def weekly_report(layout: DataLayout, last_day: date, config: AIRoutingConfig) -> ReportResult:
    return build_report(layout, Period.weekly(last_day), config)
