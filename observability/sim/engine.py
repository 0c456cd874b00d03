"""The simulated Huracan engine: it drives `EngineHook`, `HamiltonHook` and `MechanicHook` as a live engine would.

Time is simulated seconds since `start_ts`. `advance(until)` processes every happening before
`until` in time order — signal arrivals (Poisson), market snapshots, scheduled closes, retrains,
tunings, rare errors — and logs through the hooks into `sink`. Everything random comes from
generators seeded by `seed`, so a seed fixes the whole stream except the ids.

Open positions are bounded at high rates by shortening holds (`ExitRule.scaled`): concurrent
positions ≈ signal rate × hold time, and a 50,000 events/s run must not hold millions in memory.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Any, Final

from observability.config.gates_config import GatesConfig
from observability.integration.engine_hook import EngineHook
from observability.integration.registry_protocol import ConfigRegistry, ModelRegistry
from observability.integration.sink import LogSink
from observability.sim.draws import Draws
from observability.sim.learning import SimHamilton, SimMechanic
from observability.sim.market import HIGH_VOL, REGIMES, ExitRule, PlannedExit, SymbolMarket

DEFAULT_SYMBOLS: Final = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
EVENTS_PER_SIGNAL: Final = 9.0
"""signal + 6 gates + (open + close of a trade or a shadow), most of the time."""
RULES: Final = {
    "scalp": ExitRule(take_profit=22.0, stop_loss=16.0, trail_from=12.0, trail=7.0, min_hold=20, max_hold=240),
    "runner": ExitRule(take_profit=140.0, stop_loss=55.0, trail_from=50.0, trail=30.0, min_hold=300, max_hold=3600),
}
RUNNER_SHARE: Final = 0.3
FEE_RATE: Final = 0.0002
"""Fee per side (a maker-heavy VIP tier), as a fraction of notional."""
ERRORS: Final = (
    ("exchange_ws", "ConnectionResetError", "order book stream reset by peer; resubscribed", "WARNING"),
    ("order_router", "TimeoutError", "order acknowledgement took longer than 2 s; reconciled from fills", "ERROR"),
    ("feature_store", "StaleDataError", "funding rate older than 120 s; used the last known value", "WARNING"),
    ("risk", "PositionMismatch", "exchange position differs from the book by one lot; resynced", "ERROR"),
)
_CLOSE, _SHADOW_CLOSE = 0, 1
_STRESS: Final = (-0.05, 0.0, 0.35)
"""Market stress by regime (TREND, CHOP, HIGH_VOL): wider spreads and more volatility, less depth."""
_MODELLED_GATES: Final = frozenset(("spread", "volatility", "liquidity", "model_confidence", "regime", "risk_budget"))
DEFAULT_START_TS: Final = 1_767_225_600.0
"""2026-01-01 00:00:00 UTC: fixed so a seed gives the same timestamps."""
_Scheduled = tuple[float, int, int, str, float, float, PlannedExit]
"""(sim time, tie-break counter, kind, trade or shadow id, side sign or shadow fees, size, plan)."""


class _Counting:
    """Counts what the simulation logs (for `_boost` and progress lines), forwarding every event unchanged.

    The one wrapper between the hooks and the logger: each layer is a Python call per event.
    """

    def __init__(self, sink: LogSink) -> None:
        self._log = sink.log
        self.count = 0
        self.dropped = 0
        """Events the sink refused (a logger returns False when its queue tier is full)."""

    def log(self, event: dict[str, Any]) -> bool:
        self.count += 1
        if self._log(event):
            return True
        self.dropped += 1
        return False


@dataclass(frozen=True, slots=True)
class SimSettings:
    seed: int = 7
    events_per_second: float = 200.0
    """Event density per SIMULATED second (a runner at speed s delivers s times this per real second)."""
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    start_ts: float = DEFAULT_START_TS
    retrain_every: float = 120.0
    tune_every: float = 60.0
    first_tune: float = 10.0
    error_every: float = 45.0
    max_open_positions: int = 40_000


class Simulator:
    def __init__(self, sink: LogSink, settings: SimSettings, gates: GatesConfig | None = None, *,
                 registry: ModelRegistry | None = None, config_registry: ConfigRegistry | None = None) -> None:
        if not settings.symbols:
            raise ValueError("at least one symbol is required")
        s = self.settings = settings
        self._rng = Draws(settings.seed)
        gates = gates or GatesConfig()
        sink = self._sink = _Counting(sink)
        self.engine = EngineHook(sink, gates, venue="sim", git_sha="0000000sim")
        self._markets = [SymbolMarket(sym, settings.seed) for sym in settings.symbols]
        self._hamilton = SimHamilton(sink, registry, random.Random(settings.seed + 1), settings.seed, s.start_ts)
        self._mechanic = SimMechanic(sink, config_registry, gates, random.Random(settings.seed + 2), s.start_ts)
        self._base = gates.thresholds()
        base = self._base
        self._scales = {m.symbol: (base.get("spread", 8.0) * m.profile.spread_mult,
                                   base.get("volatility", 45.0) * m.profile.vol_mult ** 0.3,
                                   base.get("liquidity", 250_000.0) * m.profile.liquidity_mult ** 0.5)
                        for m in self._markets}
        """Per symbol, the constant factors of spread, volatility and depth (see `_market_values`)."""
        self._gate_names: list[str] = []
        self._all_modelled = False
        n_sym = len(settings.symbols)
        self._context_every = max(5.0, n_sym / (0.15 * max(settings.events_per_second, 1e-6)))
        background = n_sym / self._context_every + (1.0 / settings.error_every if settings.error_every > 0 else 0.0)
        signal_rate = max(1e-4, (settings.events_per_second - background) / EVENTS_PER_SIGNAL)
        self._signal_rate = signal_rate
        mean_hold = sum((RUNNER_SHARE if m == "runner" else 1 - RUNNER_SHARE) * (r.min_hold + r.max_hold) / 2
                        for m, r in RULES.items())
        scale = min(1.0, s.max_open_positions / (signal_rate * 0.8 * mean_hold))
        self._rules = {m: r.scaled(scale) for m, r in RULES.items()}
        self._expected_open = max(2.0, signal_rate * 0.4 * mean_hold * scale)
        self._start_ts = settings.start_ts
        self._heap: list[_Scheduled] = []
        self._counter = 0
        self._signals = 0
        self.now = 0.0
        self._next_signal = self._rng.expovariate(signal_rate)
        self._next_context = 0.0
        self._next_retrain = 0.0
        self._next_tune = settings.first_tune if settings.tune_every > 0 else math.inf
        self._next_error = self._rng.expovariate(1.0 / settings.error_every) if settings.error_every > 0 else math.inf

    @property
    def open_positions(self) -> int:
        return len(self._heap)

    @property
    def events_logged(self) -> int:
        """Events handed to the sink so far, accepted or not."""
        return self._sink.count

    @property
    def events_dropped(self) -> int:
        """Events the sink refused so far."""
        return self._sink.dropped

    def advance(self, until: float) -> None:
        """Process every happening strictly before sim time `until` (seconds since start), in time order."""
        heap = self._heap
        pop = heapq.heappop
        expovariate = self._rng.expovariate
        while True:
            # Signals and closes are nearly all happenings: a tight loop runs them up to the next
            # other happening; that one, and any tie with it, goes through the full dispatch below.
            limit = min(self._next_context, self._next_retrain, self._next_tune, self._next_error, until)
            while True:
                t = self._next_signal
                if heap and heap[0][0] <= t:
                    t = heap[0][0]
                    if t >= limit:
                        break
                    self.now = t
                    self._close(pop(heap))
                else:
                    if t >= limit:
                        break
                    self.now = t
                    self._signal(t)
                    self._next_signal = t + expovariate(self._signal_rate * self._boost(t))
            t = min(self._next_signal, self._next_context, self._next_retrain, self._next_tune, self._next_error,
                    heap[0][0] if heap else math.inf)
            if t >= until:
                break
            self.now = t
            if heap and heap[0][0] == t:
                self._close(heapq.heappop(heap))
            elif t == self._next_signal:
                self._signal(t)
                self._next_signal = t + self._rng.expovariate(self._signal_rate * self._boost(t))
            elif t == self._next_context:
                self._contexts(t)
                self._next_context = t + self._context_every
            elif t == self._next_retrain:
                self._hamilton.retrain(t)
                self._next_retrain = t + self.settings.retrain_every if self.settings.retrain_every > 0 else math.inf
            elif t == self._next_tune:
                new = self._mechanic.tune(t)
                if new is not None:
                    self.engine.update_gates(new)
                self._next_tune = t + self.settings.tune_every
            else:
                self._error(t)
                self._next_error = t + self._rng.expovariate(1.0 / self.settings.error_every)
        self.now = max(self.now, until)

    def _boost(self, t: float) -> float:
        """Signal-rate multiplier that holds the event density at the target from the start.

        A signal brings fewer than EVENTS_PER_SIGNAL events: early on its trade has not closed yet,
        and some signals open neither a trade nor a shadow (measured ~8.4 at 50,000/s). So the rate
        is scaled by the events a signal has brought so far and by the shortfall so far; the second
        factor alone left a steady 3 % deficit. Deterministic: it depends only on the run's own counts.
        """
        count = self._sink.count
        if t < 0.2 or count == 0 or self._signals == 0:
            return 1.0
        per_signal = count / self._signals
        return min(1.6, max(0.8, EVENTS_PER_SIGNAL / per_signal * self.settings.events_per_second * t / count))

    def settle(self) -> None:
        """Close every open trade and shadow at its planned time, starting nothing new (for complete traces)."""
        while self._heap:
            item = heapq.heappop(self._heap)
            self.now = item[0]
            self._close(item)

    # ------------------------------------------------------------ happenings

    def _market_values(self, market: SymbolMarket, regime: int) -> tuple[float, float, float]:
        """Spread (bps), 1-minute volatility (bps) and depth (USD), scattered around the base thresholds."""
        g = self._rng.gauss
        exp = math.exp
        stress = _STRESS[regime]
        spread_k, vol_k, depth_k = self._scales[market.symbol]
        return (spread_k * exp(-0.45 + stress + 0.3 * g(0, 1)), vol_k * exp(-0.5 + stress + 0.28 * g(0, 1)),
                depth_k * exp(0.45 - stress + 0.3 * g(0, 1)))

    def _contexts(self, t: float) -> None:
        ts = self.settings.start_ts + t
        idx = int(t)
        for market in self._markets:
            regime = market.regime(idx)
            price = market.price(idx)
            spread, vol, depth = self._market_values(market, regime)
            half = price * spread / 20_000.0
            self.engine.on_market_context(
                market.symbol, price=price, bid=price - half, ask=price + half, spread_bps=spread,
                volatility_bps=vol, volume_1m=depth * 0.4 * self._rng.random(), liquidity_usd=depth,
                regime=REGIMES[regime], funding_rate=round(self._rng.gauss(0.0001, 0.00005), 7), ts=ts)
            market.trim(idx)

    def _signal(self, t: float) -> None:
        self._signals += 1
        rng = self._rng
        gauss, random_ = rng.gauss, rng.random
        engine = self.engine
        market = self._markets[rng.randrange(len(self._markets))]
        idx = int(t)
        ts = self._start_ts + t
        price = market.price(idx)
        regime = market.regime(idx)
        mode = "runner" if random_() < RUNNER_SHARE else "scalp"
        model = self._hamilton.champion
        confidence = min(0.99, max(0.01, 0.5 + model.skill_at(t) + gauss(0, 0.08)))
        rule = self._rules[mode]
        hold = rng.randint(rule.min_hold, rule.max_hold)
        reversal = rng.randint(rule.min_hold, hold) if random_() < 0.12 else None
        # The toy model's edge: it picks the side whose outcome on this path is better with a
        # probability that grows with its confidence (so confident, ungated signals earn more).
        long_plan, short_plan = market.plan_exits(idx, rule, hold, reversal, stride=1 if mode == "scalp" else 5)
        long_better = long_plan.price / price >= price / short_plan.price
        spread, vol, depth = self._market_values(market, regime)
        regime_score = min(1.0, max(0.0, (0.75, 0.5, 0.55)[regime] + gauss(0, 0.16)))
        edge = 1.5 * (confidence - 0.5) + 0.2 * (regime_score - 0.5) - (0.08 if regime == HIGH_VOL else 0.0)
        right = random_() < min(0.8, max(0.3, 0.5 + edge))
        side = "long" if long_better == right else "short"
        plan = long_plan if side == "long" else short_plan
        trace = engine.on_signal(
            symbol=market.symbol, side=side, confidence=confidence, price=price, model_id=model.model_id,
            mode=mode, features={"ret_60s_bps": market.future_return_bps(max(0, idx - 60), min(idx, 60)),
                                 "regime": float(regime)},
            feature_ts={"ret_60s_bps": ts - 0.2, "regime": ts - 1.0}, ts=ts)
        used = max(0.0, 0.55 * len(self._heap) / (2.0 * self._expected_open) + gauss(0.35, 0.15))
        values = {"spread": spread, "volatility": vol, "liquidity": depth, "model_confidence": confidence,
                  "regime": regime_score, "risk_budget": used}
        names = engine.gate_names
        if names is not self._gate_names:  # a new gates config: are its gates exactly the modelled six?
            self._gate_names = names
            self._all_modelled = set(names) == _MODELLED_GATES
        gate_values = values if self._all_modelled else {
            g: values[g] if g in values else self._generic_value(g) for g in names}
        verdict = engine.on_gate_decisions(trace, gate_values, ts=ts + 0.0005)
        self._mechanic.count(verdict.blocked_by)
        sign = 1.0 if side == "long" else -1.0
        notional = rng.uniform(2_000, 10_000) if mode == "scalp" else rng.uniform(5_000, 25_000)
        size = notional / price
        if verdict.passed:
            slip = (spread / 2 + abs(gauss(0, 1.0))) * (1.0 if random_() > 0.15 else -0.5)
            filled = price * (1 + sign * slip * 1e-4)
            size_filled = size if random_() > 0.05 else size * rng.uniform(0.4, 0.95)
            latency = rng.uniform(5, 80)
            trade_id = engine.on_order_filled(
                trace, price_requested=price, price_filled=filled, size_requested=size, size_filled=size_filled,
                fees=filled * size_filled * FEE_RATE, latency_ms=latency,
                stop_loss=price * (1 - sign * rule.stop_loss * 1e-4),
                take_profit=price * (1 + sign * rule.take_profit * 1e-4), ts=ts + latency / 1000)
            self._schedule(t + plan.steps, _CLOSE, trade_id, sign, size_filled, plan)
        else:
            # A shadow pays what a trade would: half the spread on the way in and out, and fees.
            half = spread / 2e4
            entry = price * (1 + sign * half)
            shadow_id = engine.on_shadow_trade_opened(trace, size=size, entry_price=entry, ts=ts + 0.001)
            if shadow_id is not None:
                fees = 2 * notional * FEE_RATE if engine.gates_config.shadow_trades.include_fees else 0.0
                exit_plan = PlannedExit(plan.steps, plan.price * (1 - sign * half), plan.reason, plan.mfe_bps,
                                        plan.mae_bps)
                self._schedule(t + plan.steps, _SHADOW_CLOSE, shadow_id, fees, size, exit_plan)

    def _generic_value(self, gate: str) -> float:
        """A gate the simulator has no model for: scatter around its base threshold, passing ~85% of the time."""
        spec = self.engine.gates_config.gates[gate]
        base = self._base.get(gate, spec.threshold) or 1.0
        k = math.exp(0.3 + 0.3 * self._rng.gauss(0, 1))
        return base * k if spec.direction == "min" else base / k

    def _schedule(self, t: float, kind: int, ident: str, number: float, size: float, plan: PlannedExit) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (t, self._counter, kind, ident, number, size, plan))

    def _close(self, item: _Scheduled) -> None:
        t, _, kind, ident, number, size, plan = item
        ts = self._start_ts + t
        if kind == _SHADOW_CLOSE:
            self.engine.on_shadow_trade_closed(ident, exit_price=plan.price, exit_reason=plan.reason, fees=number,
                                               mfe_bps=plan.mfe_bps, mae_bps=plan.mae_bps, ts=ts)
            return
        slip = abs(self._rng.gauss(0, 1.5)) * (2.5 if plan.reason == "stop_loss" else 1.0)
        filled = plan.price * (1 - number * slip * 1e-4)
        self.engine.on_trade_closed(
            ident, price_requested=plan.price, price_filled=filled, fees=filled * size * FEE_RATE,
            exit_reason=plan.reason, mfe_bps=plan.mfe_bps, mae_bps=plan.mae_bps,
            latency_ms=self._rng.uniform(5, 80), ts=ts)

    def _error(self, t: float) -> None:
        component, error_type, message, severity = self._rng.choice(ERRORS)
        symbol = self._markets[self._rng.randrange(len(self._markets))].symbol
        self.engine.on_error(component, error_type, message=message, symbol=symbol, severity=severity,
                             ts=self.settings.start_ts + t)
