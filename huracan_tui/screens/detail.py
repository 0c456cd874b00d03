"""Pushed screens: one event's detail, a decision timeline, help, the `:` prompt and the problem screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import orjson
from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from huracan_tui.commands import APP, bindings, effective, key_label
from huracan_tui.format import TYPE_SHORT, hms, summary
from huracan_tui.screens.base import DataScreen
from huracan_tui.widgets.status import StatusBar
from observability.analytics.live_feed import FeedRow

if TYPE_CHECKING:
    from huracan_tui.app import HuracanApp
    from observability.analytics.decision_trace import TraceTimeline


class EventDetailScreen(Screen[None]):
    """Every field of one event; `enter` opens its decision timeline when it has a trace."""

    SCOPE: ClassVar[str] = "detail"
    BINDINGS = bindings("detail")

    def __init__(self, row: FeedRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        r = self.row
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        for k, v in (("seq", r.seq), ("event", r.event_type), ("severity", r.severity), ("time", hms(r.ts_event)),
                     ("symbol", r.symbol or "-"), ("mode", r.mode), ("source", r.source),
                     ("trace", r.trace_id or "-"), ("event id", r.event_id)):
            head.add_row(k, str(v))
        body = Syntax(orjson.dumps(r.payload_dict(), option=orjson.OPT_INDENT_2).decode(), "json",
                      theme="ansi_dark", background_color="default")
        yield StatusBar()
        with VerticalScroll():
            yield Static(Group(Text(summary(r.event_type, r.payload_dict()), style="bold"), head, body))
        yield Footer()

    def on_mount(self) -> None:
        self.app.call_later(self.app.update_status, self)  # type: ignore[attr-defined]

    def action_trace(self) -> None:
        if self.row.trace_id:
            self.app.push_screen(TimelineScreen(self.row.trace_id))
        else:
            self.notify("this event has no trace id", severity="warning")


class TimelineScreen(DataScreen):
    """One trace from signal to close (or shadow outcome): every step with its numbers and latency."""

    SCOPE = "timeline"
    REFRESH = True
    BINDINGS = bindings("timeline")

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="timeline")

    def load(self) -> TraceTimeline | None:
        return self.data.trace(self.trace_id)

    def show(self, result: TraceTimeline | None) -> None:
        out = self.query_one("#timeline", Static)
        if result is None:
            out.update(Text(f"no events with trace id {self.trace_id} in live.db or the Parquet history",
                            style="yellow"))
            return
        tr = result.trace
        where = " ".join(x for x in (tr.symbol, tr.mode) if x)
        t = Table("time", "+ms", "step", "what", box=None, padding=(0, 1), expand=True, header_style="bold dim",
                  title=f"Decision timeline {tr.trace_id} {where}: {tr.outcome}", title_justify="left",
                  title_style="bold")
        for s in tr.steps:
            style = ("bold red" if "FAIL" in s.summary and s.event_type == "gate_decision"
                     else "green" if s.event_type in ("trade_opened", "trade_closed") else "")
            t.add_row(s.ts.strftime("%H:%M:%S.%f")[:-3], "" if s.latency_ms is None else f"{s.latency_ms:,.1f}",
                      TYPE_SHORT.get(s.event_type, s.stage), Text(s.summary, style=style))
        total = (tr.steps[-1].ts - tr.steps[0].ts).total_seconds() * 1000 if tr.steps else 0.0
        foot = Text(f"{len(tr.steps)} steps, {total:,.1f} ms from signal to last step (from {result.source})",
                    style="dim")
        out.update(Group(t, foot))


class HelpScreen(ModalScreen[None]):
    """Every command and its (possibly remapped) key, from the same table as the bindings."""

    BINDINGS = bindings(APP)  # a modal screen hides the app's bindings: it carries them itself

    def compose(self) -> ComposeResult:
        app: HuracanApp = self.app  # type: ignore[assignment]
        t = Table("key", "command", "where", box=None, padding=(0, 2), header_style="bold", expand=True,
                  title="huracan-tui keys (esc closes; remap by command id under `keys:` in configs/tui.yaml)",
                  title_justify="left", title_style="bold")
        for cmd in effective(app.keymap):
            t.add_row(key_label(cmd.key), cmd.description, "everywhere" if cmd.scope == APP else cmd.scope)
        t.add_row("ctrl+p", "Command palette (every command above, searchable)", "everywhere")
        with VerticalScroll(id="help"):
            yield Static(t)


class PromptScreen(ModalScreen[str | None]):
    """`:` prompt: `trace ID`, `gate NAME`, or a screen name."""

    BINDINGS = bindings(APP)

    def compose(self) -> ComposeResult:
        yield Input(placeholder=":trace ID   :gate NAME   :overview|feed|gates|trades|models|metrics|reports",
                    id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip().lstrip(":"))


class ProblemScreen(Screen[None]):
    """A clear, full screen explanation (missing data, newer schema), instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(Group(Text("huracan-tui cannot show this data", style="bold red"), Text(""),
                           Text(self.message), Text(""), Text("q quits", style="dim")), id="problem")
        yield Footer()
