"""`huracan-obs export`: move live rows above the watermark to Parquet now (exactly once)."""

from __future__ import annotations

import argparse
from typing import Any

from observability.cli.common import add_parser, config_from, console, layout_from
from observability.core.io.exporter import export_once


def register(sub: Any) -> None:
    p = add_parser(sub, "export", "export live.db rows not yet in Parquet (safe to run while the engine runs)")
    p.add_argument("--uri", default=None, help="dataset URI, e.g. s3://bucket/prefix (default: config export.uri, "
                                               "else <data-dir>/parquet/events)")
    p.add_argument("--max-rows", type=int, default=None, help="export at most this many rows")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    uri = args.uri or config_from(args).export.uri
    with console.status("exporting live rows to Parquet ..."):
        result = export_once(layout, max_rows=args.max_rows, uri=uri, wait=True)
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"exported {result.rows:,} rows into {result.files} files ({result.bytes / 1e6:.1f} MB) in "
        f"{result.seconds:.2f} s ({rate:,.0f} rows/s); watermark seq {result.watermark:,}"
        + (f", {result.from_spool:,} of them typed by the writer" if result.from_spool else "")
        + (f"; cleaned {result.reconciled_files} leftover files" if result.reconciled_files else "")
    )
    return 0
