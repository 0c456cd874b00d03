"""Overview (default screen): engine status, queue health with sparklines, live feed, gate board,
open trades and the latest model delta, on one screen that still reads at 80×24."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from huracan_tui.commands import bindings
from huracan_tui.data import GateRow, ModelInfo, Trade
from huracan_tui.screens.base import DataScreen
from huracan_tui.widgets import panels
from huracan_tui.widgets.feed_view import FeedView
from observability.analytics.live_feed import FeedRow


@dataclass(frozen=True)
class OverviewData:
    gates: list[GateRow]
    trades: list[Trade]
    models: list[ModelInfo]


class OverviewScreen(DataScreen):
    SCOPE = "overview"
    BINDINGS = bindings("overview")

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ov-top"):
            with Vertical(id="ov-queue", classes="panel"):
                yield Static(id="queue")
                yield Static("events/s", classes="spark-label")
                yield Sparkline([], id="spark-eps")
                yield Static("queue fill", classes="spark-label")
                yield Sparkline([], id="spark-fill")
            yield Static(id="gate-board", classes="panel")
        yield Static("", id="ov-notice")
        yield FeedView(self.huracan.settings.feed_window, id="ov-feed")
        with Horizontal(id="ov-bottom"):
            yield Static(id="open-trades", classes="panel")
            yield Static(id="model-delta", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#ov-feed", FeedView).replace(self.huracan.window)
        self.on_health()

    def on_screen_resume(self) -> None:
        feed = self.query_one("#ov-feed", FeedView)
        if feed.following:
            feed.replace(self.huracan.window)
        super().on_screen_resume()

    def load(self) -> OverviewData:
        return OverviewData(self.data.gate_board(), self.data.trades(limit=50), self.data.models().models[:1])

    def show(self, result: OverviewData) -> None:
        self.query_one("#gate-board", Static).update(panels.gate_board(result.gates))
        self.query_one("#open-trades", Static).update(panels.open_trades(result.trades))
        self.query_one("#model-delta", Static).update(panels.model_delta(result.models))

    def on_feed_rows(self, rows: Sequence[FeedRow]) -> None:
        self.query_one("#ov-feed", FeedView).append(rows)

    def replay_reset(self, rows: Sequence[FeedRow]) -> None:
        self.query_one("#ov-feed", FeedView).replace(rows)

    def on_health(self) -> None:
        app = self.huracan
        self.query_one("#queue", Static).update(panels.queue_health(app.health))
        self.query_one("#spark-eps", Sparkline).data = [e for e, _ in app.health_series]
        self.query_one("#spark-fill", Sparkline).data = [f for _, f in app.health_series]
        notice = self.query_one("#ov-notice", Static)
        notice.update(app.feed_notice)
        notice.display = bool(app.feed_notice)
