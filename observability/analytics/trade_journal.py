"""Trade records as a journal keeps them: fills, fees, slippage, excursions, exit reason, and the
lineage needed to reproduce the decision months later (model id, git SHA, data snapshot, config
hash, and the gate thresholds that were live at entry).

Thresholds come from two places on purpose: the `thresholds` the engine wrote into trade_opened,
and what the registry says was live at that instant (`Registry.value_at`). When both exist and
disagree the entry lists the mismatch: the engine ran with a config the audit trail does not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import duckdb
import orjson
from pydantic import BaseModel, ConfigDict, Field

from observability.analytics.evidence import Fact, fact
from observability.analytics.gate_explainer import window_clause
from observability.analytics.window_cache import WIDE
from observability.analytics.windows import Window
from observability.core.io.views import trades_matching_sql
from observability.core.registry import Registry
from observability.core.schemas import TradeRecord
from observability.errors import ObservabilityError, RegistryError

_FILL_FIELDS: Final = ("order_id", "side", "price_requested", "price_filled", "size_requested", "size_filled", "fees",
                       "slippage_bps", "latency_ms", "venue")
_FILL_COLUMNS: Final = ", ".join(f"{p}_{f}" for p in ("execution", "exit_execution") for f in _FILL_FIELDS)


class UnknownTradeError(ObservabilityError):
    """No trade has the id asked about."""


class Fill(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    event_id: str
    ts: datetime
    order_id: str
    side: str
    price_requested: float
    price_filled: float
    size_requested: float
    size_filled: float
    fees: float
    slippage_bps: float
    latency_ms: float | None = None
    venue: str = ""


class Lineage(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str | None
    model_name: str | None = None
    model_created_at: datetime | None = None
    git_sha: str | None
    data_snapshot_id: str | None
    config_hash: str | None
    thresholds: dict[str, float] = Field(default_factory=dict)
    """As the engine recorded them in trade_opened."""
    registry_thresholds: dict[str, Any] = Field(default_factory=dict)
    """As the registry says they were live at entry (gates.<gate>.threshold or .modes.<mode>)."""
    mismatches: list[str] = Field(default_factory=list)


class JournalEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    record: TradeRecord
    status: str
    entry_slippage_bps: float | None
    exit_slippage_bps: float | None
    entry_latency_ms: float | None
    hold_seconds: float | None
    fills: list[Fill]
    lineage: Lineage
    evidence: list[str]

    def to_facts(self) -> list[Fact]:
        r, ev = self.record, [self.record.trade_id, *self.evidence]
        base = f"trade.{r.trade_id}"
        return (fact(f"{base}.pnl_net", f"trade {r.trade_id} net P&L", r.pnl_net, "USDT", 2, ev)
                + fact(f"{base}.pnl_bps", f"trade {r.trade_id} net P&L (bps)", r.pnl_bps, "bps", 1, ev)
                + fact(f"{base}.fees", f"trade {r.trade_id} fees", r.fees, "USDT", 4, ev)
                + fact(f"{base}.entry_slippage", f"trade {r.trade_id} entry slippage", self.entry_slippage_bps,
                       "bps", 2, ev)
                + fact(f"{base}.mfe", f"trade {r.trade_id} MFE", r.mfe_bps, "bps", 1, ev)
                + fact(f"{base}.mae", f"trade {r.trade_id} MAE", r.mae_bps, "bps", 1, ev)
                + fact(f"{base}.hold", f"trade {r.trade_id} hold time", self.hold_seconds, "s", 1, ev))


_TRADE_COLS = ("trade_id, trace_id, symbol, mode, side, status, opened_at, closed_at, entry_price, exit_price, "
               "size, fees, entry_slippage_bps, exit_slippage_bps, pnl_gross, pnl_net, pnl_bps, hold_seconds, "
               "exit_reason, mfe_bps, mae_bps, model_id, git_sha, data_snapshot_id, config_hash, thresholds, "
               "entry_latency_ms")


class TradeJournal:
    """Journal entries over the query layer; the registry (read-only) adds model and threshold lineage."""

    def __init__(self, con: duckdb.DuckDBPyConnection, registry: Registry | None = None) -> None:
        self.con = con
        self.registry = registry

    def entry(self, trade_id: str) -> JournalEntry:
        mine = "trade_id = $id"
        rows = self.con.execute(f"SELECT {_TRADE_COLS} FROM ({trades_matching_sql('trades', mine)}) WHERE {mine}",
                                {"id": trade_id}).fetchall()
        if not rows:
            raise UnknownTradeError(f"no trade with id {trade_id!r}; list trades with "
                                    "`huracan-obs query \"SELECT trade_id FROM trades ORDER BY opened_at DESC\"`")
        return self._build(rows)[0]

    def entries(self, window: Window, *, mode: str | None = None, symbol: str | None = None,
                limit: int = 200) -> list[JournalEntry]:
        """Trades opened or closed in the window, most recent first."""
        where, params = window_clause(window, ts="coalesce(closed_at, opened_at)", mode=mode)
        if symbol is not None:
            where += " AND symbol = ?"
            params.append(symbol)
        rows = self.con.execute(f"SELECT {_TRADE_COLS} FROM trades WHERE {where} "
                                "ORDER BY coalesce(closed_at, opened_at) DESC LIMIT ?", [*params, limit]).fetchall()
        return self._build(rows)

    def _build(self, rows: list[tuple[Any, ...]]) -> list[JournalEntry]:
        fills = self._fills([r[0] for r in rows])
        out = []
        for r in rows:
            (tid, trace, sym, mode, side, status, opened, closed, entry, exit_, size, fees, eslip, xslip, gross,
             net, bps, hold, reason, mfe, mae, model, sha, snap, cfg, thresholds, latency) = r
            rec = TradeRecord(trade_id=tid, trace_id=trace, symbol=sym or "?", mode=mode or "none", side=side,
                              opened_at=opened, closed_at=closed, entry_price=entry, exit_price=exit_, size=size,
                              fees=fees or 0.0, slippage_bps=eslip or 0.0, pnl_gross=gross, pnl_net=net,
                              pnl_bps=bps, mfe_bps=mfe, mae_bps=mae, exit_reason=reason, model_id=model,
                              git_sha=sha, data_snapshot_id=snap, config_hash=cfg)
            tf = fills.get(tid, [])
            out.append(JournalEntry(record=rec, status=status, entry_slippage_bps=eslip, exit_slippage_bps=xslip,
                                    entry_latency_ms=latency, hold_seconds=hold, fills=tf,
                                    lineage=self._lineage(rec, thresholds, opened),
                                    evidence=[f.event_id for f in tf]))
        return out

    def _fills(self, trade_ids: list[str]) -> dict[str, list[Fill]]:
        """Entry and exit fills from the typed execution columns (rebuilding each row's payload JSON to read
        them back cost ~19 s for one trade at 10 M events)."""
        if not trade_ids:
            return {}
        rows = self.con.execute(
            f"SELECT trade_id, event_id, ts_event, event_type = 'trade_opened', {_FILL_COLUMNS} FROM {WIDE} "
            "WHERE event_type IN ('trade_opened', 'trade_closed') AND trade_id IN (SELECT unnest(?)) "
            "ORDER BY ts_event, seq", [trade_ids]).fetchall()
        out: dict[str, list[Fill]] = {}
        for tid, eid, ts, entry, *both in rows:
            e = dict(zip(_FILL_FIELDS, both[:len(_FILL_FIELDS)] if entry else both[len(_FILL_FIELDS):], strict=True))
            if e["order_id"] is not None:  # a close without its exit fill
                out.setdefault(tid, []).append(Fill(kind="entry" if entry else "exit", event_id=eid, ts=ts,
                                                    **{**e, "venue": e["venue"] or ""}))
        return out

    def _lineage(self, rec: TradeRecord, thresholds_json: str | None, opened: datetime | None) -> Lineage:
        thresholds = {str(k): float(v) for k, v in (orjson.loads(thresholds_json) if thresholds_json else {}).items()}
        name = created = None
        live: dict[str, Any] = {}
        mismatches: list[str] = []
        if self.registry is not None and opened is not None:
            if rec.model_id:
                try:
                    model = self.registry.get_model(rec.model_id)
                    name, created = model.name, model.created_at
                except RegistryError:
                    mismatches.append(f"model {rec.model_id} is not in the registry")
            for gate in sorted(set(thresholds) | set(self.registry.gates())):
                value = self.registry.value_at(f"gates.{gate}.modes.{rec.mode}", opened)
                if value is None:
                    value = self.registry.value_at(f"gates.{gate}.threshold", opened)
                if value is None:
                    continue
                live[gate] = value
                used = thresholds.get(gate)
                if used is not None and isinstance(value, int | float) and abs(float(value) - used) > 1e-9:
                    mismatches.append(f"{gate}: engine used {thresholds[gate]:g}, registry had {float(value):g} live")
        return Lineage(model_id=rec.model_id, model_name=name, model_created_at=created, git_sha=rec.git_sha,
                       data_snapshot_id=rec.data_snapshot_id, config_hash=rec.config_hash, thresholds=thresholds,
                       registry_thresholds=live, mismatches=mismatches)
