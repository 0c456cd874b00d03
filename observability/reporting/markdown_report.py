"""Render a report's markdown: the summary (from whichever writer) plus deterministic sections.

Engine-provided text (symbols, reasons, config keys) is printed inside “...” with markdown
metacharacters neutralised (HTML-significant <, > and & backslash-escaped, so a markdown viewer shows
them literally and the Telegram conversion escapes them as entities): it is data, and the verifier
checks quoted text verbatim instead of reading numbers out of it.
"""

from __future__ import annotations

import re

from observability.ai.facts import plain_label, render_value
from observability.reporting.report_data import ReportData

_QUOTE_LIMIT = 200


def engine_text(text: str) -> str:
    """Engine text made safe for markdown and for the “…” quoting the verifier recognises."""
    cleaned = " ".join(str(text).split())[:_QUOTE_LIMIT]
    cleaned = cleaned.replace("\\", "/")
    for ch, repl in (("“", '"'), ("”", '"'), ("`", "'"), ("|", "/"), ("*", "∗"), ("_", "\\_"), ("<", "\\<"),
                     (">", "\\>"), ("&", "\\&"), ("[", "("), ("]", ")")):
        cleaned = cleaned.replace(ch, repl)
    return cleaned


def quote(text: str, data: ReportData) -> str:
    """Quote engine text and register it as verbatim data so the verifier accepts it."""
    safe = engine_text(text)
    data.entity_ids.add(safe)
    return f"“{safe}”"


_DIGITS_RE = re.compile(r"\([^()]*\d[^()]*\)|\S*\d\S*")


def label(text: str, data: ReportData) -> str:
    """A metric label printed before its value: parts with digits ("(gross P&L > 0)", "p99") are quoted as
    text, or the verifier would read them as numbers and the words that name the value would be lost."""
    return _DIGITS_RE.sub(lambda m: quote(m.group(0), data), plain_label(text))


def _val(data: ReportData, fid: str) -> str | None:
    f = data.fact(fid)
    return render_value(f) if f is not None else None


def _metrics(data: ReportData) -> list[str]:
    lines = ["## Key metrics", "", "| metric | value |", "|---|---|"]
    for f in data.facts:
        if f.id.startswith(("signals.", "trades.", "mode.", "shadow.", "errors.", "gates.decisions")):
            lines.append(f"| {label(f.label, data)} | {render_value(f)} |")
    return lines


def _gates(data: ReportData) -> list[str]:
    lines = ["## Gate findings", ""]
    if not data.gates:
        return [*lines, "No gate decisions in this period."]
    for g in data.gates:
        parts = [f"{name} {v}" for name, key in (("decisions", "decisions"), ("pass rate", "pass_rate"),
                                                  ("pass-rate target", "target"), ("near misses", "near_misses"),
                                                  ("blocked alone", "blocked_alone"))
                 if (v := _val(data, f"{g.fact_base}.{key}")) is not None]
        lines.append(f"- gate {quote(g.gate, data)}: " + ", ".join(parts))
    for fid, label in (("shadow.closed", "Shadow trades closed"), ("shadow.pnl_total", "Shadow net PnL"),
                       ("shadow.pnl_bps_avg", "Average shadow PnL per trade")):
        if (v := _val(data, fid)) is not None:
            lines.append(f"- {label}: {v}")
    return lines


def _metric_findings(data: ReportData) -> list[str]:
    flagged = [m for m in data.metrics if m.status]
    headline = [m for m in data.metrics if not m.status]
    lines = ["## Metric alerts", ""]
    if not flagged:
        lines.append("No metric is outside its thresholds.")
    for m in flagged:
        limit = _val(data, f"{m.fact_base}.limit")
        bound = f": threshold {limit}" if limit is not None else ""
        lines.append(f"- {label(m.label, data)}: {_val(data, m.fact_base)} (**{m.status}**{bound})")
    if headline:
        lines += ["", "| more metrics | value |", "|---|---|"]
        lines += [f"| {label(m.label, data)} | {_val(data, m.fact_base)} |" for m in headline]
    return lines


def _trades(data: ReportData) -> list[str]:
    lines = ["## Notable trades", ""]
    if not data.notable:
        return [*lines, "No trades closed in this period."]
    for t in data.notable:
        pnl = _val(data, f"trade.{t.trade_id}.pnl_bps")
        usdt = _val(data, f"trade.{t.trade_id}.pnl_net")
        hold = _val(data, f"trade.{t.trade_id}.hold")
        where = f"{quote(t.symbol, data)} {t.mode} {t.side}, exit {quote(t.exit_reason, data)}"
        line = f"- trade `{t.trade_id}` {where}: net PnL {pnl} ({usdt}), hold {hold}"
        if t.trace_id:
            line += f"; trace `{t.trace_id}` (`huracan-obs explain {t.trace_id}`)"
        lines.append(line)
    return lines


def _models(data: ReportData) -> list[str]:
    lines = ["## Model changes", ""]
    if not data.models and not data.configs:
        return [*lines, "No model or config changes in this period."]
    for m in data.models:
        head = f"- model `{m.model_id}`" + (f" (parent `{m.parent_model_id}`)" if m.parent_model_id else "")
        parts = []
        for name in m.metrics:
            seg = [f"{name} {_val(data, f'model.{m.model_id}.{name}')}"]
            before = _val(data, f"model.{m.model_id}.{name}.before")
            if before is not None:
                delta = data.fact(f"model.{m.model_id}.{name}.delta")
                sign = "+" if delta is not None and (delta.number or 0) > 0 else ""
                change = _val(data, f"model.{m.model_id}.{name}.delta")
                seg.append(f"{name} before {before}, {name} change {sign}{change}")
            parts.append(", ".join(seg))
        reason = f"; reason {quote(m.reason, data)}" if m.reason else ""
        lines.append(head + ": " + "; ".join(parts) + reason)
    for c in data.configs:
        change = ""
        old, new = _val(data, f"config.{c.index}.old"), _val(data, f"config.{c.index}.new")
        if c.numeric:
            change = f": old value {old}, new value {new}"
        elif new is not None:
            change = f": new value {new}"
        reason = f"; reason {quote(c.reason, data)}" if c.reason else ""
        lines.append(f"- config {quote(c.key, data)} changed by {quote(c.changed_by, data)}{change}{reason}")
    return lines


def render(data: ReportData, summary: str, *, footer: str = "") -> str:
    data.entity_ids.update(data.period.days())  # the title's dates are data, not claims to reject
    lines = [f"# {data.period.title}", "", "## Summary", "", summary, ""]
    for section in (_metrics(data), _metric_findings(data), _gates(data), _trades(data), _models(data)):
        lines += [*section, ""]
    if footer:
        lines += [footer, ""]
    return "\n".join(lines)
