"""`huracan-obs explain TRACE_ID [--json]`: why a signal was taken or not, step by step."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from observability.analytics.decision_trace import trace_of, trace_timeline
from observability.analytics.evidence import Fact
from observability.analytics.gate_explainer import GateExplainer, SignalExplanation, UnknownTraceError
from observability.analytics.trade_journal import JournalEntry, TradeJournal
from observability.cli.common import add_parser, config_from, console, layout_from
from observability.config.gates_config import load_gates_config
from observability.core.io.query import QueryLayer
from observability.core.registry import Registry
from observability.errors import DataDirError
from observability.paths import DataLayout


def register(sub: Any) -> None:
    p = add_parser(sub, "explain", "the decision timeline of one signal: gates, execution, outcome, lineage")
    p.add_argument("trace_id", metavar="TRACE_ID", help="trace id (or a trade, shadow or signal id)")
    p.add_argument("--gates-config", default=None, help="gates.yaml (default configs/gates.yaml)")
    p.add_argument("--json", action="store_true", help="print JSON (timeline, gates, trade, facts)")
    p.add_argument("--ai", action="store_true",
                   help="add a plain-language explanation (LLM when configured, else deterministic; numbers verified)")
    p.add_argument("--ai-config", default=None, help="ai_routing.yaml (default configs/ai_routing.yaml)")
    p.set_defaults(func=run)


def _ms(latency: float) -> str:
    """Whole milliseconds, with decimals below 100 ms (gate steps are often sub-millisecond)."""
    return f"{latency:,.0f}" if latency >= 100 else f"{latency:.1f}" if latency >= 1 else f"{latency:.2f}"


def run(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    layer = QueryLayer(layout, s3_uri=config_from(args).export.uri, materialize_trades=False)
    registry: Registry | None
    try:
        registry = Registry(layout, readonly=True)
    except DataDirError:
        registry = None
    try:
        con = layer.connect()
        trace_id = args.trace_id
        try:
            timeline = trace_timeline(trace_id, layout=layout, con=con)
        except UnknownTraceError:
            trace_id = trace_of(con, args.trace_id) or ""
            if not trace_id:
                raise
            timeline = trace_timeline(trace_id, layout=layout, con=con)
        why = GateExplainer(con, load_gates_config(args.gates_config)).explain_signal(trace_id)
        entry = TradeJournal(con, registry).entry(why.trade_id) if why.trade_id else None
    finally:
        layer.close()
        if registry is not None:
            registry.close()
    if args.json:
        facts: list[Fact] = timeline.to_facts() + why.to_facts() + (entry.to_facts() if entry else [])
        body = {"timeline": timeline.model_dump(mode="json"), "explanation": why.model_dump(mode="json"),
                "trade": entry.model_dump(mode="json") if entry else None,
                "facts": [f.model_dump() for f in facts]}
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    console.print(escape(why.sentence))
    t = Table(title=f"Timeline of {escape(trace_id)} — {escape(timeline.trace.outcome)}", header_style="bold")
    for col in ("time (UTC)", "+ms", "stage", "what happened"):
        t.add_column(col, justify="right" if col == "+ms" else "left", overflow="fold")
    for s in timeline.trace.steps:
        t.add_row(f"{s.ts:%Y-%m-%d %H:%M:%S.%f}"[:-3], "" if s.latency_ms is None else _ms(s.latency_ms),
                  escape(s.stage), escape(s.summary))
    t.caption = f"from {timeline.source}"
    console.print(t)
    console.print(_gates(why))
    if entry is not None:
        _lineage(entry)
    if args.ai:
        _ai_explanation(timeline.to_facts() + why.to_facts() + (entry.to_facts() if entry else []), layout,
                        args.ai_config, [trace_id, *([why.trade_id] if why.trade_id else [])])
    return 0


def _ai_explanation(facts: list[Fact], layout: DataLayout, config_path: str | None, ids: list[str]) -> None:
    """The same facts, in words; every number in the text is verified against them before it is shown."""
    from observability.ai.trade_explainer import explain_trade
    from observability.config.ai_routing_config import load_ai_routing_config

    text = explain_trade(facts, layout=layout, config=load_ai_routing_config(config_path), entity_ids=ids)
    verdict = "verified" if text.verification.verified else "NOT verified"
    console.print(f"\n[bold]In words[/bold] ({escape(text.provider)}, {verdict}):")
    console.print(escape(text.text))


def _gates(why: SignalExplanation) -> Table:
    t = Table(title="Gates", header_style="bold")
    for col in ("#", "gate", "value", "threshold", "margin", "verdict"):
        t.add_column(col, justify="right" if col in ("#", "value", "threshold", "margin") else "left")
    for g in why.gates:
        verdict = "[green]pass[/]" if g.passed else ("[yellow]near miss[/]" if g.near_miss else "[red]fail[/]")
        t.add_row(str(g.order), escape(g.gate), f"{g.value:g}", f"{g.direction} {g.threshold:g}", f"{g.margin:+g}",
                  verdict)
    return t


def _lineage(entry: JournalEntry) -> None:
    lin = entry.lineage
    console.print(
        f"lineage: model {escape(str(lin.model_id))}"
        + (f" ({escape(lin.model_name)})" if lin.model_name else "")
        + f", git {escape(str(lin.git_sha))}, data {escape(str(lin.data_snapshot_id))}, "
          f"config {escape(str(lin.config_hash))}; thresholds at entry "
        + escape(", ".join(f"{k}={v:g}" for k, v in lin.thresholds.items()) or "not recorded"))
    for m in lin.mismatches:
        console.print(f"[yellow]lineage warning:[/] {escape(m)}")
