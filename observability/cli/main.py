"""Entry point of `huracan-obs`.

Every user error is an `ObservabilityError` and is printed as one line on stderr (exit 2),
never as a traceback; Ctrl-C exits 130 after the command's own cleanup has run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from rich.console import Console

from observability.cli import commands
from observability.core.io.arrow_memory import keep_freed_memory
from observability.errors import ObservabilityError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--data-dir", default=None,
        help="data directory (default: $HURACAN_DATA_DIR, else ./data)",
    )
    parser.add_argument(
        "--config", default=None,
        help="observability.yaml to use (default: configs/observability.yaml when present)",
    )
    return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command` when a module of that name exists.

    Each command lives in `commands/<name>.py`. Why only one: importing every command (DuckDB, pyarrow,
    the simulator, reporting) took ~1 s before anything ran, on every call; `--help` still lists them all.
    """
    parser = _global_options(argparse.ArgumentParser(
        prog="huracan-obs",
        description="Huracan Observability: flight recorder, analytics and reports for the trading engine.",
    ))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    for name in [command] if command in names else names:
        register = getattr(importlib.import_module(f"{commands.__name__}.{name}"), "register", None)
        if callable(register):
            register(sub)
    return parser


def _command(argv: Sequence[str] | None) -> str | None:
    """The command named on the command line (after the global options), if any."""
    _, rest = _global_options(argparse.ArgumentParser(add_help=False)).parse_known_args(argv)
    return rest[0] if rest and not rest[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory(os.environ)  # before any command imports pyarrow: `export` and `compact` run here
    try:
        parser = build_parser(_command(argv))  # imports the command: long on a busy box, so Ctrl-C may land here
    except KeyboardInterrupt:
        err_console.print("huracan-obs: interrupted", markup=False)
        return 130
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ObservabilityError as exc:
        err_console.print(f"huracan-obs: error: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("huracan-obs: interrupted", markup=False)
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
