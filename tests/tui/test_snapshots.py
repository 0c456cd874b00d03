"""Snapshots of every screen on fixed data, at 80×24 and 160×50, with a frozen clock (textual pinned in pyproject)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from huracan_tui.app import HuracanApp
from observability.paths import DataLayout

from .conftest import settled

SIZES = [(80, 24), (160, 50)]
KEYS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "feed": ("f",),
    "gates": ("g", "2"),
    "timeline": ("colon", *"trace trace-00007", "enter"),
    "trades": ("t",),
    "models": ("m",),
    "metrics": ("a",),
    "reports": ("r",),
    "help": ("question_mark",),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(KEYS))
def test_screen_snapshot(screen: str, size: tuple[int, int], filled: DataLayout,
                         make_app: Callable[..., HuracanApp], snap_compare: Any) -> None:
    report = filled.reports_dir / "daily-2026-09-21.md"
    report.write_text("# Daily report 2026-09-21\n\n- 15 trades closed, win rate 66.7%\n- net P&L +1.46 USDT\n")
    report.with_suffix(".verification.json").write_text('{"ok": true, "checked": 3, "mismatches": []}')
    app = make_app(filled)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        if KEYS[screen]:
            await pilot.press(*KEYS[screen])
            await settled(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
