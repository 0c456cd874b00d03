"""HamiltonHook: register a trained model in the registry and log `model_updated` with its delta.

The registry is the record (content hash, lineage, metrics, git SHA, data snapshot); the event
is the notification that the TUI and reports see. The registry call comes first, so an event
never names a model the registry does not hold.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from observability.core import builders
from observability.core.schemas import ModelRecord
from observability.integration.errors import HookError
from observability.integration.registry_protocol import ModelRegistry
from observability.integration.sink import LogSink


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise HookError(f"metric {key!r} must be a finite number, got {value!r}")
        out[key] = float(value)
    return out


class HamiltonHook:
    def __init__(self, logger: LogSink, registry: ModelRegistry, *, created_by: str = "hamilton") -> None:
        if not created_by:
            raise HookError("created_by must name who trains the models")
        self._logger = logger
        self._registry = registry
        self._created_by = created_by

    def on_model_trained(
        self, artifact: bytes | Path, *, name: str, metrics: Mapping[str, float], parent_model_id: str | None = None,
        data_snapshot_id: str | None = None, git_sha: str | None = None, reason: str = "",
        training_config: dict[str, Any] | None = None, promote_to: str | None = None, ts: float | None = None,
    ) -> ModelRecord:
        """Register the model (idempotent), optionally move `promote_to` (e.g. "champion") to it, log it."""
        clean = _metrics(metrics)
        created_at = datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None
        record = self._registry.register_model(
            artifact, name=name, metrics=clean, created_by=self._created_by, reason=reason,
            parent_model_id=parent_model_id, git_sha=git_sha, data_snapshot_id=data_snapshot_id,
            training_config=training_config, created_at=created_at,
        )
        if promote_to:
            self._registry.set_alias(promote_to, record.model_id, changed_by=self._created_by, reason=reason,
                                     ts=created_at)
        self._log(record, alias=promote_to, reason=reason, ts=ts)
        return record

    def promote(self, alias: str, model_id: str, *, reason: str, ts: float | None = None) -> ModelRecord:
        """Point `alias` at an already registered model and log the move."""
        if not reason:
            raise HookError(f"say why {model_id!r} becomes {alias!r}: reason is required")
        record = self._registry.get_model(model_id)
        when = datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None
        self._registry.set_alias(alias, record.model_id, changed_by=self._created_by, reason=reason, ts=when)
        self._log(record, alias=alias, reason=reason, ts=ts)
        return record

    def _log(self, record: ModelRecord, *, alias: str | None, reason: str, ts: float | None) -> None:
        delta = self._registry.delta(record.model_id)
        self._logger.log(builders.model_updated(
            model_id=record.model_id, metrics=record.metrics, parent_model_id=record.parent_model_id,
            metrics_before=delta.metrics_before if delta is not None else None, alias=alias,
            git_sha=record.git_sha, data_snapshot_id=record.data_snapshot_id, reason=reason, ts_event=ts,
        ))
