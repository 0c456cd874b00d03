"""`huracan-obs insights [--date YYYY-MM-DD | --window 24h] [--json]`: ranked findings with evidence."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from observability.analytics.insight_aggregator import insights
from observability.analytics.windows import add_window_args, day_window, window_from_args
from observability.cli.common import add_parser, config_from, console, layout_from
from observability.core.io.query import QueryLayer

STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


def register(sub: Any) -> None:
    p = add_parser(sub, "insights", "ranked findings for a day or window, each with its evidence")
    p.add_argument("--date", default=None, help="UTC day YYYY-MM-DD (overrides --window)")
    add_window_args(p)
    p.add_argument("--json", action="store_true", help="print JSON (findings, facts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    window = day_window(args.date) if args.date else window_from_args(args)
    layout = layout_from(args)
    layer = QueryLayer(layout, s3_uri=config_from(args).export.uri)
    try:
        con = layer.connect()
        report = insights(con, window)
        since, until = window.sql_bounds()
        row = con.execute(f"SELECT count(*) FROM events WHERE ts_event >= {since} AND ts_event < {until}").fetchone()
        events = int(row[0]) if row else 0
    finally:
        layer.close()
    if args.json:
        body = report.model_dump(mode="json") | {"facts": [f.model_dump() for f in report.to_facts()]}
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    if not report.findings:
        span = f"{window.label} ({window.since:%Y-%m-%d %H:%M} → {window.until:%Y-%m-%d %H:%M} UTC)"
        # no findings over no data is not an all-clear: say which it is
        console.print(f"no findings for {span} over {events:,} events" if events else
                      f"no events for {span} in {layout.root}; widen --window or check --data-dir")
        return 0
    t = Table(title=f"Insights {window.label}", header_style="bold")
    for col in ("#", "severity", "finding", "detail", "evidence"):
        t.add_column(col, overflow="fold")
    for i, f in enumerate(report.findings, 1):
        ev = ", ".join(f.evidence[:3]) + (f" (+{len(f.evidence) - 3})" if len(f.evidence) > 3 else "")
        t.add_row(str(i), f"[{STYLE[f.severity]}]{f.severity}[/]", escape(f.title), escape(f.detail), escape(ev))
    console.print(t)
    return 0
