"""Arguments shared by `huracan-obs demo` and `python -m observability.sim` (what `huracan-tui --demo` starts)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from observability.config.gates_config import load_gates_config
from observability.config.observability_config import load_observability_config
from observability.paths import data_layout
from observability.sim.engine import DEFAULT_SYMBOLS
from observability.sim.runner import (
    SimProgress,
    SimSummary,
    check_sim_arguments,
    collect_rarely,
    install_stop_handlers,
    run_simulation,
)


def add_sim_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="random seed: the same seed gives the same events (default 7)")
    p.add_argument("--rate", type=float, default=200.0, help="events per real second, 50 to 50,000 (default 200)")
    p.add_argument("--duration", type=float, default=None,
                   help="real seconds to run (default: until Ctrl-C or SIGTERM)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second; >1 makes trades, retrains and tunings come sooner")
    p.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS),
                   help=f"comma-separated symbols (default {','.join(DEFAULT_SYMBOLS)})")
    p.add_argument("--gates", default=None, help="gates.yaml to use (default: configs/gates.yaml when present)")
    p.add_argument("--no-registry", action="store_true",
                   help="do not register models or config changes in learning.db (events only)")


def symbols_from(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in str(args.symbols).split(",") if s.strip()]


def check_args(args: argparse.Namespace) -> None:
    """Validate the simulation arguments and the gates file before any display or process starts."""
    check_sim_arguments(args.rate, args.speed, args.duration, symbols_from(args))
    load_gates_config(args.gates)
    data_layout(getattr(args, "data_dir", None), create=True)  # an unusable --data-dir fails before the display


def run_from_args(
    args: argparse.Namespace, *, on_progress: Callable[[SimProgress], None] | None = None,
) -> SimSummary:
    """Resolve paths and configs from parsed arguments and run until the duration ends or a stop signal."""
    layout = data_layout(getattr(args, "data_dir", None), create=True)
    gates = load_gates_config(args.gates)
    config = load_observability_config(getattr(args, "config", None))
    symbols = symbols_from(args)

    collect_rarely()

    async def main() -> SimSummary:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        return await run_simulation(
            layout.root, seed=args.seed, rate=args.rate, duration=args.duration, speed=args.speed, symbols=symbols,
            gates=gates, config=config, use_registry=not args.no_registry, stop=stop, on_progress=on_progress)

    return asyncio.run(main())
