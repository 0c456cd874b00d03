"""The daily report: one UTC day of trading, gates, shadow outcomes and model/config changes."""

from __future__ import annotations

from datetime import date

from observability.config.ai_routing_config import AIRoutingConfig
from observability.paths import DataLayout
from observability.reporting.report_data import Period
from observability.reporting.report_pipeline import ReportResult, build_report


def daily_report(layout: DataLayout, day: date, config: AIRoutingConfig) -> ReportResult:
    return build_report(layout, Period.daily(day), config)
