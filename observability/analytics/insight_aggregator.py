"""Ranked findings for a period, each with the numbers and ids that support it.

Detectors (each a small SQL query over the query layer's views):
- shadow_beats_taken: a gate whose signals blocked by it alone made money in their shadow trades,
  more per trade (bps) than the trades taken in the same mode — the gate may be too strict;
- expectancy_drop: a symbol/mode whose expectancy fell against the previous period of equal length;
- miscalibrated_model: a model whose mean confidence is far from how often its side was right
  (gross P&L > 0: the confidence is about direction, fees are not the model's error);
- slippage_drift: a symbol whose average entry slippage rose against the previous period;
- logger_loss: events dropped or dead-lettered, kill switch fires, writer down — data the
  analytics above could not see.
Findings are ranked by severity, then by score (effect size weighted by sqrt(sample size)).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact, limit_ids
from observability.analytics.views import HEALTH_COUNTERS_SQL
from observability.analytics.windows import Window

Severity = Literal["info", "warning", "critical"]
_RANK = {"critical": 0, "warning": 1, "info": 2}


class InsightSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_shadow_trades: int = 5
    min_trades: int = 5
    expectancy_drop_bps: float = 10.0
    calibration_gap_pct: float = 10.0
    slippage_rise_bps: float = 1.0


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    subject: str
    severity: Severity
    score: float
    title: str
    detail: str
    numbers: dict[str, tuple[float, str, int]]
    """name -> (value, unit, precision): each becomes a Fact."""
    evidence: list[str]

    def to_facts(self) -> list[Fact]:
        out: list[Fact] = []
        for name, (value, unit, precision) in self.numbers.items():
            out += fact(f"insight.{self.kind}.{self.subject}.{name}", f"{self.title}: {name}", value, unit,
                        precision, self.evidence)
        return out


class InsightReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: Window
    findings: list[Finding]

    def to_facts(self) -> list[Fact]:
        return [f for x in self.findings for f in x.to_facts()]


def short_id(ident: object) -> str:
    """Content hashes (64 hex) shortened for titles, as git does; the full id stays in `subject`."""
    text = str(ident)
    return text[:12] if len(text) > 16 and all(c in "0123456789abcdef" for c in text) else text


def _bounds(w: Window) -> tuple[str, str, str]:
    since, until = w.sql_bounds()
    prev = Window(label="previous", since=w.since - (w.until - w.since), until=w.since).sql_bounds()[0]
    return prev, since, until


def _score(effect: float, n: int) -> float:
    return round(abs(effect) * math.sqrt(max(n, 1)), 6)


def shadow_beats_taken(con: duckdb.DuckDBPyConnection, w: Window, s: InsightSettings) -> list[Finding]:
    """Per mode, shadows blocked by `gate` ALONE that earned more per trade than the trades taken, and
    made money. Why these conditions: loosening a gate frees only the signals no other gate blocked;
    scalp and runner trades differ in size and horizon, so each is compared with its own mode; and
    freeing trades that still lose (even less than the taken ones) would not add P&L."""
    _, since, until = _bounds(w)
    rows = con.execute(f"""
        WITH taken AS (SELECT mode, avg(pnl_bps) AS bps, count(*) AS n FROM trades
                       WHERE status = 'closed' AND closed_at >= {since} AND closed_at < {until} GROUP BY mode),
        alone AS (SELECT mode, blocked_by[1] AS gate, avg(pnl_bps) AS bps, count(*) AS n, sum(pnl) AS pnl,
                         list(shadow_id ORDER BY closed_at DESC)[1:20] AS ids
                  FROM shadow_trades WHERE status = 'closed' AND closed_at >= {since} AND closed_at < {until}
                    AND len(blocked_by) = 1
                  GROUP BY ALL)
        SELECT a.mode, a.gate, a.bps, a.n, a.pnl, a.ids, t.bps, t.n FROM alone a JOIN taken t USING (mode)
        WHERE a.n >= ? AND a.bps > t.bps AND a.bps > 0 ORDER BY a.mode, a.gate""",
        [s.min_shadow_trades]).fetchall()
    out = []
    for mode, gate, bps, n, pnl, ids, taken_bps, taken_n in rows:
        edge = bps - taken_bps
        out.append(Finding(
            kind="shadow_beats_taken", subject=f"{gate}.{mode}", severity="warning", score=_score(edge, n),
            title=f"Gate {gate} alone blocked {mode} trades that beat the ones taken",
            detail=(f"{n} {mode} signals blocked by {gate} alone would have made {bps:+.1f} bps per trade "
                    f"(total {pnl:+.2f} USDT) against {taken_bps:+.1f} bps for the {taken_n} {mode} trades taken; "
                    f"consider loosening {gate} for {mode}."),
            numbers={"shadow_bps": (bps, "bps", 1), "taken_bps": (taken_bps, "bps", 1), "shadow_n": (n, "count", 0),
                     "shadow_pnl": (pnl, "USDT", 2)},
            evidence=limit_ids(ids)))
    return out


def expectancy_drop(con: duckdb.DuckDBPyConnection, w: Window, s: InsightSettings) -> list[Finding]:
    prev, since, until = _bounds(w)
    rows = con.execute(f"""
        SELECT symbol, mode,
               avg(pnl_bps) FILTER (WHERE closed_at < {since}) AS before,
               count(*) FILTER (WHERE closed_at < {since}) AS n_before,
               avg(pnl_bps) FILTER (WHERE closed_at >= {since}) AS now,
               count(*) FILTER (WHERE closed_at >= {since}) AS n_now,
               list(trade_id ORDER BY closed_at DESC)[1:20]
        FROM trades WHERE status = 'closed' AND closed_at >= {prev} AND closed_at < {until}
        GROUP BY symbol, mode
        HAVING n_before >= ? AND n_now >= ? AND before - now >= ?""",
        [s.min_trades, s.min_trades, s.expectancy_drop_bps]).fetchall()
    out = []
    for sym, mode, before, n_before, now, n_now, ids in rows:
        drop = before - now
        out.append(Finding(
            kind="expectancy_drop", subject=f"{sym}.{mode}", severity="critical" if now < 0 else "warning",
            score=_score(drop, n_now), title=f"Expectancy of {sym} {mode} deteriorated",
            detail=(f"{sym} {mode}: {now:+.1f} bps per trade over {n_now} trades, down {drop:.1f} bps from "
                    f"{before:+.1f} bps over {n_before} trades in the previous period."),
            numbers={"expectancy_bps": (now, "bps", 1), "previous_bps": (before, "bps", 1),
                     "drop_bps": (drop, "bps", 1), "trades": (n_now, "count", 0)},
            evidence=limit_ids(ids)))
    return out


def miscalibrated_model(con: duckdb.DuckDBPyConnection, w: Window, s: InsightSettings) -> list[Finding]:
    _, since, until = _bounds(w)
    rows = con.execute(f"""
        SELECT model_id, 100.0 * avg(model_confidence), 100.0 * avg(CASE WHEN pnl_gross > 0 THEN 1 ELSE 0 END),
               count(*), avg(power(model_confidence - CASE WHEN pnl_gross > 0 THEN 1 ELSE 0 END, 2)),
               list(trade_id ORDER BY closed_at DESC)[1:20]
        FROM trades WHERE status = 'closed' AND model_confidence IS NOT NULL
          AND closed_at >= {since} AND closed_at < {until}
        GROUP BY model_id HAVING count(*) >= ?""", [s.min_trades]).fetchall()
    out = []
    for model, conf, hit, n, brier, ids in rows:
        gap = conf - hit
        if abs(gap) < s.calibration_gap_pct:
            continue
        side = "overconfident" if gap > 0 else "underconfident"
        out.append(Finding(
            kind="miscalibrated_model", subject=str(model), severity="warning", score=_score(gap, n),
            title=f"Model {short_id(model)} is {side}",
            detail=(f"model {short_id(model)}: mean confidence {conf:.1f}% but the side was right in {hit:.1f}% "
                    f"of {n} trades (gross P&L > 0; gap {gap:+.1f} points, Brier {brier:.3f})."),
            numbers={"confidence_pct": (conf, "%", 1), "hit_rate_pct": (hit, "%", 1), "gap_pct": (gap, "%", 1),
                     "brier": (brier, "ratio", 3), "trades": (n, "count", 0)},
            evidence=limit_ids(ids)))
    return out


def slippage_drift(con: duckdb.DuckDBPyConnection, w: Window, s: InsightSettings) -> list[Finding]:
    prev, since, until = _bounds(w)
    rows = con.execute(f"""
        SELECT symbol, avg(entry_slippage_bps) FILTER (WHERE opened_at < {since}),
               count(*) FILTER (WHERE opened_at < {since}),
               avg(entry_slippage_bps) FILTER (WHERE opened_at >= {since}),
               count(*) FILTER (WHERE opened_at >= {since}),
               list(trade_id ORDER BY opened_at DESC) FILTER (WHERE opened_at >= {since})[1:20]
        FROM trades WHERE opened_at >= {prev} AND opened_at < {until} AND entry_slippage_bps IS NOT NULL
        GROUP BY symbol""").fetchall()
    out = []
    for sym, before, n_before, now, n_now, ids in rows:
        if before is None or now is None or n_before < s.min_trades or n_now < s.min_trades:
            continue
        rise = now - before
        if rise < s.slippage_rise_bps:
            continue
        out.append(Finding(
            kind="slippage_drift", subject=str(sym), severity="warning", score=_score(rise, n_now),
            title=f"Entry slippage on {sym} is drifting up",
            detail=(f"{sym}: entry slippage {now:.2f} bps on average over {n_now} fills, up {rise:.2f} bps from "
                    f"{before:.2f} bps over {n_before} fills in the previous period."),
            numbers={"slippage_bps": (now, "bps", 2), "previous_bps": (before, "bps", 2),
                     "rise_bps": (rise, "bps", 2), "fills": (n_now, "count", 0)},
            evidence=limit_ids(ids or [])))
    return out


def logger_loss(con: duckdb.DuckDBPyConnection, w: Window, s: InsightSettings) -> list[Finding]:
    _, since, until = _bounds(w)
    samples = f"(SELECT * FROM health WHERE ts >= {since} AND ts < {until})"
    row = con.execute(f"""
        SELECT coalesce(sum(dropped), 0), coalesce(sum(dead_letters), 0), coalesce(sum(kill_switch_fires), 0),
               count(*) FILTER (WHERE NOT writer_alive), count(*),
               list(CAST(epoch_ms(ts) AS VARCHAR) ORDER BY ts) FILTER (WHERE NOT writer_alive)[1:20],
               min(ts), max(ts)
        FROM ({HEALTH_COUNTERS_SQL.format(health=samples)})""").fetchone()
    if row is None or not row[4]:
        return []
    dropped, dead, fires, down, samples, down_ids, first, last = row
    span = f"health samples {first:%Y-%m-%d %H:%M:%S} to {last:%H:%M:%S} UTC"
    ev = [f"health:{first:%Y-%m-%dT%H:%M:%S}..{last:%Y-%m-%dT%H:%M:%S}"]
    out = []
    checks: list[tuple[str, Any, Severity, str]] = [
        ("dropped", dropped, "critical", f"the logger dropped {dropped} events ({span}); analytics miss them"),
        ("dead_letters", dead, "warning", f"{dead} events failed validation and went to dead_letter ({span})"),
        ("kill_switch", fires, "critical", f"the logger kill switch fired {fires} times ({span})"),
        ("writer_down", down, "critical", f"the writer was down in {down} of {samples} health samples ({span})"),
    ]
    for name, value, sev, text in checks:
        if value:
            out.append(Finding(kind="logger_loss", subject=name, severity=sev, score=float(value),
                               title=f"Logger: {name.replace('_', ' ')}", detail=text[0].upper() + text[1:] + ".",
                               numbers={name: (float(value), "count", 0)},
                               evidence=ev + (limit_ids(down_ids or []) if name == "writer_down" else [])))
    return out


DETECTORS = (shadow_beats_taken, expectancy_drop, miscalibrated_model, slippage_drift, logger_loss)


def insights(con: duckdb.DuckDBPyConnection, window: Window, settings: InsightSettings | None = None) -> InsightReport:
    s = settings or InsightSettings()
    found = [f for detect in DETECTORS for f in detect(con, window, s)]
    found.sort(key=lambda f: (_RANK[f.severity], -f.score, f.kind, f.subject))
    return InsightReport(window=window, findings=found)
