"""Trades (+ shadow trades), Models, Metrics & alerts, Reports: read-mostly screens over the data adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Markdown, Static

from huracan_tui.commands import bindings
from huracan_tui.data import ModelInfo, Models, Report, Trade
from huracan_tui.format import hms, num, stamp
from huracan_tui.screens.base import DataScreen
from huracan_tui.screens.detail import TimelineScreen
from huracan_tui.widgets.panels import queue_health

if TYPE_CHECKING:
    from observability.analytics.metrics_computer import MetricsReport, MetricValue


def _pnl(v: float | None, digits: int = 1) -> Text:
    if v is None:
        return Text("—", style="dim")
    return Text(f"{v:+.{digits}f}", style="green" if v > 0 else "red" if v < 0 else "")


_TRADE_COLUMNS = ("opened", "trade", "sym", "mode", "side", "status", "entry", "exit", "pnl", "bps", "mfe", "mae",
                  "exit reason", "model", "git", "snapshot")
_SHADOW_COLUMNS = ("opened", "shadow", "sym", "mode", "status", "entry", "exit", "bps", "blocked by", "exit reason")


class TradesScreen(DataScreen):
    SCOPE = "trades"
    BINDINGS = bindings("trades")

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[Trade]] = {"trades": [], "shadows": []}

    def compose_body(self) -> ComposeResult:
        yield Static(id="trades-title")
        yield DataTable(id="trades", cursor_type="row")
        yield Static(Text("Shadow trades (signals blocked by gates, followed as if taken)", style="bold"))
        yield DataTable(id="shadows", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#trades", DataTable).focus()

    def load(self) -> list[Trade]:
        return self.data.trades()

    def show(self, result: list[Trade]) -> None:
        trades = [t for t in result if not t.shadow]
        shadows = [t for t in result if t.shadow]
        self.rows = {"trades": trades, "shadows": shadows}
        closed = [t for t in trades if t.status == "closed"]
        net = sum(t.pnl_net or 0.0 for t in closed)
        self.query_one("#trades-title", Static).update(Text.assemble(
            ("Trades ", "bold"), f"{len(trades) - len(closed)} open, {len(closed)} closed, net ",
            _pnl(net, 2), " USDT   (enter: timeline)"))
        table = self.query_one("#trades", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)  # widths from the current rows only
        table.add_columns(*_TRADE_COLUMNS)
        for t in trades:
            table.add_row(hms(t.opened_us), t.trade_id, t.symbol or "-", t.mode, t.side,
                          Text(t.status, style="bold" if t.status == "open" else "dim"), num(t.entry_price),
                          num(t.exit_price), _pnl(t.pnl_net, 2), _pnl(t.pnl_bps), num(t.mfe_bps, 1),
                          num(t.mae_bps, 1), t.exit_reason or "", (t.model_id or "-")[:10], (t.git_sha or "-")[:8],
                          t.data_snapshot_id or "-")
        table.move_cursor(row=min(cursor, max(0, len(trades) - 1)))
        stable = self.query_one("#shadows", DataTable)
        stable.clear(columns=True)
        stable.add_columns(*_SHADOW_COLUMNS)
        for t in shadows:
            stable.add_row(hms(t.opened_us), t.trade_id, t.symbol or "-", t.mode, t.status, num(t.entry_price),
                           num(t.exit_price), _pnl(t.pnl_bps), ",".join(t.blocked_by), t.exit_reason or "")

    def on_data_table_row_selected(self) -> None:
        """The table consumes `enter` itself (select_cursor): route it to the same command."""
        self.action_open()

    def action_open(self) -> None:
        focused = self.focused
        if not isinstance(focused, DataTable) or focused.id not in self.rows:
            return
        rows = self.rows[focused.id]
        if 0 <= focused.cursor_row < len(rows) and rows[focused.cursor_row].trace_id:
            self.app.push_screen(TimelineScreen(rows[focused.cursor_row].trace_id or ""))


class ModelsScreen(DataScreen):
    SCOPE = "models"
    BINDINGS = bindings("models")

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="models")

    def load(self) -> Models:
        return self.data.models()

    def show(self, result: Models) -> None:
        listing = Table("model", "name", "created", "alias", "parent", "git", "snapshot", "reason", box=None,
                        padding=(0, 1), header_style="bold dim", title=f"Models ({result.source})",
                        title_justify="left", title_style="bold", expand=True)
        for m in result.models[:30]:
            listing.add_row(m.model_id[:12], m.name, stamp(m.created_us / 1e6), Text(m.alias or "", style="bold green"),
                            (m.parent_model_id or "-")[:12], (m.git_sha or "-")[:8], m.data_snapshot_id or "-",
                            Text(m.reason))
        champions = Table("since", "champion", "by", "reason", box=None, padding=(0, 1), header_style="bold dim",
                          title="Champion history", title_justify="left", title_style="bold")
        for ts, mid, by, reason in result.champion_history[:10]:
            champions.add_row(stamp(ts / 1e6), mid[:12], Text(by), Text(reason))
        parts: list[Table | Text] = [listing, Text(""), champions, Text("")]
        if result.models:
            parts.append(_delta_table(result))
            parts.append(_lineage(result))
        self.query_one("#models", Static).update(Group(*parts))


def _delta_table(result: Models) -> Table:
    m = result.models[0]
    t = Table("metric", "before (parent)", "after", "Δ", box=None, padding=(0, 2), header_style="bold dim",
              title=f"Delta of {m.model_id[:12]} vs {(m.parent_model_id or 'no parent')[:12]}", title_justify="left",
              title_style="bold")
    for key in sorted(set(m.metrics) | set(m.metrics_before)):
        before, after = m.metrics_before.get(key), m.metrics.get(key)
        t.add_row(key, num(before, 4), num(after, 4),
                  _pnl(after - before, 4) if before is not None and after is not None else Text("—"))
    return t


def _lineage(result: Models) -> Text:
    by_id = {m.model_id: m for m in result.models}
    chain: list[str] = []
    cur: ModelInfo | None = result.models[0]
    while cur is not None and len(chain) < 10:
        chain.append(cur.model_id[:12])
        cur = by_id.get(cur.parent_model_id or "")
    if result.models[0].parent_model_id and result.models[0].parent_model_id not in by_id:
        chain.append(f"{result.models[0].parent_model_id[:12]} (not listed)")
    return Text("lineage: " + " ← ".join(chain))


class MetricsScreen(DataScreen):
    """configs/metrics.yaml over the last 24 h, per mode, with alert state (observability.analytics)."""

    SCOPE = "metrics"
    BINDINGS = bindings("metrics")

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="metrics")

    def load(self) -> MetricsReport:
        return self.data.metrics_report("24h")

    def show(self, result: MetricsReport) -> None:
        self.query_one("#metrics", Static).update(Group(_alerts(self, result), Text(""), _metrics_table(result)))


_STATUS_STYLE = {"ok": "green", "warn": "bold yellow", "critical": "bold white on red", "info": "",
                 "insufficient": "dim", "no_data": "dim"}
_SCOPES = ("all", "scalp", "runner")
_RANK = {"critical": 0, "warn": 1, "ok": 2, "info": 3, "insufficient": 4, "no_data": 5}


def _cell(v: MetricValue | None) -> Text:
    if v is None or v.value is None:
        return Text("—", style="dim")
    unit = "" if v.unit in ("count", "ratio") else f" {v.unit}"
    return Text(f"{v.value:,.{v.precision}f}{unit}", style=_STATUS_STYLE.get(v.status, ""))


def _metrics_table(report: MetricsReport) -> Table:
    rows: dict[tuple[str, str | None], dict[str, MetricValue]] = {}
    for v in report.values:
        if v.scope in _SCOPES:  # events without a mode ("none") are counted in "all"
            rows.setdefault((v.name, v.group), {})[v.scope] = v
    t = Table("metric", "all", "scalp", "runner", "warn / crit", "status", box=None, padding=(0, 1),
              header_style="bold dim", title=f"Metrics, last {report.window.label} (colour = alert state per mode)",
              title_justify="left", title_style="bold")
    t.columns[0].max_width = 44
    for (_, group), by_scope in rows.items():
        first = next(iter(by_scope.values()))
        valued = [v.status for v in by_scope.values() if v.value is not None]
        worst = min(valued, key=lambda s: _RANK.get(s, 9)) if valued else "no_data"  # no value shown: no data
        limits = " / ".join(num(x, first.precision) for x in (first.warn, first.critical)) if (
            first.warn is not None or first.critical is not None) else ""
        label = Text(f"{first.label} [{group}]" if group else first.label)  # Text: "[x]" is not markup
        t.add_row(label, _cell(by_scope.get("all")), _cell(by_scope.get("scalp")), _cell(by_scope.get("runner")),
                  limits, Text(worst, style=_STATUS_STYLE.get(worst, "")))
    return t


def _alerts(screen: MetricsScreen, report: MetricsReport) -> Group:
    app = screen.huracan
    h = app.health
    lines: list[RenderableType] = [Text("Alerts", style="bold")]
    for a in report.alerts:
        lines.append(Text(f"{a.level.upper():8} {a.scope:6} {a.message}",
                          style="bold red" if a.level == "critical" else "yellow"))
    if h is None:
        lines.append(Text("no health heartbeat: the engine is not running or has not written yet", style="yellow"))
    else:
        if h.dropped_total:
            lines.append(Text(f"logger dropped {h.dropped_total:,} events {dict(h.dropped_by_severity)}",
                              style="yellow"))
        if h.kill_switch:
            lines.append(Text("KILL SWITCH FIRED: the logger is shedding non-critical events", style="bold red"))
        if h.dead_letter_total:
            lines.append(Text(f"{h.dead_letter_total:,} events in dead_letter (invalid)", style="yellow"))
        lines.append(queue_health(h))
    status = app.engine_status()
    if status.loud:
        lines.append(Text(status.label, style=status.style))
    if len(lines) == 1:
        lines.append(Text("none", style="green"))
    return Group(*lines)


class ReportsScreen(DataScreen):
    SCOPE = "reports"
    REFRESH = False
    BINDINGS = bindings("reports")

    def compose_body(self) -> ComposeResult:
        yield Static(id="report-status")
        with VerticalScroll():
            yield Markdown(id="report")

    def load(self) -> Report | None:
        return self.data.latest_report()

    def show(self, result: Report | None) -> None:
        status = self.query_one("#report-status", Static)
        if result is None:
            status.update(Text(f"no report yet in {self.data.layout.reports_dir} "
                               "(run `huracan-obs report daily`)", style="yellow"))
            self.query_one("#report", Markdown).update("")
            return
        verdict = ("VERIFIED", "bold black on green") if result.verified else (
            ("NOT VERIFIED", "bold white on red") if result.verified is False else ("unverified", "yellow"))
        status.update(Text.assemble((f" {verdict[0]} ", verdict[1]), f"  {result.path.name}   ",
                                    (result.verification.splitlines()[0][:100] if result.verification else "", "dim")))
        self.query_one("#report", Markdown).update(result.text)
