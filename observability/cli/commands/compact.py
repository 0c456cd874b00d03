"""`huracan-obs compact [--dry-run]`: merge small Parquet files per partition into large ones."""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from observability.cli.common import add_parser, config_from, console, layout_from
from observability.core.io.compaction import CompactionResult, MergePlan, compact


def register(sub: Any) -> None:
    p = add_parser(sub, "compact", "merge small Parquet files of each partition into large ones")
    p.add_argument("--dry-run", action="store_true", help="only show what would be merged")
    p.add_argument("--uri", default=None, help="dataset URI (default: config export.uri, else the local dataset)")
    p.set_defaults(func=run)


def _report(result: CompactionResult) -> str:
    verb = "would merge" if result.dry_run else "merged"
    text = (f"{verb} {result.files_merged:,} files ({result.rows:,} rows, {result.bytes_before / 1e6:.1f} MB) "
            f"into {result.plans:,} files")
    if not result.dry_run:
        text += f" ({result.bytes_after / 1e6:.1f} MB) in {result.seconds:.1f} s"
    return text


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    uri = args.uri or config_from(args).export.uri
    with Progress(TextColumn("[bold]compacting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("compact", total=None)

        def on_plans(plans: list[MergePlan]) -> None:
            progress.update(task, total=len(plans))

        def on_merged(_: MergePlan) -> None:
            progress.advance(task)

        result = compact(layout, uri=uri, dry_run=args.dry_run, on_plans=on_plans, on_merged=on_merged)
    console.print(_report(result))
    return 0
