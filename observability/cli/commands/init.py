"""`huracan-obs init`: create the data directory (mode 0700) and its databases."""

from __future__ import annotations

import argparse
from typing import Any

from observability.cli.common import add_parser, console, layout_from
from observability.core.io.journal import open_journal_db
from observability.core.live_store import open_live_db
from observability.core.registry import Registry


def register(sub: Any) -> None:
    p = add_parser(sub, "init", "create the data directory (mode 0700) and its databases")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args, create=True)
    open_live_db(layout.live_db).close()
    Registry(layout).close()
    open_journal_db(layout.journal_db).close()
    console.print(f"initialised {layout.root} (live.db, learning.db and journal.db ready)")
    return 0
