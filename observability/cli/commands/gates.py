"""`huracan-obs gates [--since T|--window 24h] [--mode M] [--gate G [--sweep 6,7,8]] [--json]`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from observability.analytics.gate_counterfactuals import CounterfactualSweep, counterfactual_sweeps
from observability.analytics.gate_explainer import GateExplainer
from observability.analytics.windows import add_window_args, window_from_args
from observability.cli.common import add_parser, config_from, console, layout_from
from observability.config.gates_config import load_gates_config
from observability.core.io.query import QueryLayer
from observability.errors import ConfigError


def register(sub: Any) -> None:
    p = add_parser(sub, "gates", "gate pass rates vs targets, near misses and counterfactual threshold sweeps")
    add_window_args(p)
    p.add_argument("--mode", choices=("scalp", "runner"), default=None, help="only this mode's signals")
    p.add_argument("--gate", default=None, help="show this gate's full sweep, trend and near misses")
    p.add_argument("--sweep", default=None, help="alternative thresholds for --gate, comma separated")
    p.add_argument("--gates-config", default=None, help="gates.yaml (default configs/gates.yaml)")
    p.add_argument("--json", action="store_true", help="print JSON (summaries, sweeps, facts)")
    p.set_defaults(func=run)


def _sweep_values(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--sweep must be numbers separated by commas (e.g. 6,7,8), got {text!r}") from None


def _live(threshold: float | None, per_mode: dict[str, float]) -> str:
    """'8', or 'scalp 8 / runner 12' when the modes' live thresholds differ."""
    if threshold is not None or not per_mode:
        return "—" if threshold is None else f"{threshold:g}"
    return " / ".join(f"{m} {v:g}" for m, v in per_mode.items())


def _sweep_table(sweep: CounterfactualSweep) -> Table:
    live = _live(sweep.current_threshold, sweep.live_thresholds)
    t = Table(title=f"Counterfactuals for {escape(sweep.gate)} ({sweep.direction}, live {live}) "
                    f"over {sweep.signals} signals", header_style="bold")
    for col in ("threshold", "Δ passed", "Δ taken", "newly taken (shadow closed, won)", "shadow P&L", "newly blocked",
                "their P&L", "net effect"):
        t.add_column(col, justify="right")
    for r in sweep.rows:
        t.add_row(f"{r.threshold:g}" + (" ◀" if r.is_current else ""), f"{r.delta_passed:+d}", f"{r.delta_taken:+d}",
                  f"{r.newly_taken} ({r.newly_taken_with_outcome} closed, {r.newly_taken_wins} won)",
                  f"{r.shadow_pnl:+.2f}", str(r.newly_blocked),
                  f"{r.blocked_trade_pnl:+.2f}", f"{r.net_effect:+.2f}")
    t.caption = ("each threshold applied to every decision of the window; Δ and net effect against what was done. "
                 "shadow P&L (closed shadows only) > 0: profit forgone; their P&L < 0: losses a tighter threshold "
                 "avoids")
    return t


def run(args: argparse.Namespace) -> int:
    window = window_from_args(args)
    gates_cfg = load_gates_config(args.gates_config)
    alts = _sweep_values(args.sweep)
    layout = layout_from(args)
    layer = QueryLayer(layout, s3_uri=config_from(args).export.uri, materialize_trades=False)  # one join, in the sweeps
    try:
        con = layer.connect()
        ex = GateExplainer(con, gates_cfg)
        summaries = ex.summaries(window, args.mode)
        names = [args.gate] if args.gate else [s.gate for s in summaries]
        sweeps = counterfactual_sweeps(con, names, window, {args.gate: alts} if args.gate and alts else None,
                                       mode=args.mode, gates=gates_cfg)
        trend = ex.trend(args.gate, window, "1h", args.mode) if args.gate else None
        near = ex.near_misses(args.gate, window, mode=args.mode, limit=10) if args.gate else None
    finally:
        layer.close()
    if args.json:
        body: dict[str, Any] = {"window": window.model_dump(mode="json"),
                                "summaries": [s.model_dump(mode="json") for s in summaries],
                                "sweeps": [s.model_dump(mode="json") for s in sweeps.values()]}
        if trend is not None and near is not None:
            body |= {"trend": trend.model_dump(mode="json"), "near_misses": near.model_dump(mode="json")}
        facts = [f for s in summaries for f in s.to_facts()] + [f for s in sweeps.values() for f in s.to_facts()]
        body["facts"] = [f.model_dump() for f in facts]
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    if not summaries:
        console.print(f"no gate decisions from {window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC "
                      f"in {layout.root}; widen --window or check --data-dir")
        return 0
    table = Table(title=f"Gates {window.label}: {window.since:%Y-%m-%d %H:%M} → {window.until:%Y-%m-%d %H:%M} UTC"
                        + (f" ({args.mode})" if args.mode else ""), header_style="bold")
    for col in ("gate", "decisions", "pass %", "target %", "threshold", "near misses", "blocked alone",
                "best alternative (net P&L)"):
        table.add_column(col, justify="left" if col in ("gate", "best alternative (net P&L)") else "right",
                         no_wrap=col == "gate")
    for s in summaries:
        sweep = sweeps.get(s.gate)
        best = sweep.best() if sweep else None
        if sweep is not None and sweep.current_threshold is None and len(sweep.live_thresholds) > 1:
            alt = "per mode: use --mode"  # one threshold for modes that run different ones is no advice
        else:
            alt = f"{best.threshold:g} ({best.net_effect:+.2f} USDT)" if best else "keep"
        rate = "—" if s.pass_rate_pct is None else f"{s.pass_rate_pct:.1f}"
        behind = s.pass_rate_pct is not None and s.target_pct is not None and s.pass_rate_pct < s.target_pct - 5
        table.add_row(escape(s.gate), str(s.decisions), f"[yellow]{rate}[/]" if behind else rate,
                      "—" if s.target_pct is None else f"{s.target_pct:.0f}",
                      f"{s.direction or ''} {_live(s.threshold, s.live_thresholds)} {escape(s.unit)}".strip()
                      + (f" (yaml {s.config_threshold:g})" if s.threshold is not None and s.config_threshold
                         is not None and abs(s.threshold - s.config_threshold) > 1e-12 else ""),
                      str(s.near_misses), str(s.blocked_alone), alt)
    console.print(table)
    if args.gate:
        console.print(_sweep_table(sweeps[args.gate]))
        if trend is not None and trend.points:
            console.print("pass rate per hour: " + "  ".join(
                f"{p.bucket_start:%H:%M} {p.pass_rate_pct:.0f}%" for p in trend.points[-24:]))
        if near is not None:
            console.print(f"{near.count} near misses within {near.margin:g}: "
                          + ", ".join(f"{i.trace_id} ({i.value:g} vs {i.threshold:g})" for i in near.items))
    return 0
