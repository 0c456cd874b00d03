"""TUI fixtures: a data dir with the fixed dataset, an app factory with a frozen clock, a condition waiter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from huracan_tui.app import HuracanApp
from huracan_tui.settings import TuiSettings
from observability.paths import DataLayout

from .fixture_data import T0, populate

NOW = T0 + 61.0  # one second after the newest heartbeat: the engine is alive


@pytest.fixture
def filled(layout: DataLayout) -> DataLayout:
    populate(layout)
    return layout


@pytest.fixture
def make_app() -> Callable[..., HuracanApp]:
    def factory(layout: DataLayout, *, now: float = NOW, **settings: Any) -> HuracanApp:
        settings.setdefault("feed_interval_s", 0.05)  # quicker feed ticks keep the suite short
        return HuracanApp(layout, settings=TuiSettings(**settings), clock=lambda: now)
    return factory


async def wait_for(pilot: Pilot[Any], cond: Callable[[], object], what: str = "condition",
                   timeout: float = 15.0) -> None:
    """Poll the app until `cond()` holds (no fixed sleeps)."""
    steps = int(timeout / 0.05)
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def settled(pilot: Pilot[Any], loads: int = 1) -> None:
    """The feed has delivered its first batch and the current screen has shown `loads` results."""
    app = pilot.app
    await pilot.pause()  # let a pending mode switch or push happen first
    await wait_for(pilot, lambda: app.rows_seen > 0 or app.feed_notice, "first feed batch")
    await wait_for(pilot, lambda: getattr(app.screen, "loads", loads) >= loads, f"{app.screen} to load")
    await pilot.pause()


def screen_text(app: HuracanApp) -> str:
    """What the terminal shows right now, as plain text lines (what a user reads)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notices(app: HuracanApp) -> str:
    """The text of the notifications (toasts) currently shown."""
    return "\n".join(n.message for n in app._notifications)
