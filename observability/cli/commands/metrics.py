"""`huracan-obs metrics [--mode M] [--window 24h|--since T] [--metric NAME ...] [--json]`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from observability.analytics.metrics_computer import MetricsComputer, MetricValue
from observability.analytics.windows import add_window_args, window_from_args
from observability.cli.common import add_parser, config_from, console, layout_from
from observability.config.metrics_config import load_metrics_config
from observability.core.io.query import QueryLayer
from observability.errors import ConfigError

STYLE = {"ok": "green", "warn": "yellow", "critical": "bold red", "insufficient": "dim", "no_data": "dim",
         "info": ""}


def register(sub: Any) -> None:
    p = add_parser(sub, "metrics", "trading, gate, model and logger metrics per mode and window, with status")
    p.add_argument("--mode", choices=("scalp", "runner"), default=None, help="show this mode beside 'all'")
    add_window_args(p)
    p.add_argument("--metric", action="append", default=None, help="only this metric (repeatable)")
    p.add_argument("--metrics-config", default=None, help="metrics.yaml (default configs/metrics.yaml)")
    p.add_argument("--json", action="store_true", help="print JSON (values, alerts, facts)")
    p.set_defaults(func=run)


def fmt(v: MetricValue) -> str:
    if v.value is None:
        return "—"
    text = f"{v.value:,.{v.precision}f}"
    if v.unit == "%":
        return f"{text}%"
    return text if v.unit in ("count", "ratio") else f"{text} {v.unit}"


def run(args: argparse.Namespace) -> int:
    cfg = load_metrics_config(args.metrics_config)
    unknown = sorted(set(args.metric or []) - set(cfg.metrics))
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; see configs/metrics.yaml for the names")
    window = window_from_args(args)
    layout = layout_from(args)
    layer = QueryLayer(layout, s3_uri=config_from(args).export.uri)
    try:
        report = MetricsComputer(layer.connect(), cfg).compute(
            window, metrics=args.metric, scopes=["all", args.mode] if args.mode else ["all"])
    finally:
        layer.close()
    if args.json:
        body = report.model_dump(mode="json") | {"facts": [f.model_dump() for f in report.to_facts()]}
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    table = Table(title=f"Metrics {window.label}: {window.since:%Y-%m-%d %H:%M} → {window.until:%Y-%m-%d %H:%M} UTC",
                  header_style="bold")
    for col in ("metric", "scope", "value", "n", "status", "target", "warn / critical"):
        table.add_column(col, justify="right" if col in ("value", "n", "target") else "left",
                         no_wrap=col in ("value", "status"))
    for v in report.values:
        limits = "" if v.warn is None and v.critical is None else f"{v.warn} / {v.critical} ({v.good} good)"
        table.add_row(escape(v.label + (f" [{v.group}]" if v.group else "")), v.scope, fmt(v), str(v.n),
                      f"[{STYLE[v.status]}]{v.status}[/]" if STYLE[v.status] else v.status,
                      "" if v.target is None else f"{v.target:g}", limits)
    table.caption = f"{len(report.values)} values from {report.queries} queries in {report.elapsed_ms:.0f} ms"
    console.print(table)
    if all(v.n == 0 for v in report.values):
        console.print(f"no data from {window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC in "
                      f"{layout.root}; widen --window or check --data-dir")
    if report.alerts:
        alerts = Table(title="Alerts", header_style="bold")
        for col in ("severity", "metric", "scope", "value", "threshold", "message"):
            alerts.add_column(col)
        for a in report.alerts:
            alerts.add_row(a.severity, escape(a.metric + (f" [{a.group}]" if a.group else "")), a.scope,
                           f"{a.value:.4g}", f"{a.threshold:g}", escape(a.message))
        console.print(alerts)
    return 0
