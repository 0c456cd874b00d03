"""The built-in writer: plain sentences built from facts alone, so it always verifies.

It is the default provider and the fallback when a model's text cannot be verified. Each number is
printed right after its fact's label ("Win rate: 61.5%."), which is also what lets the verifier tie
the number to that fact rather than to another with a similar value.
"""

from __future__ import annotations

from observability.ai.facts import Fact, FactSet, plain_label, render_value

HEADLINE_IDS = (
    "signals.count", "trades.opened", "trades.closed", "trades.win_rate", "trades.pnl_net_total",
    "trades.pnl_bps_avg", "trades.fees_total", "trades.entry_slippage_avg", "gates.decisions", "shadow.closed",
    "shadow.pnl_bps_avg", "models.updated", "config.changes", "errors.count",
)
MAX_GENERIC = 20
NAME = "deterministic"


def sentence(fact: Fact) -> str:
    label = plain_label(fact.label)
    label = label[:1].upper() + label[1:]
    return f"{label}: {render_value(fact)}."


def write(task: str, facts: FactSet) -> str:
    """Summaries lead with the headline facts; other tasks state their facts in order."""
    chosen: list[Fact]
    if task in ("daily_summary", "weekly_report"):
        chosen = [facts.facts[i] for i in HEADLINE_IDS if i in facts.facts]
    else:
        chosen = []
    if not chosen:
        chosen = list(facts)[:MAX_GENERIC]
    if not chosen:
        return "No activity was recorded in this period."
    return " ".join(sentence(f) for f in chosen)
