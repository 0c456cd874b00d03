"""The TUI's one data adapter: every screen asks this module, never SQLite or DuckDB directly.

Why one module: the analytics layer (`observability.analytics.*`) and the query layer land separately;
keeping every read here makes swapping a direct read-only live.db query for them a change in one place.
Every method runs on a worker thread, opens its own read-only connection (mode=ro) and returns plain
frozen dataclasses, so nothing here touches Textual and a result can cross threads safely.

Reads are bounded: analytics panes look at the newest `scan_rows` rows of live.db (and, in replay, only
at rows up to the replay cursor), so a refresh costs the same on a day-old and a month-old database.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from huracan_tui.stats import histogram, near_miss, rate_series
from observability.config.gates_config import GatesConfig, GateSpec
from observability.core.live_store import open_readonly
from observability.errors import DataDirError, ObservabilityError
from observability.paths import DataLayout

if TYPE_CHECKING:  # these import duckdb: loaded on first use, not at startup
    from observability.analytics.decision_trace import TraceTimeline
    from observability.analytics.metrics_computer import MetricsComputer, MetricsReport
    from observability.core.io.query import QueryLayer


@dataclass(frozen=True)
class Decision:
    seq: int
    ts_us: int
    symbol: str | None
    mode: str
    trace_id: str | None
    gate: str
    value: float
    threshold: float
    margin: float
    passed: bool
    reason: str


@dataclass(frozen=True)
class GateRow:
    name: str
    order: int
    unit: str
    direction: str
    threshold: float
    target: float | None
    near_miss_margin: float
    n: int
    passed: int
    last: Decision | None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.n if self.n else None


@dataclass(frozen=True)
class Counterfactual:
    shift: float
    """Added to each decision's own live threshold (per-mode thresholds differ), 0 = as live."""
    would_pass: int
    delta: int
    shadows_gained: int
    shadow_pnl_bps: float
    """Sum of the shadow outcomes of signals this threshold would have let through (P&L forgone)."""
    trades_lost: int
    trade_pnl_bps: float
    """Sum of the outcomes of trades this threshold would have blocked (< 0: losses avoided)."""


@dataclass(frozen=True)
class ThresholdChange:
    ts_us: int
    old: Any
    new: Any
    changed_by: str
    reason: str


@dataclass(frozen=True)
class GateDetail:
    gate: GateRow
    pass_rates: list[float]
    histogram: list[tuple[float, float, int]]
    near_misses: list[Decision]
    failures: list[Decision]
    recent: list[Decision]
    changes: list[ThresholdChange]
    counterfactuals: list[Counterfactual]


@dataclass(frozen=True)
class Trade:
    trade_id: str
    trace_id: str | None
    symbol: str | None
    mode: str
    side: str
    status: str
    opened_us: int
    entry_price: float | None
    exit_price: float | None
    pnl_net: float | None
    pnl_bps: float | None
    mfe_bps: float | None
    mae_bps: float | None
    exit_reason: str | None
    model_id: str | None
    git_sha: str | None
    data_snapshot_id: str | None
    shadow: bool = False
    blocked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    name: str
    created_us: int
    parent_model_id: str | None
    git_sha: str | None
    data_snapshot_id: str | None
    metrics: dict[str, float]
    metrics_before: dict[str, float] = field(default_factory=dict)
    alias: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Models:
    models: list[ModelInfo]
    champion_history: list[tuple[int, str, str, str]]
    """(ts µs, model id, changed by, reason), newest first."""
    source: str


@dataclass(frozen=True)
class Report:
    path: Path
    text: str
    verification: str
    verified: bool | None


_GATE_SQL = (
    "SELECT seq, ts_event, symbol, mode, trace_id, json_extract(payload, '$.gate'), json_extract(payload, '$.value'), "
    "json_extract(payload, '$.threshold'), json_extract(payload, '$.margin'), json_extract(payload, '$.passed'), "
    "coalesce(json_extract(payload, '$.reason'), '') FROM live_feed WHERE event_type = 'gate_decision'"
)


class DataSource:
    """Read-only views over one data directory, bounded to the newest `scan_rows` live rows."""

    def __init__(self, layout: DataLayout, gates: GatesConfig, *, scan_rows: int = 50_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.layout = layout
        self.clock = clock
        self._metrics: tuple[QueryLayer, MetricsComputer] | None = None
        self.gates = gates
        self.scan_rows = scan_rows
        self.until_us: int | None = None
        """Replay cursor: when set, only rows with ts_event <= until_us exist for the panes."""

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection | None]:
        try:
            conn = open_readonly(self.layout.live_db)
        except DataDirError:
            yield None
            return
        try:
            yield conn
        finally:
            conn.close()

    def _bounds(self, conn: sqlite3.Connection) -> tuple[str, list[Any]]:
        top = conn.execute("SELECT max(seq) FROM live_feed").fetchone()[0] or 0
        if self.until_us is None:
            return " AND seq > ?", [top - self.scan_rows]
        return " AND seq > ? AND ts_event <= ?", [top - self.scan_rows, self.until_us]

    def _decisions(self, conn: sqlite3.Connection, gate: str | None = None) -> list[Decision]:
        cond, params = self._bounds(conn)
        if gate is not None:
            cond += " AND json_extract(payload, '$.gate') = ?"
            params.append(gate)
        raw = conn.execute(_GATE_SQL + cond + " ORDER BY seq", params).fetchall()
        return [Decision(r[0], r[1], r[2], r[3], r[4], r[5], float(r[6]), float(r[7]), float(r[8]), bool(r[9]), r[10])
                for r in raw]

    def _spec(self, name: str) -> GateSpec | None:
        return self.gates.gates.get(name)

    def _gate_row(self, name: str, order: int, decisions: list[Decision]) -> GateRow:
        spec = self._spec(name)
        last = decisions[-1] if decisions else None
        return GateRow(
            name=name, order=spec.order if spec else order, unit=spec.unit if spec else "",
            direction=spec.direction if spec else (last and _direction(last)) or "min",
            threshold=last.threshold if last else (spec.threshold if spec else 0.0),
            target=spec.pass_rate_target if spec else None, near_miss_margin=spec.near_miss_margin if spec else 0.0,
            n=len(decisions), passed=sum(d.passed for d in decisions), last=last,
        )

    def gate_board(self) -> list[GateRow]:
        with self._conn() as conn:
            decisions = self._decisions(conn) if conn else []
        by_gate: dict[str, list[Decision]] = defaultdict(list)
        for d in decisions:
            by_gate[d.gate].append(d)
        names = self.gates.names() + sorted(set(by_gate) - set(self.gates.names()))
        return [self._gate_row(n, i + 1, by_gate.get(n, [])) for i, n in enumerate(names)]

    def gate_detail(self, name: str) -> GateDetail:
        with self._conn() as conn:
            if conn is None:
                decisions, changes, outcomes = [], [], {}
            else:
                decisions = self._decisions(conn, name)
                changes = self._threshold_changes(conn, name)
                outcomes = self._outcomes(conn)
        row = self._gate_row(name, 0, decisions)
        spec = self._spec(name)
        margin = spec.near_miss_margin if spec else 0.0
        values = [d.value for d in decisions]
        return GateDetail(
            gate=row,
            pass_rates=rate_series([d.passed for d in decisions], buckets=40),
            histogram=histogram(values, bins=12, marks=[row.threshold]),
            near_misses=[d for d in decisions if near_miss(d.margin, margin)][-50:][::-1],
            failures=[d for d in decisions if not d.passed][-50:][::-1],
            recent=decisions[-100:][::-1],
            changes=changes,
            counterfactuals=_counterfactuals(row, decisions, margin, outcomes),
        )

    def _threshold_changes(self, conn: sqlite3.Connection, gate: str) -> list[ThresholdChange]:
        raw = conn.execute(
            "SELECT ts_event, payload FROM live_feed WHERE event_type = 'config_changed' "
            "AND json_extract(payload, '$.gate') = ? ORDER BY seq DESC LIMIT 50", (gate,)).fetchall()
        out = []
        for ts, payload in raw:
            p = orjson.loads(payload)
            out.append(ThresholdChange(ts, p.get("old_value"), p.get("new_value"), p.get("changed_by", ""),
                                       p.get("reason", "")))
        return out

    def _outcomes(self, conn: sqlite3.Connection) -> dict[str, tuple[str, float, tuple[str, ...]]]:
        """trace_id -> ("trade" | "shadow", pnl_bps, blocked_by) for closed trades and shadow trades."""
        cond, params = self._bounds(conn)
        raw = conn.execute(
            "SELECT trace_id, event_type, json_extract(payload, '$.pnl_bps'), json_extract(payload, '$.blocked_by') "
            "FROM live_feed WHERE event_type IN ('trade_closed', 'shadow_trade_closed') AND trace_id IS NOT NULL"
            + cond, params).fetchall()
        out: dict[str, tuple[str, float, tuple[str, ...]]] = {}
        for trace, et, bps, blocked in raw:
            kind = "trade" if et == "trade_closed" else "shadow"
            out[trace] = (kind, float(bps or 0.0), tuple(orjson.loads(blocked)) if blocked else ())
        return out

    def trades(self, limit: int = 300) -> list[Trade]:
        with self._conn() as conn:
            if conn is None:
                return []
            cond, params = self._bounds(conn)
            raw = conn.execute(
                "SELECT event_type, ts_event, symbol, mode, trace_id, payload FROM live_feed WHERE event_type IN "
                "('trade_opened', 'trade_closed', 'shadow_trade_opened', 'shadow_trade_closed')" + cond
                + " ORDER BY seq", params).fetchall()
        opened: dict[str, dict[str, Any]] = {}
        for et, ts, sym, mode, trace, payload in raw:
            p = orjson.loads(payload)
            key = p.get("trade_id") or p.get("shadow_id")
            if et.endswith("opened"):
                opened[key] = {"open": p, "ts": ts, "symbol": sym, "mode": mode, "trace": trace,
                               "shadow": et.startswith("shadow")}
            elif key in opened:
                opened[key]["close"] = p
        trades = [_trade(k, v) for k, v in opened.items()]
        trades.sort(key=lambda t: (t.status != "open", -t.opened_us))
        return trades[:limit]

    def trace(self, trace_id: str) -> TraceTimeline | None:
        """The analytics timeline (market context per step): live.db first, the query layer for pruned traces."""
        from observability.analytics.decision_trace import trace_timeline
        from observability.analytics.gate_explainer import UnknownTraceError

        try:
            return trace_timeline(trace_id, layout=self.layout)
        except UnknownTraceError:
            pass
        from observability.core.io.query import QueryLayer

        q = QueryLayer(self.layout)
        try:
            return trace_timeline(trace_id, con=q.connect())
        except UnknownTraceError:
            return None
        finally:
            q.close()

    def models(self) -> Models:
        try:
            return self._registry_models()
        except ObservabilityError:
            pass
        with self._conn() as conn:
            raw = conn.execute("SELECT ts_event, payload FROM live_feed WHERE event_type = 'model_updated' "
                               "ORDER BY seq DESC LIMIT 200").fetchall() if conn else []
        models, champions = [], []
        for ts, payload in raw:
            p = orjson.loads(payload)
            delta = p.get("delta") or {}
            models.append(ModelInfo(p["model_id"], p.get("alias") or "", ts, p.get("parent_model_id"),
                                    p.get("git_sha"), p.get("data_snapshot_id"), p.get("metrics") or {},
                                    delta.get("metrics_before") or {}, p.get("alias"), p.get("reason", "")))
            if p.get("alias") == "champion":
                champions.append((ts, p["model_id"], "hamilton", p.get("reason", "")))
        return Models(models, champions, "model_updated events (no registry at data/sqlite/learning.db)")

    def _registry_models(self) -> Models:
        from observability.core.registry import Registry

        with Registry(self.layout, readonly=True) as reg:
            aliases = {mid: alias for alias, mid in reg.aliases().items()}
            models = []
            for m in sorted(reg.list_models(), key=lambda m: m.created_at, reverse=True):
                delta = reg.delta(m.model_id)
                models.append(ModelInfo(m.model_id, m.name, int(m.created_at.timestamp() * 1e6), m.parent_model_id,
                                        m.git_sha, m.data_snapshot_id, dict(m.metrics),
                                        dict(delta.metrics_before) if delta else {}, aliases.get(m.model_id),
                                        m.reason))
            champions = [(int(a.changed_at.timestamp() * 1e6), a.model_id, a.changed_by, a.reason)
                         for a in reversed(reg.alias_history("champion"))]
        return Models(models, champions, f"registry {self.layout.learning_db}")

    def metrics_report(self, window: str = "24h") -> MetricsReport:
        """Every metric of configs/metrics.yaml per mode with its alert state, from the analytics layer.

        One query layer is kept for the app's life: `refresh()` only adds rows logged since the last call.
        """
        from datetime import UTC, datetime

        from observability.analytics.metrics_computer import MetricsComputer
        from observability.analytics.windows import make_window
        from observability.core.io.query import QueryLayer

        if self._metrics is None:
            q = QueryLayer(self.layout)
            self._metrics = (q, MetricsComputer(q.connect()))
        q, computer = self._metrics
        q.refresh()
        until_s = self.until_us / 1e6 if self.until_us is not None else self.clock()
        return computer.compute(make_window(window, until=datetime.fromtimestamp(until_s, tz=UTC)))

    def latest_report(self) -> Report | None:
        reports = self.layout.reports_dir
        if not reports.is_dir():
            return None
        files = sorted((p for p in reports.rglob("*.md") if p.is_file()), key=lambda p: p.stat().st_mtime)
        if not files:
            return None
        path = files[-1]
        text = path.read_text(errors="replace")
        verification, verified = "no verification file next to the report", None
        for cand in (path.with_suffix(".verification.json"), path.with_suffix(".json")):
            if cand.is_file():
                data = orjson.loads(cand.read_bytes())
                verified = bool(data.get("ok", data.get("verified", False))) if isinstance(data, dict) else None
                verification = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()[:4000]
                break
        return Report(path, text, verification, verified)


def _direction(d: Decision) -> str:
    return "min" if (d.value - d.threshold) == d.margin else "max"


def _trade(key: str, v: dict[str, Any]) -> Trade:
    o, c = v["open"], v.get("close") or {}
    ex = o.get("execution") or {}
    return Trade(
        trade_id=key, trace_id=v["trace"], symbol=v["symbol"], mode=v["mode"], side=o.get("side", ""),
        status="closed" if c else "open", opened_us=v["ts"],
        entry_price=ex.get("price_filled", o.get("entry_price")), exit_price=c.get("exit_price"),
        pnl_net=c.get("pnl_net", c.get("pnl")), pnl_bps=c.get("pnl_bps"), mfe_bps=c.get("mfe_bps"),
        mae_bps=c.get("mae_bps"), exit_reason=c.get("exit_reason"), model_id=o.get("model_id"),
        git_sha=o.get("git_sha"), data_snapshot_id=o.get("data_snapshot_id"), shadow=v["shadow"],
        blocked_by=tuple(o.get("blocked_by") or ()),
    )


def _passes(value: float, threshold: float, direction: str) -> bool:
    return value >= threshold if direction == "min" else value <= threshold


def _counterfactuals(row: GateRow, decisions: list[Decision], margin: float,
                     outcomes: dict[str, tuple[str, float, tuple[str, ...]]]) -> list[Counterfactual]:
    """What thresholds moved by one and two near-miss margins either way would have done.

    Each decision is judged against its own live threshold plus the shift, because modes can have
    different thresholds. A signal newly let through counts its shadow outcome only when this gate alone
    blocked it (otherwise another gate would still have stopped it); a trade newly blocked counts its
    realised outcome.
    """
    if not decisions:
        return []
    step = margin or abs(row.threshold) * 0.1 or 1.0
    out = []
    for k in (-2, -1, 0, 1, 2):
        shift = k * step
        would = gained = lost = 0
        gained_bps = lost_bps = 0.0
        for d in decisions:
            now = _passes(d.value, d.threshold + shift, row.direction)
            would += now
            outcome = outcomes.get(d.trace_id or "")
            if outcome is None or now == d.passed:
                continue
            kind, bps, blocked = outcome
            if now and kind == "shadow" and blocked == (row.name,):
                gained, gained_bps = gained + 1, gained_bps + bps
            elif not now and kind == "trade":
                lost, lost_bps = lost + 1, lost_bps + bps
        out.append(Counterfactual(shift, would, would - row.passed, gained, gained_bps, lost, lost_bps))
    return out
