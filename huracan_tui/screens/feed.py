"""Live feed: follow mode, pause on scroll with "+N new", filters (`/`, `!`), `enter` opens an event."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Input, Static

from huracan_tui.commands import bindings
from huracan_tui.filters import describe, parse_filter
from huracan_tui.screens.base import DataScreen
from huracan_tui.screens.detail import EventDetailScreen
from huracan_tui.widgets.feed_view import FeedView
from observability.analytics.live_feed import FeedFilter, FeedRow
from observability.errors import ObservabilityError


class FeedScreen(DataScreen):
    SCOPE = "feed"
    REFRESH = False
    BINDINGS = bindings("feed")

    def __init__(self) -> None:
        super().__init__()
        self.filter = FeedFilter()
        self.coalesced = 0

    def compose_body(self) -> ComposeResult:
        yield Static(id="feed-bar")
        yield FeedView(self.huracan.settings.feed_window, id="feed")
        yield Input(placeholder="type:gate sym:BTCUSDT sev:WARNING mode:scalp text…  (! inverts, empty clears)",
                    id="filter-input")

    def on_mount(self) -> None:
        self.query_one("#filter-input", Input).display = False
        self.query_one("#feed", FeedView).focus()

    def load(self) -> list[FeedRow]:
        """The newest window of rows matching the filter (a read, not a reprocessing of the window)."""
        return self.huracan.recent_rows(self.filter)

    def show(self, result: list[FeedRow]) -> None:
        self.query_one("#feed", FeedView).replace(result)
        self._bar()

    def on_feed_rows(self, rows: Sequence[FeedRow]) -> None:
        flt = self.filter
        self.query_one("#feed", FeedView).append([r for r in rows if flt.matches(r)] if not flt.empty else rows)
        self._bar()

    def replay_reset(self, rows: Sequence[FeedRow]) -> None:
        self.query_one("#feed", FeedView).replace([r for r in rows if self.filter.matches(r)])
        self._bar()

    def on_feed_view_need_older(self, message: FeedView.NeedOlder) -> None:
        self._older(message.before_seq)

    @work(thread=True, exclusive=True, group="feed-older")
    def _older(self, before_seq: int) -> None:
        view = self.query_one("#feed", FeedView)
        rows = self.huracan.older_rows(self.filter, before_seq, max(1, (view.rows.maxlen or 200) // 2))
        self.app.call_from_thread(view.prepend, rows)

    def on_feed_view_need_newest(self) -> None:
        self.reload()

    def on_feed_view_changed(self) -> None:
        self._bar()

    def _bar(self) -> None:
        view = self.query_one("#feed", FeedView)
        text = Text()
        if view.following:
            text.append(" FOLLOW ", style="bold black on green")
        else:
            text.append(" PAUSED ", style="bold black on yellow")
            text.append(f" +{view.new_count:,} new (End/G resumes)", style="bold yellow")
        text.append(f"  filter: {describe(self.filter)}")
        text.append(f"  window {len(view.rows):,}", style="dim")
        self.query_one("#feed-bar", Static).update(text)

    def action_filter(self) -> None:
        box = self.query_one("#filter-input", Input)
        box.display = True
        box.value = describe(self.filter, for_input=True)
        box.focus()

    def action_invert(self) -> None:
        if self.filter.empty:
            self.notify("no filter to invert: set one with /", severity="warning")
            return
        self._apply(FeedFilter(self.filter.event_types, self.filter.symbols, self.filter.modes,
                               self.filter.min_severity, self.filter.text, not self.filter.invert))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter-input":
            return
        try:
            flt = parse_filter(event.value)
        except ObservabilityError as exc:
            self.notify(str(exc), severity="error")
            return
        event.input.display = False
        self.query_one("#feed", FeedView).focus()
        self._apply(flt)

    def _apply(self, flt: FeedFilter) -> None:
        self.filter = flt
        self._bar()
        self.reload()

    def action_follow(self) -> None:
        self.query_one("#feed", FeedView).follow()
        self._bar()

    def action_open(self) -> None:
        row = self.query_one("#feed", FeedView).selected()
        if row is not None:
            self.app.push_screen(EventDetailScreen(row))

    def close_filter_box(self) -> bool:
        """esc while typing a filter closes the box (instead of leaving the screen)."""
        box = self.query_one("#filter-input", Input)
        if box.display:
            box.display = False
            self.query_one("#feed", FeedView).focus()
            return True
        return False
