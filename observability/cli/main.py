"""Entry point of `huracan-obs`.

Every user error is an `ObservabilityError` and is printed as one line on stderr (exit 2),
never as a traceback; Ctrl-C exits 130 after the command's own cleanup has run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from rich.console import Console

from observability.cli import commands
from observability.errors import ObservabilityError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huracan-obs",
        description="Huracan Observability: flight recorder, analytics and reports for the trading engine.",
    )
    parser.add_argument(
        "--data-dir", default=None,
        help="data directory (default: $HURACAN_DATA_DIR, else ./data)",
    )
    parser.add_argument(
        "--config", default=None,
        help="observability.yaml to use (default: configs/observability.yaml when present)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports every command: seconds on a busy box, so Ctrl-C often lands here
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
