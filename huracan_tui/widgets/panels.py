"""Compact renderables for the overview: queue health, gate board, open trades, model delta.

Plain functions from data to rich renderables, so the same panel renders identically in a test.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from huracan_tui.data import GateRow, ModelInfo, Trade
from huracan_tui.format import compact, num, pct, pct0
from observability.core.schemas import SEVERITY_LEVEL, HealthSnapshot


def _table(*columns: str, title: str | None = None) -> Table:
    t = Table(*columns, title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1),
              show_edge=False, header_style="bold dim", expand=True)
    return t


def queue_health(h: HealthSnapshot | None) -> RenderableType:
    if h is None:
        return Text("no health heartbeat yet", style="dim")
    fill_style = "bold red" if h.fill_ratio >= 0.8 else "yellow" if h.fill_ratio >= 0.5 else "green"
    text = Text()
    text.append("fill ")
    text.append(pct(h.fill_ratio), style=fill_style)
    text.append(f"  depth {h.queue_depth:,}/{h.queue_maxsize:,}\n")
    text.append(f"{h.events_per_s:,.0f} ev/s  lag {h.writer_lag_events:,} ev / {h.writer_lag_s:.2f}s\n")
    text.append("drops ")
    drops = h.dropped_by_severity
    for sev in SEVERITY_LEVEL:
        n = drops.get(sev, 0)
        text.append(f"{sev[0]}:{n} ", style="bold red" if n and sev in ("ERROR", "CRITICAL") else
                    "yellow" if n else "dim")
    text.append("\nkill switch ")
    text.append("FIRED" if h.kill_switch else "off", style="bold white on red" if h.kill_switch else "green")
    if h.dead_letter_total:
        text.append(f"  dead-letter {h.dead_letter_total:,}", style="yellow")
    return text


def gate_board(rows: Sequence[GateRow]) -> RenderableType:
    t = _table("gate", "pass", "tgt", "last", "thr", title="Gates (pass rate vs target)")
    t.columns[0].no_wrap = True
    t.columns[0].overflow = "ellipsis"
    t.columns[0].ratio = 1
    for g in rows:
        rate = g.pass_rate
        below = rate is not None and g.target is not None and rate < g.target
        last = g.last
        last_text = Text("—", style="dim") if last is None else Text(
            compact(last.value), style="green" if last.passed else "bold red")
        t.add_row(f"{g.order} {g.name}", Text(pct0(rate), style="bold red" if below else "green" if rate else "dim"),
                  pct0(g.target), last_text, f"{'≥' if g.direction == 'min' else '≤'}{compact(g.threshold)}")
    return t


def open_trades(trades: Sequence[Trade], limit: int = 5) -> RenderableType:
    live = [t for t in trades if t.status == "open" and not t.shadow]
    t = _table("trade", "sym", "mode", "side", "entry", title=f"Open trades ({len(live)})")
    for tr in live[:limit]:
        t.add_row(tr.trade_id, tr.symbol or "-", tr.mode, tr.side, num(tr.entry_price))
    return t


def model_delta(models: Sequence[ModelInfo]) -> RenderableType:
    if not models:
        return Text("no model updates yet", style="dim")
    m = models[0]
    t = _table("metric", "before", "after", "Δ", title=f"Model {m.model_id[:12]} ({m.alias or m.name})")
    for key in sorted(set(m.metrics) | set(m.metrics_before)):
        before, after = m.metrics_before.get(key), m.metrics.get(key)
        delta = after - before if before is not None and after is not None else None
        style = "green" if delta and delta > 0 else "red" if delta and delta < 0 else ""
        t.add_row(key, num(before, 3), num(after, 3), Text(f"{delta:+.3f}" if delta is not None else "—", style=style))
    return Group(t)
