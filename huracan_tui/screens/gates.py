"""Gates: keyboard-driven inspection of one gate at a time (arrows or 1–6 pick it).

Pass rate vs target over time, the value distribution against the threshold, counterfactual thresholds
with shadow outcomes, threshold change history, and the decisions (failures and near misses first);
`enter` on a decision opens its timeline.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Sparkline, Static

from huracan_tui.commands import bindings
from huracan_tui.data import Decision, GateDetail, GateRow
from huracan_tui.format import hms, num, pct
from huracan_tui.screens.base import DataScreen
from huracan_tui.screens.detail import TimelineScreen
from huracan_tui.stats import near_miss
from observability.config.gates_config import GateSpec

_DECISION_COLUMNS = ("time", "symbol", "mode", "value", "thr", "margin", "verdict", "reason")


class GatesScreen(DataScreen):
    SCOPE = "gates"
    BINDINGS = bindings("gates")

    def __init__(self) -> None:
        super().__init__()
        self.index = 0
        self.names: list[str] = []
        self.decisions: list[Decision] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="gate-tabs")
        with Horizontal(id="gate-top"):
            with Vertical(id="gate-left"):
                yield Static(id="gate-rate-label")
                yield Sparkline([], id="gate-rate")
                yield Static(id="gate-hist")
            with Vertical(id="gate-right"):
                yield Static(id="gate-cf")
                yield Static(id="gate-changes")
        table: DataTable[str | Text] = DataTable(id="gate-decisions", cursor_type="row", zebra_stripes=False)
        yield table

    def on_mount(self) -> None:
        self.names = self.data.gates.names()
        self.query_one("#gate-decisions", DataTable).focus()

    @property
    def gate(self) -> str:
        return self.names[self.index] if self.names else ""

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.names) and index != self.index:
            self.index = index
            self.reload()

    def action_pick_step(self, step: int) -> None:
        if self.names:
            self.action_pick((self.index + step) % len(self.names))

    def select(self, name: str) -> bool:
        if name not in self.names:
            return False
        self.action_pick(self.names.index(name))
        return True

    def load(self) -> tuple[list[GateRow], GateDetail]:
        board = self.data.gate_board()
        return board, self.data.gate_detail(self.gate)

    def show(self, result: tuple[list[GateRow], GateDetail]) -> None:
        board, detail = result
        self.names = [g.name for g in board]
        self._tabs(board)
        g = detail.gate
        target = f"target {pct(g.target)}" if g.target is not None else "no target"
        self.query_one("#gate-rate-label", Static).update(Text.assemble(
            (f"{g.name} ", "bold"), f"pass {pct(g.pass_rate)} ({g.passed}/{g.n}) vs {target}; ",
            f"threshold {'≥' if g.direction == 'min' else '≤'} {_thresholds(self.data.gates.gates.get(g.name), g)}"))
        self.query_one("#gate-rate", Sparkline).data = detail.pass_rates
        self.query_one("#gate-hist", Static).update(_histogram(detail))
        self.query_one("#gate-cf", Static).update(_counterfactuals(detail))
        self.query_one("#gate-changes", Static).update(_changes(detail))
        self._decisions(detail)

    def _tabs(self, board: list[GateRow]) -> None:
        text = Text()
        for i, g in enumerate(board):
            below = g.pass_rate is not None and g.target is not None and g.pass_rate < g.target
            style = "bold reverse" if i == self.index else "bold red" if below else ""
            text.append(f" {i + 1} {g.name} {pct(g.pass_rate)} ", style=style)
        self.query_one("#gate-tabs", Static).update(text)

    def _decisions(self, detail: GateDetail) -> None:
        table = self.query_one("#gate-decisions", DataTable)
        margin = detail.gate.near_miss_margin
        seen: set[int] = set()
        ordered: list[Decision] = []
        for d in [*detail.failures, *detail.near_misses, *detail.recent]:
            if d.seq not in seen:
                seen.add(d.seq)
                ordered.append(d)
        self.decisions = ordered[:200]
        cursor = table.cursor_row
        table.clear(columns=True)  # column widths from this content only, not from a previous gate's
        table.add_columns(*_DECISION_COLUMNS)
        for d in self.decisions:
            verdict = (Text("PASS", style="green") if d.passed else Text("near miss", style="yellow")
                       if near_miss(d.margin, margin) else Text("FAIL", style="bold red"))
            table.add_row(hms(d.ts_us), d.symbol or "-", d.mode, num(d.value), num(d.threshold), f"{d.margin:+.3g}",
                          verdict, Text(d.reason))  # Text: free text is never markup
        if self.decisions:
            table.move_cursor(row=min(cursor, len(self.decisions) - 1))

    def on_data_table_row_selected(self) -> None:
        """The table consumes `enter` itself (select_cursor): route it to the same command."""
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one("#gate-decisions", DataTable)
        if 0 <= table.cursor_row < len(self.decisions):
            trace = self.decisions[table.cursor_row].trace_id
            if trace:
                self.app.push_screen(TimelineScreen(trace))


def _thresholds(spec: GateSpec | None, g: GateRow) -> str:
    """The configured threshold with its per-mode overrides (decisions carry their own live value)."""
    if spec is None:
        return f"{num(g.threshold)} {g.unit}".strip()
    modes = ", ".join(f"{m} {num(v)}" for m, v in spec.modes.items())
    return f"{num(spec.threshold)} {spec.unit}".strip() + (f" ({modes})" if modes else "")


def _histogram(detail: GateDetail) -> Group | Text:
    bins = detail.histogram
    if not bins:
        return Text("no decisions for this gate yet", style="dim")
    thr = detail.gate.threshold
    top = max(c for _, _, c in bins) or 1
    lines = [Text("value distribution (│ = threshold)", style="bold dim")]
    for lo, hi, count in bins:
        passes = (lo >= thr) if detail.gate.direction == "min" else (hi <= thr)
        mark = "│" if lo <= thr < hi or (thr == hi and hi == bins[-1][1]) else " "
        bar = "█" * max(1 if count else 0, round(12 * count / top))
        lines.append(Text.assemble(f"{num(lo):>9}{mark}", (f"{bar:<12}", "green" if passes else "red"), f" {count}"))
    return Group(*lines)


def _counterfactuals(detail: GateDetail) -> Table | Text:
    if not detail.counterfactuals:
        return Text("no counterfactuals (no decisions)", style="dim")
    t = Table("thr", "pass", "Δ", "+shad", "bps", "-trd", "bps", box=None, padding=(0, 1), header_style="bold dim",
              title="counterfactuals (+shadows let in, -trades blocked)", title_justify="left", title_style="bold")
    for c in detail.counterfactuals:
        label = Text("live", style="bold reverse") if c.shift == 0 else Text(f"{c.shift:+.3g}")
        t.add_row(label, str(c.would_pass), f"{c.delta:+d}",
                  str(c.shadows_gained), f"{c.shadow_pnl_bps:+.0f}", str(c.trades_lost), f"{c.trade_pnl_bps:+.0f}")
    return t


def _changes(detail: GateDetail) -> Text:
    if not detail.changes:
        return Text("no threshold changes recorded", style="dim")
    text = Text("threshold changes\n", style="bold")
    for c in detail.changes[:4]:
        text.append(f"{hms(c.ts_us)} {c.old} → {c.new} by {c.changed_by}: {c.reason}\n", style="")
    return text
