"""`huracan-obs health`: is the engine alive and is logging healthy? (exit 0 ok, 1 degraded/stale, 2 error)

Meant for a quick look over SSH and for cron/monitoring: it reads the writer's heartbeat from
live.db read-only and calls the engine stale when the newest heartbeat is older than
`--stale-after` seconds (default 3 s, as the TUI does).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.table import Table

from observability.analytics.live_feed import LiveFeed
from observability.cli.common import add_parser, console, layout_from
from observability.core.live_store import open_readonly
from observability.errors import DataDirError


def register(sub: Any) -> None:
    p = add_parser(sub, "health", "show the logger's heartbeat: queue fill, drops, writer lag, kill switch")
    p.add_argument("--stale-after", type=float, default=3.0, help="seconds without a heartbeat = stale (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    conn = open_readonly(layout.live_db)
    try:
        events, last_seq = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM live_feed").fetchone()
        dead = conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0]
    finally:
        conn.close()
    snap = LiveFeed(layout.live_db).read_health_latest()
    if snap is None:
        raise DataDirError(f"{layout.live_db}: no heartbeat recorded yet; "
                           "is the engine (or `huracan-obs demo`) running?")
    age = time.time() - snap.ts.timestamp()
    stale = age > args.stale_after
    state = "STALE" if stale else snap.status.upper()
    if args.json:
        out = snap.model_dump(mode="json") | {"age_s": round(age, 3), "stale": stale, "events_in_live_db": events,
                                               "last_seq": last_seq, "dead_letter_rows": dead}
        console.print_json(json.dumps(out))
    else:
        t = Table(title=f"huracan logger health — {state}", show_header=False, title_justify="left")
        t.add_column("field", style="bold")
        t.add_column("value")
        t.add_row("heartbeat", f"{snap.ts:%Y-%m-%d %H:%M:%S} UTC ({age:.1f} s ago){'  ⚠ STALE' if stale else ''}")
        t.add_row("queue", f"{snap.fill_ratio:.1%} full ({snap.queue_depth:,}/{snap.queue_maxsize:,})")
        drops = ", ".join(f"{k} {v:,}" for k, v in sorted(snap.dropped_by_severity.items())) or "none"
        t.add_row("dropped", f"{snap.dropped_total:,} ({drops})")
        t.add_row("kill switch", f"{'ACTIVE' if snap.kill_switch else 'armed'} (fired {snap.kill_switch_fired_total}x)")
        error = f"; {snap.writer_error}" if snap.writer_error else ""
        t.add_row("writer", f"{'alive' if snap.writer_alive else 'DOWN'}; lag {snap.writer_lag_s:.2f} s "
                            f"({snap.writer_lag_events:,} events){error}")
        t.add_row("rate", f"{snap.events_per_s:,.0f} logged/s, {snap.written_per_s:,.0f} written/s")
        t.add_row("live.db", f"{events:,} events (last seq {last_seq:,}); {dead:,} dead-lettered")
        console.print(t)
    return 1 if stale or snap.status != "ok" else 0
