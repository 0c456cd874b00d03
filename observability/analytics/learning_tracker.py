"""Trading results under each model: per model id recorded on the trades, and per champion
period (trades opened while a model was champion), so a retrain can be judged by what it earned,
not only by its offline metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact, limit_ids
from observability.analytics.gate_explainer import window_clause
from observability.analytics.model_evolution import ChampionChange
from observability.analytics.windows import Window

_STATS = """count(*) FILTER (WHERE status = 'closed'),
    100.0 * avg(CASE WHEN pnl_net > 0 THEN 1 ELSE 0 END) FILTER (WHERE status = 'closed'),
    avg(pnl_net) FILTER (WHERE status = 'closed'),
    avg(pnl_bps) FILTER (WHERE status = 'closed'),
    coalesce(sum(pnl_net) FILTER (WHERE status = 'closed'), 0),
    avg(model_confidence),
    avg(power(model_confidence - CASE WHEN pnl_gross > 0 THEN 1 ELSE 0 END, 2))
        FILTER (WHERE status = 'closed' AND model_confidence IS NOT NULL),
    list(trade_id ORDER BY opened_at DESC)[1:20]"""


class ModelResults(BaseModel):
    """Closed-trade results for one model (or one champion period)."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    trades: int
    win_rate_pct: float | None
    expectancy_usdt: float | None
    expectancy_bps: float | None
    pnl_net_usdt: float
    avg_confidence: float | None
    brier: float | None
    evidence: list[str]

    def to_facts(self) -> list[Fact]:
        base = f"model_results.{self.model_id}" + (f".{self.period_start:%Y%m%dT%H%M}" if self.period_start else "")
        label = f"model {self.model_id}" + (f" as champion from {self.period_start:%Y-%m-%d %H:%M}"
                                            if self.period_start else "")
        ev = self.evidence
        return (fact(f"{base}.trades", f"{label}: closed trades", self.trades, "count", 0, ev)
                + fact(f"{base}.win_rate", f"{label}: win rate", self.win_rate_pct, "%", 1, ev)
                + fact(f"{base}.expectancy_bps", f"{label}: expectancy", self.expectancy_bps, "bps", 1, ev)
                + fact(f"{base}.pnl_net", f"{label}: net P&L", self.pnl_net_usdt, "USDT", 2, ev)
                + fact(f"{base}.brier", f"{label}: Brier score", self.brier, "ratio", 4, ev))


def _results(row: tuple[Any, ...], model_id: str, start: datetime | None = None,
             end: datetime | None = None) -> ModelResults:
    n, win, exp, exp_bps, pnl, conf, brier, ids = row
    return ModelResults(model_id=model_id, period_start=start, period_end=end, trades=int(n), win_rate_pct=win,
                        expectancy_usdt=exp, expectancy_bps=exp_bps, pnl_net_usdt=pnl, avg_confidence=conf,
                        brier=brier, evidence=limit_ids(ids or []))


def results_by_model(con: duckdb.DuckDBPyConnection, window: Window, mode: str | None = None) -> list[ModelResults]:
    where, params = window_clause(window, ts="coalesce(closed_at, opened_at)", mode=mode)
    rows = con.execute(f"SELECT coalesce(model_id, '(none)'), {_STATS} FROM trades WHERE {where} "
                       "GROUP BY 1 ORDER BY min(opened_at)", params).fetchall()
    return [_results(r[1:], str(r[0])) for r in rows]


def results_by_champion(con: duckdb.DuckDBPyConnection, changes: list[ChampionChange],
                        until: datetime | None = None, mode: str | None = None) -> list[ModelResults]:
    """Trades OPENED during each champion's reign [change, next change), whatever model they name."""
    out = []
    for i, c in enumerate(changes):
        end = changes[i + 1].ts if i + 1 < len(changes) else until
        sql = f"SELECT {_STATS} FROM trades WHERE opened_at >= ?" + (" AND opened_at < ?" if end else "")
        params: list[Any] = [c.ts]
        if end:
            params.append(end)
        if mode is not None:
            sql += " AND mode = ?"
            params.append(mode)
        row = con.execute(sql, params).fetchone()
        if row is not None:
            out.append(_results(row, c.model_id, c.ts, end))
    return out
