"""MechanicHook: change a gate threshold or a config value, with who and why, on the record.

Each change goes to the registry's config history first (what was live at any instant,
threshold history per gate) and is then logged as `config_changed`. The hook returns the new
effective config; the engine starts using it (`EngineHook.update_gates`) — the hook never
mutates a config object the engine may still be reading.

At construction the hook also records the config it starts with wherever the registry's last
record differs (the first start, a gates.yaml edited between runs, an environment override):
otherwise "what was live at T" would know only the keys Mechanic once changed, and after an
edit of the file it would keep answering with the value the registry saw last.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from observability.config.gates_config import GateMode, GatesConfig
from observability.core import builders
from observability.integration.errors import HookError, UnknownGateError
from observability.integration.registry_protocol import ConfigRegistry
from observability.integration.sink import LogSink


def _who_why(changed_by: str, reason: str) -> None:
    if not changed_by or not changed_by.strip():
        raise HookError("changed_by must name who makes the change (a person or a job, e.g. 'mechanic:auto-tune')")
    if not reason or not reason.strip():
        raise HookError("reason is required: say why the value changes, it is what the history is read for")


class MechanicHook:
    def __init__(
        self, logger: LogSink, registry: ConfigRegistry | None, gates_config: GatesConfig | None = None,
        *, config_values: Mapping[str, Any] | None = None, baseline_ts: float | None = None,
        baseline_by: str = "config",
    ) -> None:
        """`registry` None logs the changes without keeping a history (no learning.db available).

        With a registry, every gate threshold, per-mode override and config value whose registry
        record (as of `baseline_ts`, default now) differs is recorded and logged as changed by
        `baseline_by` at `baseline_ts`.
        """
        self._lock = threading.RLock()
        """Held over read-modify-write of the config, so two threads' changes never overwrite each other."""
        self._logger = logger
        self._registry = registry
        self._gates = gates_config or GatesConfig()
        self._values: dict[str, Any] = dict(config_values or {})
        if registry is not None:
            self._record_baseline(registry, time.time() if baseline_ts is None else baseline_ts, baseline_by)

    def _live_items(self) -> Iterator[tuple[str, str | None, Any]]:
        """(key, gate, value) of everything this hook can change, as it is now (None: no override)."""
        for name in self._gates.names():
            spec = self._gates.gates[name]
            yield f"gates.{name}.threshold", name, spec.threshold
            for mode in ("scalp", "runner"):
                yield f"gates.{name}.modes.{mode}", name, spec.modes.get(mode)
        for key, value in self._values.items():
            yield key, None, value

    def _record_baseline(self, registry: ConfigRegistry, ts: float, changed_by: str) -> None:
        when = datetime.fromtimestamp(ts, tz=UTC)
        for key, gate, value in self._live_items():
            recorded = registry.value_at(key, when)
            if recorded == value:
                continue
            reason = ("first record of this setting: the value the engine started with" if recorded is None else
                      f"the engine started with {value!r}, the registry last recorded {recorded!r} "
                      "(config file edited or an environment override)")
            self._record(key, recorded, value, changed_by=changed_by, reason=reason, gate=gate,
                         config_hash=self._gates.config_hash() if gate else None, ts=ts)

    @property
    def gates_config(self) -> GatesConfig:
        return self._gates

    @property
    def config_values(self) -> dict[str, Any]:
        return dict(self._values)

    def set_gate_threshold(
        self, gate: str, threshold: float, *, changed_by: str, reason: str, mode: GateMode | None = None,
        ts: float | None = None,
    ) -> GatesConfig:
        """Change one gate's threshold (or its per-mode override); returns the new GatesConfig."""
        _who_why(changed_by, reason)
        if gate not in self._gates.gates:
            raise UnknownGateError(f"unknown gate {gate!r}; configured gates are {self._gates.names()}")
        if mode is not None and mode not in ("scalp", "runner"):
            raise HookError(f"mode must be 'scalp', 'runner' or None, got {mode!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise HookError(f"threshold for gate {gate!r} must be a finite number, got {threshold!r}")
        with self._lock:
            old = self._gates.gates[gate].threshold_for(mode)
            if float(threshold) == old:
                return self._gates
            new_config = self._gates.with_threshold(gate, float(threshold), mode)
            key = f"gates.{gate}.threshold" if mode is None else f"gates.{gate}.modes.{mode}"
            self._record(key, old, float(threshold), changed_by=changed_by, reason=reason, gate=gate,
                         config_hash=new_config.config_hash(), ts=ts)
            self._gates = new_config
            return new_config

    def set_config_value(
        self, key: str, value: Any, *, changed_by: str, reason: str, ts: float | None = None,
    ) -> dict[str, Any]:
        """Change an engine config value (e.g. "risk.max_position"); returns the new effective values."""
        _who_why(changed_by, reason)
        if not key or key.startswith("gates."):
            raise HookError(f"config key {key!r}: use set_gate_threshold for gates, a non-empty dotted key otherwise")
        with self._lock:
            old = self._values.get(key)
            if old == value:
                return dict(self._values)
            self._record(key, old, value, changed_by=changed_by, reason=reason, gate=None, config_hash=None, ts=ts)
            self._values = {**self._values, key: value}
            return dict(self._values)

    def _record(
        self, key: str, old: Any, new: Any, *, changed_by: str, reason: str, gate: str | None,
        config_hash: str | None, ts: float | None,
    ) -> None:
        event = builders.config_changed(key=key, old_value=old, new_value=new, changed_by=changed_by, reason=reason,
                                        gate=gate, config_hash=config_hash, ts_event=ts)
        if self._registry is not None:
            when = datetime.fromtimestamp(event["ts_event"], tz=UTC)
            self._registry.record_config_change(key, old, new, changed_by=changed_by, reason=reason, gate=gate,
                                                ts=when)
        self._logger.log(event)
