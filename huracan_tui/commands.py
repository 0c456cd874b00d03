"""The one command table: it drives key bindings, footer hints, the `?` help screen and the command palette.

Like Dolphie's CommandManager, a command is data (id, key, description, action, scope, footer). Every
binding is built from this table with `id=command.id`, so Textual's keymap (`App.set_keymap`) remaps a
key by command id, and help/palette read the same effective keys: nothing can drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from huracan_tui.app import HuracanApp

APP = "app"
"""Scope of commands available on every screen."""


@dataclass(frozen=True)
class Command:
    id: str
    key: str
    """Textual key name(s), comma separated (e.g. "end,G")."""
    description: str
    action: str
    """Textual action string, run on the node of the scope (the app, or the screen)."""
    scope: str = APP
    footer: bool = False
    palette: bool = True
    label: str = ""
    """Short footer text (the description is used in help and the palette)."""


COMMANDS: tuple[Command, ...] = (
    Command("quit", "q", "Quit", "app.quit", footer=True, label="quit"),
    Command("back", "escape", "Back (never quits)", "app.go_back", footer=True, palette=False, label="back"),
    Command("help", "question_mark", "Help: every key", "app.help", footer=True, label="help"),
    Command("prompt", "colon", "Command prompt (:trace ID, :gate NAME, :screen NAME)", "app.prompt"),
    Command("show_overview", "o", "Overview screen", "app.show('overview')", footer=True, label="overview"),
    Command("show_feed", "f", "Live feed screen", "app.show('feed')", footer=True, label="feed"),
    Command("show_gates", "g", "Gates screen", "app.show('gates')", footer=True, label="gates"),
    Command("show_trades", "t", "Trades and shadow trades", "app.show('trades')", footer=True, label="trades"),
    Command("show_models", "m", "Models screen", "app.show('models')"),
    Command("show_metrics", "a", "Metrics and alerts", "app.show('metrics')"),
    Command("show_reports", "r", "Latest report", "app.show('reports')"),
    Command("replay_pause", "space", "Replay: pause / resume", "app.replay_pause"),
    Command("replay_back", "left_square_bracket", "Replay: step back", "app.replay_step(-1)"),
    Command("replay_step", "right_square_bracket", "Replay: step forward", "app.replay_step(1)"),
    Command("replay_faster", "plus", "Replay: faster", "app.replay_speed(2.0)"),
    Command("replay_slower", "minus", "Replay: slower", "app.replay_speed(0.5)"),
    Command("feed_filter", "slash", "Feed: filter (type:, sym:, sev:, mode:, text; ! inverts)", "filter",
            scope="feed", footer=True, label="filter"),
    Command("feed_invert", "exclamation_mark", "Feed: invert the filter", "invert", scope="feed"),
    Command("feed_follow", "end,G", "Feed: follow (resume)", "follow", scope="feed", footer=True, label="follow"),
    Command("feed_open", "enter", "Feed: open the event", "open", scope="feed", palette=False),
    Command("gate_1", "1", "Gates: gate 1", "pick(0)", scope="gates", palette=False),
    Command("gate_2", "2", "Gates: gate 2", "pick(1)", scope="gates", palette=False),
    Command("gate_3", "3", "Gates: gate 3", "pick(2)", scope="gates", palette=False),
    Command("gate_4", "4", "Gates: gate 4", "pick(3)", scope="gates", palette=False),
    Command("gate_5", "5", "Gates: gate 5", "pick(4)", scope="gates", palette=False),
    Command("gate_6", "6", "Gates: gate 6", "pick(5)", scope="gates", palette=False),
    Command("gate_prev", "left", "Gates: previous gate", "pick_step(-1)", scope="gates", footer=True, label="prev"),
    Command("gate_next", "right", "Gates: next gate", "pick_step(1)", scope="gates", footer=True, label="next"),
    Command("gate_trace", "enter", "Gates: timeline of the selected decision", "open", scope="gates",
            footer=True, palette=False, label="timeline"),
    Command("detail_trace", "enter", "Event: open its decision timeline", "trace", scope="detail", footer=True,
            palette=False, label="timeline"),
    Command("trades_trace", "enter", "Trades: timeline of the selected trade", "open", scope="trades",
            footer=True, palette=False, label="timeline"),
)

SCOPES: frozenset[str] = frozenset(c.scope for c in COMMANDS)
_BY_ID: dict[str, Command] = {c.id: c for c in COMMANDS}


def effective(keymap: Mapping[str, str] | None = None) -> list[Command]:
    """The table with user key overrides applied (what help and the palette show)."""
    keymap = keymap or {}
    return [replace(c, key=keymap.get(c.id, c.key)) for c in COMMANDS]


def bindings(scope: str) -> list[BindingType]:
    """BINDINGS for one scope, ids = command ids so `App.set_keymap` remaps them."""
    return [Binding(c.key, c.action, c.label or c.description.split(": ", 1)[-1], show=c.footer, id=c.id)
            for c in COMMANDS if c.scope == scope]


def key_label(key: str) -> str:
    names = {"question_mark": "?", "colon": ":", "slash": "/", "exclamation_mark": "!", "escape": "esc",
             "left_square_bracket": "[", "right_square_bracket": "]", "plus": "+", "minus": "-"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def known_ids() -> Iterable[str]:
    return _BY_ID.keys()


class CommandsProvider(Provider):
    """The command palette (ctrl+p) over the same table: app-scope commands plus the current screen's."""

    def _candidates(self) -> list[Command]:
        app: HuracanApp = self.app  # type: ignore[assignment]
        scope = getattr(self.screen, "SCOPE", APP)
        return [c for c in effective(app.keymap) if c.palette and c.scope in (APP, scope)]

    def _run(self, cmd: Command) -> None:
        target = self.app if cmd.scope == APP else self.screen
        action = cmd.action.removeprefix("app.")
        self.app.call_later(target.run_action, action)

    async def discover(self) -> Hits:
        for cmd in self._candidates():
            yield DiscoveryHit(f"{cmd.description}  (key {key_label(cmd.key)})", partial(self._run, cmd), help=cmd.id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for cmd in self._candidates():
            text = f"{cmd.description}  (key {key_label(cmd.key)})"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, cmd), help=cmd.id)
