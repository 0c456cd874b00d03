"""The Textual app: modes (one per top-level screen), the feed worker, status, navigation and replay keys.

The feed worker reads one bounded batch on a thread (`LiveFeed.poll`, coalescing when behind), posts
it, and the handler re-arms a one-shot timer: refreshes never overlap and a slow UI slows the reads,
never the other way round. Only the visible screen gets the rows; the app keeps a bounded window.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from textual import work
from textual.app import App, ScreenStackError
from textual.message import Message
from textual.screen import Screen

from huracan_tui.commands import CommandsProvider, bindings
from huracan_tui.data import DataSource
from huracan_tui.demo import DemoProcess
from huracan_tui.replay import ReplayFeed
from huracan_tui.screens.detail import HelpScreen, ProblemScreen, PromptScreen, TimelineScreen
from huracan_tui.screens.feed import FeedScreen
from huracan_tui.screens.gates import GatesScreen
from huracan_tui.screens.overview import OverviewScreen
from huracan_tui.screens.tables import MetricsScreen, ModelsScreen, ReportsScreen, TradesScreen
from huracan_tui.settings import TuiSettings
from huracan_tui.widgets.status import EngineStatus, StatusBar, engine_status
from observability.analytics.live_feed import FeedBatch, FeedFilter, FeedRow, FeedState, LiveFeed
from observability.config.gates_config import GatesConfig, load_gates_config
from observability.core.schemas import HealthSnapshot
from observability.errors import ObservabilityError
from observability.paths import DataLayout

IDLE_POLL_S = 0.3
"""Longest poll interval after a run of empty polls: bounds idle CPU and the first-row delay after a lull."""
SCREENS = ("overview", "feed", "gates", "trades", "models", "metrics", "reports")


class FeedSource(Protocol):
    def poll(self) -> FeedBatch: ...
    def read_health_latest(self) -> HealthSnapshot | None: ...
    def close(self) -> None: ...


class FeedUpdate(Message):
    def __init__(self, batch: FeedBatch | None, health: HealthSnapshot | None, error: BaseException | None) -> None:
        super().__init__()
        self.batch = batch
        self.health = health
        self.error = error


class HuracanApp(App[int]):
    TITLE = "huracan-tui"
    CSS_PATH = "huracan.tcss"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {CommandsProvider}
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "overview": OverviewScreen, "feed": FeedScreen, "gates": GatesScreen, "trades": TradesScreen,
        "models": ModelsScreen, "metrics": MetricsScreen, "reports": ReportsScreen}
    DEFAULT_MODE = "overview"

    def __init__(self, layout: DataLayout, *, settings: TuiSettings | None = None,
                 clock: Callable[[], float] = time.time, gates: GatesConfig | None = None,
                 replay: ReplayFeed | None = None, demo: DemoProcess | None = None,
                 on_tick: Callable[[HuracanApp], None] | None = None) -> None:
        super().__init__()
        self.layout = layout
        self.settings = settings or TuiSettings()
        self.keymap = dict(self.settings.keys)
        self.clock = clock
        self.data = DataSource(layout, gates or load_gates_config(), clock=clock)
        self.replay = replay
        self.demo = demo
        self.on_tick = on_tick
        self.feed: FeedSource = replay or LiveFeed(layout.live_db, batch_size=max(100, self.settings.feed_window // 2),
                                                   coalesce=True)
        self.window: deque[FeedRow] = deque(maxlen=self.settings.feed_window)
        self.health: HealthSnapshot | None = None
        self.health_series: deque[tuple[float, float]] = deque(maxlen=60)
        self.coalesced = 0
        self.feed_notice = ""
        self.rows_seen = 0
        self.last_rows: list[FeedRow] = []
        """Rows of the last applied batch (what `on_tick` observers, e.g. the benchmark, look at)."""
        self._history: list[str] = []
        self._interval = self.settings.feed_interval_s
        self._painted: Screen[Any] | None = None
        self._problem_shown = False
        self._started = False
        self._status_keys: weakref.WeakKeyDictionary[Screen[Any], str] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ feed

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        self._poll_feed()

    @work(thread=True, exclusive=True, group="feed")
    def _poll_feed(self) -> None:
        batch: FeedBatch | None = None
        health: HealthSnapshot | None = None
        error: BaseException | None = None
        try:
            if not self._started and isinstance(self.feed, LiveFeed):
                recent = self.feed.read_recent(self.settings.feed_window)
                self.feed.after_seq = recent[-1].seq if recent else 0
                self._started = True
                batch = self.feed.poll()
                batch = FeedBatch(recent + batch.rows, batch.state, batch.last_seq, batch.coalesced, batch.message)
            else:
                batch = self.feed.poll()
            health = self.feed.read_health_latest()
        except Exception as exc:  # shown as a clear screen or a one-line notice by the handler
            error = exc
        self.post_message(FeedUpdate(batch, health, error))

    def on_feed_update(self, message: FeedUpdate) -> None:
        if message.error is not None:
            self.report_problem(message.error)
            if not isinstance(message.error, ObservabilityError):
                self.set_timer(1.0, self._poll_feed)
            return
        batch = message.batch
        assert batch is not None
        if self.replay is not None:
            self.data.until_us = self.replay.cursor_us
        if batch.coalesced:
            self.coalesced += batch.coalesced
        if batch.state is FeedState.REPLACED:
            self.window.clear()
        notice = self.feed_notice
        self.feed_notice = _notice(batch, self.layout)
        health_changed = (message.health is None) != (self.health is None) or (
            message.health is not None and self.health is not None and message.health.ts != self.health.ts)
        if message.health is not None and health_changed:
            self.health_series.append((message.health.events_per_s, message.health.fill_ratio))
        self.health = message.health
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down
            return
        self.last_rows = batch.rows
        if batch.rows:
            self.rows_seen += len(batch.rows)
            self.window.extend(batch.rows)
            handler = getattr(screen, "on_feed_rows", None)
            if handler is not None:
                handler(batch.rows[-self.settings.feed_window:])
        health_handler = getattr(screen, "on_health", None)
        if health_handler is not None and (health_changed or notice != self.feed_notice or screen is not self._painted):
            self._painted = screen
            health_handler()
        self.update_status(screen)
        if self.on_tick is not None:
            self.on_tick(self)
        # Idle back-off: an empty poll stretches the interval (up to IDLE_POLL_S); any row resets it.
        base = self.settings.feed_interval_s
        self._interval = base if batch.rows else min(max(base, IDLE_POLL_S), self._interval * 1.5)
        self.set_timer(self._interval, self._poll_feed)

    def recent_rows(self, flt: FeedFilter) -> list[FeedRow]:
        """Called on a worker thread by the feed screen: the newest window of rows matching `flt`."""
        if isinstance(self.feed, LiveFeed):
            reader = LiveFeed(self.layout.live_db, filter=flt)
            try:
                return reader.read_recent(self.settings.feed_window)
            finally:
                reader.close()
        if isinstance(self.feed, ReplayFeed):
            return self.feed.read_recent(self.settings.feed_window, flt)
        return [r for r in self.window if flt.matches(r)]

    def older_rows(self, flt: FeedFilter, before_seq: int, n: int) -> list[FeedRow]:
        """Called on a worker thread when the feed is scrolled past its window: page back through live.db."""
        if not isinstance(self.feed, LiveFeed):
            return []
        reader = LiveFeed(self.layout.live_db, filter=flt)
        try:
            return reader.read_before(before_seq, n)
        finally:
            reader.close()

    # ------------------------------------------------------------------ status

    def engine_status(self) -> EngineStatus:
        if self.replay is not None:
            return EngineStatus("recorded period", "bold black on cyan", False)
        return engine_status(self.health, self.clock(), self.settings.stale_after_s,
                             "WAITING for live.db" if self.feed_notice else "")

    def update_status(self, screen: Screen[Any] | None = None) -> None:
        screen = screen or self.screen
        bars = screen.query(StatusBar)
        if not bars:
            return
        source = self.replay.label() if self.replay is not None else f"LIVE {self.layout.root.name}"
        if self.demo is not None:
            source += f"  {self.demo.status()}"
        status = self.engine_status()
        key = f"{status.label}|{source}|{self.coalesced}"
        if self._status_keys.get(screen) == key:
            return  # nothing changed: no repaint while idle
        self._status_keys[screen] = key
        bars.first().show(status, source, self.coalesced)

    def report_problem(self, exc: BaseException) -> None:
        """ObservabilityError → a clear full screen once; anything else → a one-line notice."""
        if isinstance(exc, ObservabilityError):
            if not self._problem_shown:
                self._problem_shown = True
                self.push_screen(ProblemScreen(str(exc)))
        else:
            self.notify(f"{type(exc).__name__}: {exc}", severity="error", timeout=4)

    # ------------------------------------------------------------------ navigation

    def action_show(self, name: str) -> None:
        if name not in SCREENS or name == self.current_mode:
            return
        self._history.append(self.current_mode)
        del self._history[:-20]
        self.switch_mode(name)

    def action_go_back(self) -> None:
        """Pop a pushed screen, else return to the previous screen; never quits."""
        screen = self.screen
        closer = getattr(screen, "close_filter_box", None)
        if closer is not None and closer():
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()
            return
        while self._history:
            previous = self._history.pop()
            if previous != self.current_mode:
                self.switch_mode(previous)
                return
        if self.current_mode != "overview":
            self.switch_mode("overview")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_prompt(self) -> None:
        self.push_screen(PromptScreen(), self._run_prompt)

    def _run_prompt(self, text: str | None) -> None:
        if not text:
            return
        verb, _, arg = text.partition(" ")
        arg = arg.strip()
        if verb == "trace" and arg:
            self.push_screen(TimelineScreen(arg))
        elif verb == "gate" and arg:
            self.action_show("gates")
            self.call_after_refresh(self._select_gate, arg)
        elif verb in SCREENS:
            self.action_show(verb)
        else:
            self.notify(f"unknown command {text!r}: use trace ID, gate NAME or one of {', '.join(SCREENS)}",
                        severity="warning")

    def _select_gate(self, name: str) -> None:
        screen = self.screen
        if isinstance(screen, GatesScreen) and not screen.select(name):
            self.notify(f"no gate {name!r}; gates: {', '.join(screen.names)}", severity="warning")

    # ------------------------------------------------------------------ replay

    def _replay_or_warn(self) -> ReplayFeed | None:
        if self.replay is None:
            self.notify("replay keys work with --replay FROM..TO", severity="warning", timeout=2)
        return self.replay

    def action_replay_pause(self) -> None:
        if (r := self._replay_or_warn()) is not None:
            r.toggle_pause()
            self.update_status()

    def action_replay_speed(self, factor: float) -> None:
        if (r := self._replay_or_warn()) is not None:
            r.set_speed(factor)
            self.update_status()

    def action_replay_step(self, n: int) -> None:
        if (r := self._replay_or_warn()) is None:
            return
        delivered = r.step(n)
        self.data.until_us = r.cursor_us
        self.window.clear()
        self.window.extend(delivered)
        screen = self.screen
        view_reset = getattr(screen, "replay_reset", None)
        if view_reset is not None:
            view_reset(list(self.window))
        self.update_status()


def _notice(batch: FeedBatch, layout: DataLayout) -> str:
    if batch.state is FeedState.WAITING:
        return (f"No live feed yet: {batch.message}. Start the engine (or `huracan-obs demo`, or `huracan-tui --demo`),"
                f" or pass --data-dir. Watching {layout.root} …")
    return ""
