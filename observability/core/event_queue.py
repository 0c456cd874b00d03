"""The engine-side bounded queue: severity tiers, the kill switch and drop accounting.

Kept free of I/O and of asyncio so that the same object serves the async and the threaded
logger, and so that a reference-model test can drive it directly.

Depth counts events accepted but not yet handed to the writer process: those in the deque plus
the chunk being written to the pipe. Each severity has an absolute depth limit derived from its
tier; CRITICAL has none (it is the reserved lane the bound does not apply to). The kill switch
fires once when depth reaches `fire_at` and re-arms only when depth falls below `reset_below`
(hysteresis) or on an explicit reset.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from observability.config.observability_config import QueueConfig
from observability.core import builders

_UNBOUNDED = 1 << 62


def _severity_of(event: Any) -> str:
    if type(event) is dict:
        return str(event.get("severity", "INFO"))
    return str(getattr(event, "severity", "INFO"))


def _type_of(event: Any) -> str:
    if type(event) is dict:
        return str(event.get("event_type", "?"))
    return str(getattr(event, "event_type", "?"))


class EventQueue:
    """Bounded, tiered FIFO of (event, ts_logged) pairs. `put` never blocks and never raises."""

    def __init__(self, config: QueueConfig, on_fire: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.maxsize = config.maxsize
        tiers = config.tiers
        self._limits: dict[str, int] = {
            "DEBUG": int(self.maxsize * tiers.debug),
            "INFO": int(self.maxsize * tiers.info),
            "WARNING": int(self.maxsize * tiers.warning),
            "ERROR": int(self.maxsize * tiers.error),
            "CRITICAL": _UNBOUNDED,
        }
        self._default_limit = self._limits["INFO"]
        self.fire_depth = max(1, int(self.maxsize * config.kill_switch.fire_at))
        self.reset_depth = int(self.maxsize * config.kill_switch.reset_below)
        self._dq: deque[tuple[Any, ...]] = deque()
        self.pending = 0
        """Events taken from the deque but not yet fully handed to the writer."""
        self.taken_total = 0
        self.dropped_by_severity: dict[str, int] = {}
        self.dropped_by_type: dict[str, int] = {}
        self.dropped_total = 0
        self.kill_switch_active = False
        self.kill_switch_fired_total = 0
        self._on_fire = on_fire
        self._lock = threading.Lock()

    # -- hot path -------------------------------------------------------------------------------

    def put(self, event: Any) -> bool:
        """Accept `event` unless its tier is full; return False when it was dropped."""
        dq = self._dq
        depth = len(dq) + self.pending
        sev = event.get("severity", "INFO") if type(event) is dict else getattr(event, "severity", "INFO")
        try:
            limit = self._limits.get(sev, self._default_limit)
        except TypeError:  # an unhashable severity: judged as INFO here, dead-lettered by the writer
            limit = self._default_limit
        if depth >= limit:
            self._drop(sev, event)
            if depth >= self.fire_depth and not self.kill_switch_active:
                self._fire(depth)
            return False
        dq.append((event, time.time()))
        if depth + 1 >= self.fire_depth and not self.kill_switch_active:
            self._fire(depth + 1)
        return True

    def put_critical(self, event: Any) -> None:
        """Internal events (kill switch, health alerts) that must never be dropped."""
        self._dq.append((event, time.time()))

    # -- drain side (one drainer at a time) --------------------------------------------------------

    def put_durable(self, event: Any, waiter: Any) -> None:
        """The never-drop lane for log_durable(): the caller waits, which is its own back-pressure."""
        self._dq.append((event, time.time(), waiter))

    def take(self, n: int) -> list[tuple[Any, ...]]:
        """Take up to n items; they count as `pending` (still in depth) until `handed()`."""
        dq = self._dq
        k = min(n, len(dq))
        items = [dq.popleft() for _ in range(k)]
        self.taken_total += k
        self.pending = k
        return items

    def handed(self) -> None:
        """The taken chunk reached the writer (or its in-flight list): depth falls, the switch may re-arm."""
        self.pending = 0
        if self.kill_switch_active and len(self._dq) < self.reset_depth:
            self.reset_kill_switch(reason=f"queue depth fell below {self.reset_depth}")

    def close(self) -> None:
        """From now on every put() is refused (and counted as a drop): the logger is closed."""
        self._limits = dict.fromkeys(self._limits, -1)
        self._default_limit = -1

    def fail_waiters(self, items: list[tuple[Any, ...]], exc: BaseException) -> None:
        """log_durable() callers of items that will never be written learn it now."""
        for item in items:
            if len(item) == 3 and not item[2].done():
                item[2].set_exception(exc)

    def reset_kill_switch(self, *, reason: str = "explicit reset") -> None:
        with self._lock:
            if not self.kill_switch_active:
                return
            self.kill_switch_active = False
        self.put_critical(builders.kill_switch(
            action="reset", fill_ratio=self.fill_ratio, queue_depth=self.depth,
            threshold=self.reset_depth / self.maxsize, reason=reason,
        ))

    # -- state ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._dq)

    @property
    def depth(self) -> int:
        return len(self._dq) + self.pending

    @property
    def fill_ratio(self) -> float:
        return self.depth / self.maxsize

    @property
    def accepted_total(self) -> int:
        """Accepted events (including internal ones): everything taken plus what is still queued."""
        return self.taken_total + len(self._dq)

    def limit_for(self, severity: str) -> int:
        return self._limits.get(severity, self._default_limit)

    # -- slow paths -------------------------------------------------------------------------------

    def _drop(self, sev: Any, event: Any) -> None:
        key = str(sev)
        etype = _type_of(event)
        with self._lock:
            self.dropped_total += 1
            self.dropped_by_severity[key] = self.dropped_by_severity.get(key, 0) + 1
            self.dropped_by_type[etype] = self.dropped_by_type.get(etype, 0) + 1

    def _fire(self, depth: int) -> None:
        with self._lock:
            if self.kill_switch_active:
                return
            self.kill_switch_active = True
            self.kill_switch_fired_total += 1
        info = builders.kill_switch(
            action="fired", fill_ratio=depth / self.maxsize, queue_depth=depth,
            threshold=self.fire_depth / self.maxsize,
            reason=f"logger queue reached {depth}/{self.maxsize} events; the writer is not keeping up",
        )
        self.put_critical(info)
        if self._on_fire is not None:
            self._on_fire(info)
