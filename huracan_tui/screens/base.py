"""What every screen shares: the status bar, the footer, its bindings from the command table, and a
refresh loop that runs data work in a thread worker and never overlaps (a one-shot timer re-armed after
each result, as in Dolphie) and never runs while the screen is hidden."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from huracan_tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from huracan_tui.app import HuracanApp
    from huracan_tui.data import DataSource


_UNSET: Any = object()
IDLE_RELOAD_S = 30.0
"""Without new rows, panes still re-read this often (registry or report files can change on their own)."""


class Loaded(Message):
    def __init__(self, result: Any, token: int) -> None:
        super().__init__()
        self.result = result
        self.token = token


class DataScreen(Screen[None]):
    """A screen whose content comes from `load()` (run on a worker thread) and is shown by `show()`."""

    SCOPE: ClassVar[str] = "app"
    REFRESH: ClassVar[bool] = True
    """Re-load periodically while visible (False: load once per visit, e.g. a fixed timeline)."""

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._token = 0
        self.loads = 0
        self._shown: Any = _UNSET
        self._loaded_at: tuple[int, float] = (0, 0.0)
        """How many results have been shown (tests wait on it instead of sleeping)."""

    @property
    def huracan(self) -> HuracanApp:
        return self.app  # type: ignore[return-value]

    @property
    def data(self) -> DataSource:
        return self.huracan.data

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield from self.compose_body()
        yield Footer()

    def on_screen_resume(self) -> None:
        self.huracan.update_status(self)
        self.reload()

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def reload(self) -> None:
        """Load now and show the result even if unchanged (cancelling a pending timer; older loads are ignored)."""
        self._shown = _UNSET
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._token += 1
        self._load(self._token)

    @work(thread=True, exclusive=True, group="screen-load")
    def _load(self, token: int) -> None:
        try:
            result = self.load()
        except Exception as exc:  # shown on the screen, never a traceback
            result = exc
        self.post_message(Loaded(result, token))

    def on_loaded(self, message: Loaded) -> None:
        if message.token != self._token:
            return
        if isinstance(message.result, Exception):
            self.huracan.report_problem(message.result)
        elif self._shown is _UNSET or message.result != self._shown:
            self.show(message.result)  # an unchanged result is not repainted
            self._shown = message.result
        self.loads += 1
        self._loaded_at = (self.huracan.rows_seen, time.monotonic())
        self._arm()

    def _arm(self) -> None:
        if self.REFRESH and self.is_current:
            self._timer = self.set_timer(self.huracan.settings.refresh_interval_s, self._tick)

    def _tick(self) -> None:
        """Re-load only when rows arrived since the last load (or every IDLE_RELOAD_S): no work while idle."""
        self._timer = None
        if not self.is_current:
            return
        rows, at = self._loaded_at
        if rows == self.huracan.rows_seen and time.monotonic() - at < IDLE_RELOAD_S and self.huracan.replay is None:
            self._arm()
            return
        self._token += 1
        self._load(self._token)

    def load(self) -> Any:
        """Runs on a worker thread: read data, return a plain result. No widget access here."""
        return None

    def show(self, result: Any) -> None:
        """Runs on the UI thread with the result of `load()`."""
