"""`python -m observability.sim --data-dir D ...`: the simulator as a quiet background process.

`huracan-tui --demo` starts this and stops it with SIGTERM, which flushes everything before exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from observability.errors import ObservabilityError
from observability.sim.cli import add_sim_arguments, run_from_args


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m observability.sim",
                                     description="Run the simulated Huracan engine into a data directory.")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $HURACAN_DATA_DIR, else ./data)")
    parser.add_argument("--config", default=None, help="observability.yaml (default: configs/observability.yaml)")
    add_sim_arguments(parser)
    args = parser.parse_args(argv)
    try:
        summary = run_from_args(args)
    except ObservabilityError as exc:
        print(f"observability.sim: error: {exc}", file=sys.stderr)
        return 2
    print(f"simulated {summary.sim_seconds:,.0f} s: {summary.events:,} events ({summary.events_per_s:,.0f}/s), "
          f"{summary.dropped:,} dropped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
