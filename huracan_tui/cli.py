"""Entry point of `huracan-tui`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="huracan-tui", description="Live terminal monitor for the Huracan engine.")
    p.add_argument("--data-dir", default=None, help="data directory (default: $HURACAN_DATA_DIR, else ./data)")
    p.add_argument("--demo", action="store_true", help="start the simulated engine in the background and monitor it")
    p.add_argument("--replay", metavar="FROM..TO", default=None, help="replay a recorded period from Parquet")
    p.add_argument("--serve", action="store_true", help="serve the app to a browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address for --serve (default 127.0.0.1; use an SSH tunnel)")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"huracan-tui: the monitor is not built yet (args: {vars(args)})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
