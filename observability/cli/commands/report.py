"""`huracan-obs report daily|weekly [--date YYYY-MM-DD] [--send]`: write (and send) a verified report."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import Any

from observability.cli.common import add_parser, console, layout_from
from observability.config.ai_routing_config import load_ai_routing_config
from observability.errors import ConfigError
from observability.reporting.daily_report import daily_report
from observability.reporting.report_pipeline import ReportResult
from observability.reporting.telegram_sender import send_report
from observability.reporting.weekly_report import weekly_report


def register(sub: Any) -> None:
    p = add_parser(sub, "report", "write the daily or weekly report (markdown + verification) under data/reports/")
    p.add_argument("kind", choices=("daily", "weekly"))
    p.add_argument("--date", default=None,
                   help="UTC day (YYYY-MM-DD) the report ends on; default yesterday (the last complete day)")
    p.add_argument("--send", action="store_true", help="also send it to the configured Telegram chat")
    p.add_argument("--ai-config", default=None, help="ai_routing.yaml (default configs/ai_routing.yaml)")
    p.set_defaults(func=run)


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date {text!r}: expected YYYY-MM-DD, e.g. 2026-11-26") from None


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    config = load_ai_routing_config(args.ai_config)
    day = _day(args.date)
    result: ReportResult = (daily_report if args.kind == "daily" else weekly_report)(layout, day, config)
    checked = len(result.verification.numbers)
    if result.verified:
        console.print(f"wrote {result.markdown_path} (summary by {result.summary.provider}; "
                      f"all {checked} numbers verified)")
    else:
        console.print(f"[red]wrote {result.markdown_path} but {result.verification.problems} numbers, ids or dates "
                      f"({checked} numbers checked) are unsupported[/] (see {result.verification_path})")
    if args.send:
        sent = send_report(config.telegram, result)
        console.print(f"sent to Telegram in {sent} message(s)")
    return 0 if result.verified else 1
