"""configs/observability.yaml: the logger, writer, storage and alert settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from observability.config.loader import load_yaml_model


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierConfig(_Cfg):
    """Fill ratio from which each severity is dropped; CRITICAL is never dropped."""

    debug: float = Field(0.80, gt=0, le=1)
    info: float = Field(0.90, gt=0, le=1)
    warning: float = Field(1.0, gt=0, le=1)
    error: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierConfig:
        if not self.debug <= self.info <= self.warning <= self.error:
            raise ValueError("tiers must satisfy debug <= info <= warning <= error")
        return self


class KillSwitchConfig(_Cfg):
    fire_at: float = Field(0.95, gt=0, le=1)
    reset_below: float = Field(0.50, ge=0, lt=1)

    @model_validator(mode="after")
    def _hysteresis(self) -> KillSwitchConfig:
        if self.reset_below >= self.fire_at:
            raise ValueError("reset_below must be lower than fire_at (hysteresis)")
        return self


class QueueConfig(_Cfg):
    maxsize: int = Field(10_000, ge=10, le=10_000_000)
    tiers: TierConfig = TierConfig()
    kill_switch: KillSwitchConfig = KillSwitchConfig()


class WriterConfig(_Cfg):
    batch_max_events: int = Field(5_000, ge=1, le=100_000)
    batch_max_seconds: float = Field(1.0, gt=0, le=60)
    linger_seconds: float = Field(0.005, ge=0, le=1)
    """How long the writer waits for more events before committing a partial batch."""
    target_latency_seconds: float = Field(0.05, gt=0, le=60)
    """Commit at least this often while events keep arriving, so readers see them promptly."""
    chunk_events: int = Field(256, ge=1, le=10_000)
    """Events serialised per event-loop callback in the engine: bounds the loop stall per callback."""
    synchronous: str = Field("NORMAL", pattern="^(NORMAL|FULL)$")
    close_timeout_seconds: float = Field(10.0, gt=0, le=600)
    health_interval_seconds: float = Field(1.0, gt=0, le=60)


class RetentionConfig(_Cfg):
    live_hot_hours: float = Field(24.0, gt=0)
    prune_batch_rows: int = Field(20_000, ge=100)
    health_keep_hours: float = Field(72.0, gt=0)
    prune_every_seconds: float = Field(300.0, gt=0)


class ExportConfig(_Cfg):
    enabled: bool = True
    every_seconds: float = Field(60.0, gt=0)
    every_rows: int = Field(250_000, ge=1)
    uri: str | None = None
    """Optional pyarrow filesystem URI (e.g. s3://bucket/prefix); default is <data_dir>/parquet/events."""
    compact_every_seconds: float = Field(3600.0, gt=0)
    spool: bool = True
    """The writer keeps typed copies of committed rows for the exporter (`core.io.spool`): ~2 µs/event
    more in the writer, ~4 µs/row less in the export. live.db stays the truth either way."""


class AlertConfig(_Cfg):
    cooldown_seconds: float = Field(300.0, ge=0)
    warn_fill: float = Field(0.80, gt=0, le=1)
    writer_lag_warn_seconds: float = Field(5.0, gt=0)
    drop_rate_warn_per_s: float = Field(1.0, ge=0)


class ObservabilityConfig(_Cfg):
    data_dir: str | None = None
    queue: QueueConfig = QueueConfig()
    writer: WriterConfig = WriterConfig()
    retention: RetentionConfig = RetentionConfig()
    export: ExportConfig = ExportConfig()
    alerts: AlertConfig = AlertConfig()


DEFAULT_PATH = Path("configs/observability.yaml")


def load_observability_config(path: str | Path | None = None) -> ObservabilityConfig:
    """Load configs/observability.yaml (defaults when the default file is absent) with HURACAN_OBS__ overrides."""
    if path is None:
        return load_yaml_model(DEFAULT_PATH, ObservabilityConfig, env_prefix="OBS", missing_ok=True)
    return load_yaml_model(path, ObservabilityConfig, env_prefix="OBS")
