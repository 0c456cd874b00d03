"""Market snapshots per symbol through the logger, at a bounded rate.

The engine may call `offer()` on every tick; at most one snapshot per symbol per `min_interval_s`
(measured on the snapshot's own timestamp, so replays at any speed keep the same density) is
built and logged. A refused call costs one dict lookup and a float compare — no event is built —
and is counted, so the rate limit is visible in `stats()`.
Not thread-safe by design (the engine loop is single-threaded); use one instance per thread.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from observability.analytics.evidence import Fact, fact
from observability.core import builders

if TYPE_CHECKING:  # the engine hook imports this module: no import cycle through integration/
    from observability.integration.sink import LogSink


class MarketContextStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    logged: int
    skipped: int
    """Calls refused by the per-symbol interval (cheap, expected)."""
    rejected: int
    """Snapshots the logger itself dropped (queue full): a sign of overload."""
    skipped_by_symbol: dict[str, int]

    def to_facts(self) -> list[Fact]:
        return (fact("market_context.logged", "market snapshots logged", self.logged, "count", 0)
                + fact("market_context.skipped", "market snapshots skipped by the rate limit", self.skipped,
                       "count", 0)
                + fact("market_context.rejected", "market snapshots dropped by the logger", self.rejected,
                       "count", 0))


class MarketContextLogger:
    def __init__(self, sink: LogSink, *, min_interval_s: float = 1.0) -> None:
        if not min_interval_s >= 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s!r}")
        self._sink = sink
        self.min_interval_s = min_interval_s
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}
        self._logged = 0
        self._rejected = 0

    def offer(self, symbol: str, *, price: float, spread_bps: float, volatility_bps: float,
              ts: float | None = None, **extra: Any) -> bool:
        """Log a snapshot unless this symbol had one less than `min_interval_s` ago; True if accepted.

        `extra` takes the optional MarketContext fields (bid, ask, volume_1m, liquidity_usd, regime,
        funding_rate, trace_id).
        """
        now = time.time() if ts is None else ts
        last = self._last.get(symbol)
        if last is not None and now - last < self.min_interval_s:
            self._skipped[symbol] = self._skipped.get(symbol, 0) + 1
            return False
        event = builders.market_context(symbol=symbol, price=price, spread_bps=spread_bps,
                                        volatility_bps=volatility_bps, ts_event=now, **extra)
        self._last[symbol] = now
        if self._sink.log(event):
            self._logged += 1
            return True
        self._rejected += 1
        return False

    def stats(self) -> MarketContextStats:
        return MarketContextStats(logged=self._logged, skipped=sum(self._skipped.values()), rejected=self._rejected,
                                  skipped_by_symbol=dict(self._skipped))
