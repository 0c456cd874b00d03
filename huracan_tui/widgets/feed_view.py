"""The event feed: a bounded window of rows rendered line by line (only visible lines cost anything).

Follow mode sticks to the newest row. Moving the cursor up or scrolling away pauses it; while paused,
new rows still enter the window (it is bounded, so the oldest fall out and the cursor is shifted to stay
on the same event) and are counted as "+N new" until `follow()` resumes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from huracan_tui.format import SEVERITY_STYLE, row_line
from observability.analytics.live_feed import FeedRow

_TIME = Style(color="bright_black")
_CURSOR = Style(reverse=True)
_SEV = {k: Style.parse(v) if v else Style() for k, v in SEVERITY_STYLE.items()}
_KIND = Style(color="cyan")


class FeedView(ScrollView, can_focus=True):
    """A bounded, followable list of FeedRows with a cursor."""

    DEFAULT_CSS = "FeedView { height: 1fr; overflow-x: hidden; }"
    # navigation within the widget (like DataTable's): not commands, not in the footer
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", show=False), Binding("down,j", "cursor(1)", show=False),
        Binding("pageup", "cursor(-20)", show=False), Binding("pagedown", "cursor(20)", show=False),
        Binding("home", "cursor(-1000000)", show=False),
    ]

    following: reactive[bool] = reactive(True)
    new_count: reactive[int] = reactive(0)

    class Changed(Message):
        """Following or the "+N new" count changed (the screen shows it in its status line)."""

    class NeedOlder(Message):
        """The cursor hit the top of the window: the screen may page older rows in from SQLite."""

        def __init__(self, before_seq: int) -> None:
            super().__init__()
            self.before_seq = before_seq

    class NeedNewest(Message):
        """Follow resumed after paging back pushed the newest rows out of the window: reload them."""

    def __init__(self, maxlen: int = 2000, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: deque[FeedRow] = deque(maxlen=maxlen)
        self.cursor = -1
        self.trimmed_newest = False

    def _sync(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))
        if self.following:
            self.cursor = len(self.rows) - 1
            self._stick_to_end()
            self.call_after_refresh(self._stick_to_end)  # the new virtual size applies at the next layout
        self.refresh()

    def _stick_to_end(self) -> None:
        if not self.following:
            return
        self.scroll_to(y=max(0, len(self.rows) - self.scrollable_content_region.height), animate=False,
                       immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))
        if self.following:
            self._stick_to_end()

    def append(self, rows: Iterable[FeedRow]) -> None:
        rows = list(rows)
        if not rows:
            return
        overflow = max(0, len(self.rows) + len(rows) - (self.rows.maxlen or 0))
        self.rows.extend(rows)
        if not self.following:
            self.new_count += len(rows)
            if overflow:
                self.cursor = max(0, self.cursor - overflow)
                self.scroll_to(y=max(0, self.scroll_y - overflow), animate=False, immediate=True)
            self.post_message(self.Changed())
        self._sync()

    def replace(self, rows: Iterable[FeedRow]) -> None:
        self.rows.clear()
        self.rows.extend(rows)
        self.trimmed_newest = False
        self.follow()

    def prepend(self, rows: list[FeedRow]) -> None:
        """Older rows paged in at the top; the window stays bounded, so the newest fall out the bottom."""
        if not rows or self.following:
            return
        maxlen = self.rows.maxlen or 0
        dropped = max(0, len(self.rows) + len(rows) - maxlen)
        self.rows.extendleft(reversed(rows))
        self.trimmed_newest = self.trimmed_newest or dropped > 0
        self.cursor = min(len(self.rows) - 1, self.cursor + len(rows))
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.scroll_to(y=self.scroll_y + len(rows), animate=False, immediate=True)
        self.action_cursor(-1)

    def follow(self) -> None:
        self.following = True
        self.new_count = 0
        if self.trimmed_newest:
            self.trimmed_newest = False
            self.post_message(self.NeedNewest())
        self._sync()
        self.post_message(self.Changed())

    def action_scroll_end(self) -> None:
        """End (the scroll container's own key) means "go to the newest row", i.e. follow again."""
        self.follow()

    def selected(self) -> FeedRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def action_cursor(self, step: int) -> None:
        if not self.rows:
            return
        if step < 0 and self.cursor == 0:
            self.post_message(self.NeedOlder(self.rows[0].seq))
            return
        self.cursor = min(len(self.rows) - 1, max(0, (self.cursor if self.cursor >= 0 else len(self.rows)) + step))
        if self.cursor < len(self.rows) - 1 and self.following:
            self.trimmed_newest = False
            self.following = False
            self.post_message(self.Changed())
        elif self.cursor == len(self.rows) - 1 and not self.following:
            self.follow()
            return
        height = self.scrollable_content_region.height
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= self.scroll_y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()

    def _on_mouse_scroll_up(self, event: object) -> None:
        if self.following and len(self.rows) > self.scrollable_content_region.height:
            self.following = False
            self.post_message(self.Changed())

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        idx = int(self.scroll_y) + y
        if idx >= len(self.rows):
            return Strip.blank(width)
        row = self.rows[idx]
        t, sev, kind, text = row_line(row)
        segments = [Segment(t + " ", _TIME), Segment(sev + " ", _SEV.get(row.severity, Style())),
                    Segment(kind + " ", _KIND), Segment(text)]
        strip = Strip(segments).crop(0, width).extend_cell_length(width)
        return strip.apply_style(_CURSOR) if idx == self.cursor and not self.following else strip
