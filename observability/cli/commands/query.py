"""`huracan-obs query "SQL" [--format table|csv|json]`: read-only SQL over events, trades, gates, ..."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import orjson
import pyarrow as pa
from rich.table import Table

from observability.cli.common import add_parser, config_from, console, layout_from
from observability.core.io.query import QueryLayer


def register(sub: Any) -> None:
    p = add_parser(sub, "query", "run a read-only SQL query over the views events, trades, gate_decisions, ...")
    p.add_argument("sql", help='the query, e.g. "SELECT gate, avg(passed::INT) FROM gate_decisions GROUP BY gate"')
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    p.add_argument("--max-rows", type=int, default=1000, help="rows shown in table format (default 1000)")
    p.add_argument("--uri", default=None, help="read the dataset at this URI (e.g. s3://bucket/prefix)")
    p.set_defaults(func=run)


def _table(result: pa.Table, max_rows: int) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for name in result.column_names:
        table.add_column(name, overflow="fold")
    for row in result.slice(0, max_rows).to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    if result.num_rows > max_rows:
        table.caption = f"{max_rows} of {result.num_rows} rows shown (use --max-rows or --format csv)"
    return table


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    uri = args.uri or config_from(args).export.uri
    layer = QueryLayer(layout, s3_uri=uri, materialize_trades=False)
    try:
        result = layer.sql(args.sql)
    finally:
        layer.close()
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.column_names)
        writer.writerows(row.values() for row in result.to_pylist())
    elif args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(result.to_pylist(), default=str, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        console.print(_table(result, args.max_rows))
    return 0
