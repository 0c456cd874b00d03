"""Simulated markets: one random-walk price path per symbol on a 1-second grid, with regimes.

The path is generated ahead in numpy chunks, so a trade's whole future (its exit, MFE and MAE)
is decided at entry by a vectorised scan of the same path every other trade and shadow trade on
that symbol sees. Real and shadow outcomes are therefore comparable: a blocked signal's shadow
walks exactly the prices the trade would have walked.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

TREND, CHOP, HIGH_VOL = 0, 1, 2
REGIMES: Final = ("trend", "chop", "high_vol")
_VOL_BPS: Final = (1.8, 1.2, 4.5)
"""Per-second volatility (bps) of each regime, before the symbol's own scale."""
_DRIFT_BPS: Final = 0.12
_MEAN_REGIME_S: Final = 600.0
_CHUNK: Final = 4096


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    price: float
    spread_mult: float
    liquidity_mult: float
    vol_mult: float


PROFILES: Final[dict[str, SymbolProfile]] = {
    "BTC/USDT": SymbolProfile(65_000.0, 0.7, 3.0, 1.0),
    "ETH/USDT": SymbolProfile(3_400.0, 0.9, 2.0, 1.2),
    "SOL/USDT": SymbolProfile(150.0, 1.15, 0.9, 1.6),
    "BNB/USDT": SymbolProfile(600.0, 1.0, 1.1, 1.1),
    "XRP/USDT": SymbolProfile(0.55, 1.1, 1.0, 1.4),
    "DOGE/USDT": SymbolProfile(0.12, 1.3, 0.8, 2.0),
}


def profile_for(symbol: str) -> SymbolProfile:
    """Known symbols have hand-picked profiles; any other gets a stable one derived from its name."""
    known = PROFILES.get(symbol)
    if known is not None:
        return known
    h = zlib.crc32(symbol.encode())
    return SymbolProfile(1.0 + h % 500, 1.0 + (h >> 9) % 40 / 100, 0.6 + (h >> 15) % 80 / 100,
                         1.0 + (h >> 22) % 100 / 100)


@dataclass(frozen=True, slots=True)
class ExitRule:
    """Exit levels of one mode, in bps of the entry price; `trail` follows the best price once `trail_from` is hit."""

    take_profit: float
    stop_loss: float
    trail_from: float
    trail: float
    min_hold: int
    max_hold: int

    def scaled(self, hold_scale: float) -> ExitRule:
        """Shorter holds (to bound open positions at high rates) with levels shrunk like volatility, by sqrt."""
        if hold_scale >= 1.0:
            return self
        k = hold_scale ** 0.5
        return ExitRule(self.take_profit * k, self.stop_loss * k, self.trail_from * k, self.trail * k,
                        max(1, int(self.min_hold * hold_scale)), max(2, int(self.max_hold * hold_scale)))


class PlannedExit(NamedTuple):
    """A tuple, not a dataclass: two or three are made per signal, and a tuple is built in one step."""

    steps: int
    price: float
    reason: str
    mfe_bps: float
    mae_bps: float


@dataclass(frozen=True, slots=True)
class _ExitTable:
    """First crossings of every exit level over the longest hold from one entry second, both sides."""

    rule: ExitRule
    index: int
    stride: int
    path: list[float]
    high: list[float]
    neg_low: list[float]
    """Lists, not arrays: each signal reads a few items, and list items are Python floats already."""
    long_first: tuple[int, str]
    """The earliest (step, reason) of take profit, stop loss and trailing stop for a long."""
    short_first: tuple[int, str]


class SymbolMarket:
    """Price path and regime of one symbol, extended lazily and trimmed behind the clock."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol = symbol
        self.profile = profile_for(symbol)
        self._rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(symbol.encode())]))
        self._offset = 0
        self._prices: npt.NDArray[np.float64] = np.array([self.profile.price])
        self._regimes: npt.NDArray[np.int8] = np.array([CHOP], dtype=np.int8)
        self._price_list: list[float] = self._prices.tolist()
        self._regime_list: list[int] = self._regimes.tolist()
        """The same path as lists, for the per-signal reads (a list item is ~5x cheaper than an array item)."""
        self._regime = CHOP
        self._regime_left = 0
        self._direction = 1.0
        self._tables: dict[int, _ExitTable] = {}
        """By id(rule), checked with `is`: hashing a frozen dataclass per signal costs more than the lookup."""

    def _extend(self) -> None:
        n = _CHUNK
        regimes = np.empty(n, dtype=np.int8)
        drift = np.empty(n)
        i = 0
        while i < n:
            if self._regime_left <= 0:
                self._regime = int(self._rng.choice(3, p=(0.4, 0.45, 0.15)))
                self._regime_left = max(30, int(self._rng.exponential(_MEAN_REGIME_S)))
                self._direction = 1.0 if self._rng.random() < 0.5 else -1.0
            take = min(self._regime_left, n - i)
            regimes[i:i + take] = self._regime
            drift[i:i + take] = _DRIFT_BPS * self._direction if self._regime == TREND else 0.0
            self._regime_left -= take
            i += take
        vol = np.asarray(_VOL_BPS)[regimes] * self.profile.vol_mult
        steps = (drift + vol * self._rng.standard_normal(n)) * 1e-4
        path = self._prices[-1] * np.exp(np.cumsum(steps))
        self._prices = np.concatenate((self._prices, path))
        self._regimes = np.concatenate((self._regimes, regimes))
        self._price_list += path.tolist()
        self._regime_list += regimes.tolist()

    def _ensure(self, index: int) -> None:
        while index - self._offset >= len(self._prices):
            self._extend()

    def trim(self, before: int) -> None:
        """Forget the path before `before` (a trade's future is planned at entry, so the past is never read)."""
        cut = before - self._offset
        if cut > 2 * _CHUNK:
            self._prices = self._prices[cut:]
            self._regimes = self._regimes[cut:]
            del self._price_list[:cut], self._regime_list[:cut]
            self._offset = before

    def price(self, index: int) -> float:
        i = index - self._offset
        if i >= len(self._price_list):
            self._ensure(index)
        return self._price_list[i]

    def regime(self, index: int) -> int:
        i = index - self._offset
        if i >= len(self._regime_list):
            self._ensure(index)
        return self._regime_list[i]

    def future_return_bps(self, index: int, horizon: int) -> float:
        return (self.price(index + horizon) / self.price(index) - 1.0) * 1e4

    def plan_exits(self, index: int, rule: ExitRule, hold: int, reversal: int | None,
                   stride: int = 1) -> tuple[PlannedExit, PlannedExit]:
        """The first exit that fires for a long and for a short entered at `index` and held at most `hold` s."""
        table = self._tables.get(id(rule))
        if table is None or table.index != index or table.rule is not rule:
            table = self._tables[id(rule)] = self._exit_table(index, rule, stride)
        step_s = table.stride
        path, high, neg_low = table.path, table.high, table.neg_low
        end = max(0, min(hold // step_s, len(path)) - 1)
        rev = end + 1 if reversal is None else max(0, min(end, reversal // step_s - 1))
        step, reason = min((end, "timeout"), (rev, "signal_reversal"), table.long_first)
        long_plan = PlannedExit((step + 1) * step_s, path[step], reason, max(high[step], 0.0),
                                min(-neg_low[step], 0.0))
        step, reason = min((end, "timeout"), (rev, "signal_reversal"), table.short_first)
        return long_plan, PlannedExit((step + 1) * step_s, path[step], reason, max(neg_low[step], 0.0),
                                      min(-high[step], 0.0))

    def _exit_table(self, index: int, rule: ExitRule, stride: int) -> _ExitTable:
        """Walk the longest hold after `index` once; every signal at this second and mode reuses it.

        Running max/min of the return make "first crossing" a binary search (`searchsorted`), so a
        one-hour runner costs a handful of array operations; `stride` checks every n-th second.
        """
        stride = max(1, min(stride, rule.min_hold // 20))
        self._ensure(index + rule.max_hold)
        start = index - self._offset
        entry = self._prices[start]
        path = self._prices[start + stride:start + rule.max_hold + 1:stride]
        rel = (path / entry - 1.0) * 1e4
        high = np.maximum.accumulate(rel)
        neg_low = -np.minimum.accumulate(rel)
        n = len(rel)
        sides = []
        for best, worst, pullback in ((high, neg_low, high - rel), (neg_low, high, rel + neg_low)):
            armed = int(np.searchsorted(best, rule.trail_from))
            trail = n
            if armed < n:
                hit = pullback[armed:] >= rule.trail
                k = int(hit.argmax())
                if hit[k]:
                    trail = armed + k
            sides.append(min((int(np.searchsorted(best, rule.take_profit)), "take_profit"),
                             (int(np.searchsorted(worst, rule.stop_loss)), "stop_loss"), (trail, "trailing_stop")))
        return _ExitTable(rule, index, stride, path.tolist(), high.tolist(), neg_low.tolist(), sides[0], sides[1])
