"""The slice of `observability.core.registry.Registry` the Hamilton and Mechanic hooks use.

A Protocol rather than an import: the hooks depend on the registry contract
(REGISTRY_CONTRACT.md), not on its module, so the engine can import the hooks without opening
learning.db, and any object keeping that contract (the real Registry) can be passed in.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from observability.core.schemas import ModelDelta, ModelRecord


class ModelRegistry(Protocol):
    def register_model(
        self, artifact: bytes | Path, *, name: str, metrics: dict[str, float], created_by: str, reason: str = ...,
        parent_model_id: str | None = ..., git_sha: str | None = ..., data_snapshot_id: str | None = ...,
        training_config: dict[str, Any] | None = ..., created_at: datetime | None = ...,
    ) -> ModelRecord: ...

    def get_model(self, model_id_or_prefix_or_alias: str) -> ModelRecord: ...

    def delta(self, model_id: str) -> ModelDelta | None: ...

    def set_alias(
        self, alias: str, model_id: str, *, changed_by: str, reason: str = ..., ts: datetime | None = ...,
    ) -> Any: ...


class ConfigRegistry(Protocol):
    def value_at(self, key: str, ts: datetime) -> Any | None: ...

    def record_config_change(
        self, key: str, old_value: Any, new_value: Any, *, changed_by: str, reason: str = ...,
        gate: str | None = ..., ts: datetime | None = ...,
    ) -> Any: ...
