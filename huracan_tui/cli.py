"""Entry point of `huracan-tui`: parse flags, resolve the data dir, then run, serve or replay.

Errors a user can fix (bad --replay, bad configs/tui.yaml, a newer schema) are one line and exit 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from huracan_tui.demo import DemoProcess
from observability.errors import ObservabilityError
from observability.paths import data_layout


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="huracan-tui", description="Live terminal monitor for the Huracan engine.")
    p.add_argument("--data-dir", default=None, help="data directory (default: $HURACAN_DATA_DIR, else ./data)")
    p.add_argument("--demo", action="store_true", help="start the simulated engine in the background and monitor it")
    p.add_argument("--demo-rate", type=float, default=200.0, help="events/s of the --demo simulator (default 200)")
    p.add_argument("--replay", metavar="FROM..TO", default=None, help="replay a recorded period from Parquet")
    p.add_argument("--replay-speed", type=float, default=1.0, help="initial replay speed (+/- change it)")
    p.add_argument("--serve", action="store_true", help="serve the app to a browser (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address for --serve (default 127.0.0.1; use an SSH tunnel)")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    p.add_argument("--config", default=None, help="tui settings (default configs/tui.yaml): keys, stale-after, window")
    return p


def _serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run this same command (minus --serve) per browser session, bound to --host (loopback by default)."""
    from textual_serve.server import Server

    inner = [a for a in argv if a != "--serve"]
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "huracan_tui", *inner])
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"huracan-tui: serving on {args.host}: anyone who can reach it sees your trading data", file=sys.stderr)
    Server(command, host=args.host, port=args.port, title="huracan-tui").serve()
    return 0


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from huracan_tui.app import HuracanApp
    from huracan_tui.replay import ReplayFeed, load_rows, parse_period
    from huracan_tui.settings import load_settings
    from huracan_tui.watchdog import TtyWatchdog

    if args.serve:
        return _serve(args, argv)
    settings = load_settings(args.config)
    layout = data_layout(args.data_dir, create=args.demo)
    replay = None
    if args.replay:
        import time

        period = parse_period(args.replay)
        replay = ReplayFeed(load_rows(layout, period), period, time.time, speed=args.replay_speed)
    demo = DemoProcess(layout.root, rate=args.demo_rate) if args.demo else None
    app = HuracanApp(layout, settings=settings, replay=replay, demo=demo)
    watchdog = TtyWatchdog(app, cleanup=demo.stop if demo is not None else None)
    try:
        if demo is not None:
            demo.start()
        watchdog.start()
        code = app.run()
    finally:
        watchdog.stop()
        if demo is not None:
            demo.stop()
    return int(code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return run(args, argv)
    except ObservabilityError as exc:
        print(f"huracan-tui: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
