"""`huracan-obs config check [--dir configs]`: validate every config file; exit 1 if any fails.

Environment overrides (HURACAN_<PREFIX>__...) are applied exactly as the product applies them,
so the check answers "would this start?", not merely "is the YAML well-formed?".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from observability.cli.common import add_parser, console
from observability.config.catalog import check_all

_STYLE = {"ok": "green", "defaults": "cyan", "unchecked": "dim", "error": "bold red", "missing": "bold red",
          "not available": "bold red"}


def register(sub: Any) -> None:
    p = add_parser(sub, "config", "configuration files")
    csub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    csub.required = True
    q = add_parser(csub, "check", "validate every config file (with environment overrides); exit 1 on failure")
    q.add_argument("--dir", type=Path, default=Path("configs"), help="directory holding the configs (default: configs)")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = check_all(args.dir)
    failed = [r for r in results if r.failed]
    table = Table(title=f"config check: {args.dir}")
    table.add_column("file", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("message", overflow="fold")
    for r in results:
        table.add_row(r.filename, f"[{_STYLE[r.status]}]{r.status}[/]", r.message.replace("[", r"\["))
    console.print(table)
    if failed:
        checked = sum(r.status != "unchecked" for r in results)
        console.print(f"{len(failed)} of {checked} config files failed; fix the lines named above")
        return 1
    checked = sum(r.status != "unchecked" for r in results)
    console.print(f"all {checked} config files valid" + (f" ({len(results) - checked} not ours, unchecked)"
                                                         if checked < len(results) else ""))
    return 0
