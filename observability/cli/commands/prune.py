"""`huracan-obs prune [--dry-run]`: drop live.db rows older than the hot window that are safely exported."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from observability.cli.common import add_parser, config_from, console, layout_from
from observability.core.io.retention import prune


def register(sub: Any) -> None:
    p = add_parser(sub, "prune", "delete live.db rows older than the hot window that are already exported")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.add_argument("--hot-hours", type=float, default=None,
                   help="hours of events live.db keeps (default: config retention.live_hot_hours, 24)")
    p.add_argument("--uri", default=None, help="dataset URI whose watermark counts (default: config export.uri)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    cfg = config_from(args)
    hot = args.hot_hours if args.hot_hours is not None else cfg.retention.live_hot_hours
    with Progress(TextColumn("[bold]pruning live.db"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("prune", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = prune(layout, hot_hours=hot, health_keep_hours=cfg.retention.health_keep_hours,
                       uri=args.uri or cfg.export.uri, dry_run=args.dry_run,
                       batch_rows=cfg.retention.prune_batch_rows, on_progress=on_progress)
    cutoff = datetime.fromtimestamp(result.cutoff_us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    verb = "would delete" if result.dry_run else "deleted"
    console.print(f"{verb} {result.rows:,} live rows (before {cutoff}, exported up to seq {result.safe_seq:,}) "
                  f"and {result.health_rows:,} health rows")
    return 0
