"""EngineHook: the calls a live engine makes, in the order it makes them, checked and logged.

One signal's story is one `trace_id`: `on_signal` → `on_gate_decisions` (every configured gate,
always, even after the first failure, so a gate's cost can be measured) → `on_order_filled` and
`on_trade_closed` when it passed, or `on_shadow_trade_opened/closed` when it was blocked. The hook
keeps just enough state (pending traces, open trades, open shadows) to reject calls that cannot
be right — an unknown gate, a close without an open, a negative size, features from the future —
with a `HookError`/`LeakageError` before anything is logged.
"""

from __future__ import annotations

import functools
import threading
import traceback as tb
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from observability.analytics.market_context_logger import MarketContextLogger
from observability.config.gates_config import GatesConfig
from observability.core import builders
from observability.core.ids import new_id
from observability.errors import LeakageError
from observability.integration.checks import (
    Timestamp,
    bounded_text,
    excursions,
    positive_size,
    secs,
    step_ts,
)
from observability.integration.errors import HookError, UnknownGateError
from observability.integration.sink import LogSink

_MODES = ("scalp", "runner")
P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[Concatenate[EngineHook, P], R]) -> Callable[Concatenate[EngineHook, P], R]:
    """Run a method under the hook's lock: its check-then-act on the trace/position tables is then
    atomic when several threads share one hook (uncontended, the lock costs well under a microsecond).

    The per-signal methods take the lock inline (`with self._lock:`) instead: this wrapper's extra
    frame and argument repacking cost more than the lock itself, several times per signal."""
    @functools.wraps(method)
    def run(self: EngineHook, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return run


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The outcome of all gates for one signal."""

    trace_id: str
    passed: bool
    blocked_by: tuple[str, ...]
    near_misses: tuple[str, ...]
    """Failed gates whose value was within the gate's near_miss_margin of the threshold."""
    values: dict[str, float]
    thresholds: dict[str, float]


@dataclass(slots=True)
class _Trace:
    symbol: str
    mode: str
    side: str
    signal_id: str
    model_id: str
    confidence: float
    price: float
    ts: float
    verdict: GateVerdict | None = None
    gates_ts: float = 0.0
    config_hash: str = ""
    """Of the gates config the decision used: a fill after a threshold change still names it."""


@dataclass(slots=True)
class _Position:
    trace_id: str
    symbol: str
    mode: str
    side: str
    entry_price: float
    size: float
    fees: float
    opened_ts: float
    blocked_by: tuple[str, ...] = ()


class EngineHook:
    """Typed, checked logging for the live engine; threads may share one hook (each call holds its lock)."""

    def __init__(
        self,
        logger: LogSink,
        gates_config: GatesConfig | None = None,
        *,
        venue: str = "exchange",
        git_sha: str | None = None,
        data_snapshot_id: str | None = None,
        max_pending_traces: int = 100_000,
        market_context_min_interval_s: float = 1.0,
    ) -> None:
        self._lock = threading.RLock()
        self._logger = logger
        self.market_context = MarketContextLogger(logger, min_interval_s=market_context_min_interval_s)
        """Rate-limits on_market_context per symbol; its stats() say how many snapshots were skipped."""
        self._venue = venue
        self._git_sha = git_sha
        self._snapshot = data_snapshot_id
        self._max_pending = max_pending_traces
        self._traces: dict[str, _Trace] = {}
        self._trades: dict[str, _Position] = {}
        self._shadows: dict[str, _Position] = {}
        self._checked_names: set[tuple[Any, ...]] = set()
        """(symbol, model_id, strategy, *feature names) of signals whose names passed `_check_names`: the same
        few combinations come back on every signal, and a set lookup is cheaper than re-checking them."""
        self._open_traces: set[str] = set()
        """trace_ids whose trade or shadow trade is still open: a new signal must not reuse them."""
        self.update_gates(gates_config or GatesConfig())

    # ------------------------------------------------------------ state

    @property
    def gates_config(self) -> GatesConfig:
        return self._gates

    @_locked
    def update_gates(self, config: GatesConfig) -> None:
        """Use new thresholds from now on (e.g. what `MechanicHook.set_gate_threshold` returned)."""
        self._gates = config
        self._order = config.names()
        self._order_set = frozenset(self._order)
        self._specs = [(name, config.gates[name]) for name in self._order]
        self._hash = config.config_hash()
        self._thresholds = {m: config.thresholds(m) for m in _MODES}
        self._rows = {m: [(name, self._thresholds[m][name], spec.direction, spec.order) for name, spec in self._specs]
                      for m in _MODES}
        """Per mode, each gate's (name, threshold, direction, order) as `builders.gate_decisions` takes them."""
        self._misses = {m: self._miss_rules(m) for m in _MODES}

    def _miss_rules(self, mode: str) -> list[tuple[str, float, str]]:
        """Each gate's (name, near-miss margin, reason tail) for `mode`, in order.

        A failed gate's default reason is its value followed by the tail, e.g. "9.1 bps > max 8":
        the tail is fixed per config and mode, so it is formatted here, once.
        """
        rules = []
        for name, spec in self._specs:
            threshold = self._thresholds[mode][name]
            op = "<" if spec.direction == "min" else ">"
            rules.append((name, spec.near_miss_margin, f" {spec.unit} {op} {spec.direction} {threshold:.6g}"))
        return rules

    @property
    def gate_names(self) -> list[str]:
        """Configured gates in evaluation order (the keys `on_gate_decisions` expects)."""
        return self._order

    @property
    @_locked
    def open_trade_ids(self) -> frozenset[str]:
        return frozenset(self._trades)

    @property
    @_locked
    def open_shadow_ids(self) -> frozenset[str]:
        return frozenset(self._shadows)

    def _trace(self, trace_id: str) -> _Trace:
        trace = self._traces.get(trace_id)
        if trace is None:
            raise HookError(
                f"unknown trace_id {trace_id!r}: call on_signal first (or the trace already became a "
                "trade/shadow trade, or it was evicted after max_pending_traces newer signals)"
            )
        return trace

    # ------------------------------------------------------------ signal and gates

    @staticmethod
    def _check_names(symbol: str, model_id: str, strategy: str, features: Mapping[str, float] | None) -> None:
        if not isinstance(symbol, str) or not symbol.strip():
            raise HookError(f"symbol must name the instrument, e.g. 'BTC/USDT', got {symbol!r}")
        bounded_text("symbol", symbol, 40)
        bounded_text("model_id", model_id, 128)
        bounded_text("strategy", strategy, 200, required=False)
        for name in features or ():
            bounded_text("feature name", name, 128)

    def on_signal(
        self, *, symbol: str, side: str, confidence: float, price: float, model_id: str, mode: str,
        trace_id: str | None = None, signal_id: str | None = None, strategy: str = "default",
        features: Mapping[str, float] | None = None, feature_ts: Mapping[str, Timestamp] | None = None,
        decision_ts: Timestamp | None = None, ts: Timestamp | None = None,
    ) -> str:
        """Log a new signal; returns its trace_id (generated unless given)."""
        with self._lock:
            if mode not in _MODES:
                raise HookError(f"mode must be one of {list(_MODES)}, got {mode!r}")
            names = (symbol, model_id, strategy, *features) if features else (symbol, model_id, strategy)
            try:
                known = names in self._checked_names
            except TypeError:  # an unhashable argument: the checks below name it
                known = False
            if not known:
                self._check_names(symbol, model_id, strategy, features)
                if len(self._checked_names) >= 4096:
                    self._checked_names.clear()
                self._checked_names.add(names)
            if trace_id:
                bounded_text("trace_id", trace_id, 64)
            if signal_id:
                bounded_text("signal_id", signal_id, 128)
            at = secs(ts)
            decided = at if decision_ts is None else secs(decision_ts)
            fts = None
            if feature_ts:
                fts = {}
                late = []
                for k, v in feature_ts.items():
                    at_k = fts[k] = v if type(v) is float else secs(v)
                    if at_k > decided:
                        late.append(k)
                if late:
                    first = min(late, key=lambda k: fts[k])
                    raise LeakageError(
                        f"leakage: feature {first!r} has timestamp {fts[first]:.6f}, after the decision at "
                        f"{decided:.6f} ({len(late)} feature(s) from the future); use only features observed "
                        "at or before the decision"
                    )
            tid = trace_id or new_id()
            if tid in self._traces or tid in self._open_traces:
                raise HookError(f"trace_id {tid!r} is already in use; one trace per signal")
            sid = signal_id or tid
            event = builders.signal_received(
                signal_id=sid, side=side, confidence=confidence, price=price, model_id=model_id, symbol=symbol,
                trace_id=tid, mode=mode, strategy=strategy, features=features, feature_ts=fts,
                decision_timestamp=decided if (fts or decision_ts is not None) else None, ts_event=at,
            )
            if len(self._traces) >= self._max_pending:
                del self._traces[next(iter(self._traces))]
            self._traces[tid] = _Trace(symbol, mode, side, sid, model_id, float(confidence), float(price), at)
            self._logger.log(event)
            return tid

    def on_gate_decisions(
        self, trace_id: str, values: Mapping[str, float], *, reasons: Mapping[str, str] | None = None,
        ts: Timestamp | None = None,
    ) -> GateVerdict:
        """Evaluate and log EVERY configured gate for this signal; returns the verdict."""
        with self._lock:
            trace = self._trace(trace_id)
            if trace.verdict is not None:
                raise HookError(f"gate decisions for trace {trace_id!r} were already recorded")
            if values.keys() != self._order_set:
                unknown = sorted(set(values) - self._order_set)
                if unknown:
                    raise UnknownGateError(
                        f"unknown gate(s) {unknown}; configured gates are {self._order} (configs/gates.yaml)"
                    )
                missing = [g for g in self._order if g not in values]
                raise HookError(
                    f"every gate must be evaluated for every signal; missing {missing} for trace {trace_id!r}"
                )
            at = step_ts(ts, trace.ts, "gate decisions", "signal", trace_id)
            mode = trace.mode
            events = builders.gate_decisions(
                self._rows[mode], values, symbol=trace.symbol, trace_id=trace_id, mode=mode,
                signal_id=trace.signal_id, reasons=reasons, ts_event=at,
            )
            blocked = []
            near = []
            log = self._logger.log
            for event, (name, near_miss_margin, reason_tail) in zip(events, self._misses[mode], strict=True):
                payload = event["payload"]
                if not payload["passed"]:
                    blocked.append(name)
                    if -payload["margin"] <= near_miss_margin:
                        near.append(name)
                    if not payload["reason"]:
                        payload["reason"] = f"{values[name]:.6g}{reason_tail}".strip()
                log(event)  # every event is built (and checked) before the first is logged
            trace.verdict = GateVerdict(trace_id, not blocked, tuple(blocked), tuple(near), dict(values),
                                        self._thresholds[mode])
            trace.gates_ts = at
            trace.config_hash = self._hash
            return trace.verdict

    # ------------------------------------------------------------ trades

    def on_order_filled(
        self, trace_id: str, *, price_requested: float, price_filled: float, size_requested: float,
        size_filled: float, fees: float, trade_id: str | None = None, order_id: str | None = None,
        latency_ms: float | None = None, stop_loss: float | None = None, take_profit: float | None = None,
        ts: Timestamp | None = None,
    ) -> str:
        """The entry fill of a signal that passed every gate; logs `trade_opened`, returns the trade_id."""
        with self._lock:
            trace = self._trace(trace_id)
            if trace.verdict is None:
                raise HookError(f"trace {trace_id!r}: record on_gate_decisions before opening a trade")
            if not trace.verdict.passed:
                raise HookError(
                    f"trace {trace_id!r} was blocked by {list(trace.verdict.blocked_by)}; a blocked signal is "
                    "followed with on_shadow_trade_opened, not traded"
                )
            positive_size("size_requested", size_requested)
            filled = positive_size("size_filled", size_filled)
            tid = bounded_text("trade_id", trade_id, 128) if trade_id else new_id()
            if order_id:
                bounded_text("order_id", order_id, 128)
            if tid in self._trades:
                raise HookError(f"trade {tid!r} is already open")
            at = step_ts(ts, trace.gates_ts, "entry fill", "gate decisions", trace_id)
            execution = builders.execution(
                order_id=order_id or new_id(), side="buy" if trace.side == "long" else "sell",
                price_requested=price_requested, price_filled=price_filled, size_requested=size_requested,
                size_filled=filled, fees=fees, venue=self._venue, latency_ms=latency_ms,
            )
            event = builders.trade_opened(
                trade_id=tid, side=trace.side, execution=execution, model_id=trace.model_id, symbol=trace.symbol,
                trace_id=trace_id, mode=trace.mode, signal_id=trace.signal_id, model_confidence=trace.confidence,
                stop_loss=stop_loss, take_profit=take_profit, thresholds=trace.verdict.thresholds,
                config_hash=trace.config_hash, git_sha=self._git_sha, data_snapshot_id=self._snapshot, ts_event=at,
            )
            del self._traces[trace_id]
            self._open_traces.add(trace_id)
            self._trades[tid] = _Position(trace_id, trace.symbol, trace.mode, trace.side, execution["price_filled"],
                                          filled, execution["fees"], at)
            self._logger.log(event)
            return tid

    def on_trade_closed(
        self, trade_id: str, *, price_requested: float, price_filled: float, fees: float, exit_reason: str,
        size_filled: float | None = None, mfe_bps: float = 0.0, mae_bps: float = 0.0,
        order_id: str | None = None, latency_ms: float | None = None, ts: Timestamp | None = None,
    ) -> dict[str, Any]:
        """The exit fill; logs `trade_closed` with P&L computed from both fills and all fees."""
        with self._lock:
            pos = self._trades.get(trade_id)
            if pos is None:
                raise HookError(
                    f"close without open: trade {trade_id!r} is not open (never opened by on_order_filled, "
                    "or already closed)"
                )
            if size_filled is not None and abs(positive_size("size_filled", size_filled) - pos.size) > 1e-9 * pos.size:
                raise HookError(
                    f"trade {trade_id!r}: exit size {size_filled!r} differs from the open size {pos.size!r}; "
                    "partial exits are not supported, close the full size"
                )
            excursions(mfe_bps, mae_bps)
            if order_id:
                bounded_text("order_id", order_id, 128)
            at = step_ts(ts, pos.opened_ts, "close of trade", "entry fill", pos.trace_id, trade_id)
            exit_execution = builders.execution(
                order_id=order_id or new_id(), side="sell" if pos.side == "long" else "buy",
                price_requested=price_requested, price_filled=price_filled, size_requested=pos.size,
                size_filled=pos.size, fees=fees, venue=self._venue, latency_ms=latency_ms,
            )
            event = builders.trade_closed(
                trade_id=trade_id, side=pos.side, entry_price=pos.entry_price,
                exit_price=exit_execution["price_filled"], size=pos.size, fees=pos.fees + exit_execution["fees"],
                hold_seconds=at - pos.opened_ts, exit_reason=exit_reason, symbol=pos.symbol, trace_id=pos.trace_id,
                mode=pos.mode, mfe_bps=mfe_bps, mae_bps=mae_bps, exit_execution=exit_execution, ts_event=at,
            )
            del self._trades[trade_id]
            self._open_traces.discard(pos.trace_id)
            self._logger.log(event)
            return event

    # ------------------------------------------------------------ shadow trades

    def on_shadow_trade_opened(
        self, trace_id: str, *, size: float, entry_price: float | None = None, shadow_id: str | None = None,
        ts: Timestamp | None = None,
    ) -> str | None:
        """Follow a blocked signal as if it had been taken; None when shadow tracking is off or full."""
        with self._lock:
            trace = self._trace(trace_id)
            verdict = trace.verdict
            if verdict is None:
                raise HookError(f"trace {trace_id!r}: record on_gate_decisions before opening a shadow trade")
            if verdict.passed:
                raise HookError(
                    f"trace {trace_id!r} passed every gate; shadow trades follow blocked signals only "
                    "(a passed signal that is not traded needs no shadow)"
                )
            qty = positive_size("size", size)
            at = step_ts(ts, trace.gates_ts, "shadow trade", "gate decisions", trace_id)
            settings = self._gates.shadow_trades
            if not settings.enabled or len(self._shadows) >= settings.max_open:
                del self._traces[trace_id]
                return None
            sid = bounded_text("shadow_id", shadow_id, 128) if shadow_id else new_id()
            if sid in self._shadows:
                raise HookError(f"shadow trade {sid!r} is already open")
            price = trace.price if entry_price is None else entry_price
            counterfactuals = []
            for name in verdict.blocked_by:
                spec = self._gates.gates.get(name)
                if spec is None:  # removed by update_gates since the decision: no near-miss margin to test
                    continue
                threshold = verdict.thresholds[name]
                alternative = spec.loosened(threshold)
                value = verdict.values[name]
                counterfactuals.append({
                    "gate": name, "threshold": threshold, "alternative_threshold": alternative,
                    "would_pass": value >= alternative if spec.direction == "min" else value <= alternative,
                })
            event = builders.shadow_trade_opened(
                shadow_id=sid, side=trace.side, entry_price=price, size=qty, blocked_by=verdict.blocked_by,
                symbol=trace.symbol, trace_id=trace_id, mode=trace.mode, signal_id=trace.signal_id,
                counterfactuals=counterfactuals, ts_event=at,
            )
            del self._traces[trace_id]  # only now: a refused call above leaves the trace for a corrected retry
            self._open_traces.add(trace_id)
            self._shadows[sid] = _Position(trace_id, trace.symbol, trace.mode, trace.side, float(price), qty, 0.0, at,
                                           verdict.blocked_by)
            self._logger.log(event)
            return sid

    def on_shadow_trade_closed(
        self, shadow_id: str, *, exit_price: float, exit_reason: str, fees: float = 0.0, mfe_bps: float = 0.0,
        mae_bps: float = 0.0, ts: Timestamp | None = None,
    ) -> dict[str, Any]:
        """The outcome the blocked signal would have had; logs `shadow_trade_closed`."""
        with self._lock:
            pos = self._shadows.get(shadow_id)
            if pos is None:
                raise HookError(f"close without open: shadow trade {shadow_id!r} is not open")
            excursions(mfe_bps, mae_bps)
            at = step_ts(ts, pos.opened_ts, "close of shadow trade", "shadow open", pos.trace_id,
                         shadow_id)
            event = builders.shadow_trade_closed(
                shadow_id=shadow_id, side=pos.side, entry_price=pos.entry_price, exit_price=exit_price, size=pos.size,
                hold_seconds=at - pos.opened_ts, exit_reason=exit_reason, blocked_by=pos.blocked_by,
                symbol=pos.symbol, trace_id=pos.trace_id, mode=pos.mode, fees=fees, mfe_bps=mfe_bps,
                mae_bps=mae_bps, ts_event=at,
            )
            del self._shadows[shadow_id]
            self._open_traces.discard(pos.trace_id)
            self._logger.log(event)
            return event

    # ------------------------------------------------------------ context and errors

    def on_market_context(
        self, symbol: str, *, price: float, spread_bps: float, volatility_bps: float, bid: float | None = None,
        ask: float | None = None, volume_1m: float = 0.0, liquidity_usd: float = 0.0, regime: str = "unknown",
        funding_rate: float | None = None, trace_id: str | None = None, ts: Timestamp | None = None,
    ) -> bool:
        """Call it on every tick: at most one snapshot per symbol per `market_context_min_interval_s` is logged."""
        bounded_text("symbol", symbol, 40)
        bounded_text("regime", regime, 200)
        if trace_id is not None:
            bounded_text("trace_id", trace_id, 64)
        return self.market_context.offer(
            symbol, price=price, spread_bps=spread_bps, volatility_bps=volatility_bps, bid=bid, ask=ask,
            volume_1m=volume_1m, liquidity_usd=liquidity_usd, regime=regime, funding_rate=funding_rate,
            trace_id=trace_id, ts=secs(ts),
        )

    def on_error(
        self, component: str, error: BaseException | str, *, message: str | None = None, recoverable: bool = True,
        symbol: str | None = None, trace_id: str | None = None, severity: str = "ERROR", ts: Timestamp | None = None,
    ) -> bool:
        """Log an exception (type, message, traceback) or a named error type with `message`."""
        if isinstance(error, BaseException):
            error_type = type(error).__name__
            text = message or str(error) or error_type
            trace = "".join(tb.format_exception(error)) if error.__traceback__ is not None else None
        else:
            error_type, text, trace = error, message or error, None
        return self._logger.log(builders.error(  # never raise on the error path: shorten what is too long
            component=str(component)[:200], error_type=str(error_type)[:200], message=text, recoverable=recoverable,
            traceback=trace, symbol=symbol, trace_id=trace_id, severity=severity, ts_event=secs(ts),
        ))
