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
    "shadow.pnl_bps_avg", "models.updated", "config.changes", "config.first_records", "errors.count",
)
MAX_GENERIC = 20
NAME = "deterministic"


def sentence(fact: Fact) -> str:
    label = plain_label(fact.label)
    label = label[:1].upper() + label[1:]
    return f"{label}: {render_value(fact)}."


_TRADE_KEYS = (".pnl_net", ".pnl_bps", ".fees", ".entry_slippage", ".hold", ".mfe", ".mae")


def _gate_facts(facts: FactSet) -> tuple[list[str], list[Fact]]:
    """Failed gates (all of them) or, for a taken signal, the tightest gate relative to its threshold."""
    margins = {i[: -len(".margin")]: f for i, f in facts.facts.items()
               if i.startswith("signal.") and i.endswith(".margin") and f.number is not None}
    failed = [g for g, f in margins.items() if (f.number or 0.0) < 0]

    def tightness(gate: str) -> float:
        threshold = facts.facts.get(f"{gate}.threshold")
        scale = abs(threshold.number or 0.0) if threshold is not None and threshold.number else 1.0
        return (margins[gate].number or 0.0) / scale

    shown = failed or sorted(margins, key=tightness)[:1]
    chosen = [facts.facts[f"{g}.{k}"] for g in shown for k in ("value", "threshold", "margin")
              if f"{g}.{k}" in facts.facts]
    return [g.rsplit(".", 1)[-1] for g in failed], chosen


def _trade_explanation(facts: FactSet) -> str:
    """Outcome first, then the gates that decided it, then how long it took: what a trader asks first."""
    failed, gates = _gate_facts(facts)
    head = (f"Not taken: blocked by {', '.join(failed)}." if failed
            else "Taken: every gate passed (the tightest is shown)." if gates else "")
    trade = [f for i, f in facts.facts.items()
             if (i.startswith("trade.") and i.endswith(_TRADE_KEYS))
             or (i.startswith("signal.") and i.endswith(".trade_pnl"))]
    total = [f for i, f in facts.facts.items() if i.startswith("trace.") and i.endswith(".total")]
    parts = [head, *(sentence(f) for f in trade + gates + total)]
    return " ".join(p for p in parts if p)


def write(task: str, facts: FactSet) -> str:
    """Summaries lead with the headline facts; a trade explanation leads with its outcome; others go in order."""
    chosen: list[Fact]
    if task == "trade_explanation" and any(i.startswith("signal.") for i in facts.facts):
        return _trade_explanation(facts)
    if task in ("daily_summary", "weekly_report"):
        chosen = [facts.facts[i] for i in HEADLINE_IDS if i in facts.facts]
    else:
        chosen = []
    if not chosen:
        chosen = list(facts)[:MAX_GENERIC]
    if not chosen:
        return "No activity was recorded in this period."
    return " ".join(sentence(f) for f in chosen)
