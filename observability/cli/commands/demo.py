"""`huracan-obs demo`: run the simulated engine headless through the real logger into the data directory.

A rich progress line shows events, rate, drops and queue fill (from `logger.health()`); Ctrl-C
or SIGTERM ends the run with everything flushed to live.db.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from observability.cli.common import add_parser, console
from observability.sim.cli import add_sim_arguments, check_args, run_from_args
from observability.sim.runner import SimProgress


def register(sub: Any) -> None:
    p = add_parser(sub, "demo", "run the built-in simulated engine (signals, 6 gates, trades, shadows, "
                                "retrains, tunings) into the data directory")
    add_sim_arguments(p)
    p.set_defaults(func=run)


def _line(p: SimProgress) -> str:
    state = "" if p.writer_alive else " | [red]writer down[/]"
    return (f"events {p.events:,} | {p.events_per_s:,.0f}/s | dropped {p.dropped:,} | queue {p.fill_ratio:.0%} "
            f"({p.queue_depth:,}) | sim {p.sim_seconds:,.0f} s | open {p.open_positions:,}{state}")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if args.duration is not None:
        columns += [BarColumn(bar_width=20), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting the writer…", total=args.duration)

        def show(p: SimProgress) -> None:
            progress.update(task, description=_line(p), completed=min(p.elapsed_s, args.duration or 0.0))

        summary = run_from_args(args, on_progress=show)
    report = summary.close_report
    written = f", {report.written:,} written" if report is not None else ""
    console.print(
        f"demo done: {summary.events:,} events in {summary.run_s:,.1f} s = {summary.events_per_s:,.0f} events/s "
        f"(requested {args.rate:,.0f}/s; {summary.sim_seconds:,.0f} simulated s), {summary.dropped:,} dropped"
        f"{written}; drained and closed in {summary.elapsed_s - summary.run_s:,.1f} s")
    if report is not None and report.error:
        console.print(f"[red]{report.error}[/]")
    elif report is not None and report.unwritten:
        console.print(f"[yellow]{report.unwritten:,} events kept in {report.fallback_file} for the next writer[/]")
    return 0
