"""Event schemas: the single source of truth for the event envelope and every payload.

Every event is one Pydantic model; `Event` is the discriminated union on `event_type`.
SQL DDL (`live_store`) and Arrow schemas (exporter) are derived from these models, not copied.

Timestamps travel as float unix seconds (UTC) on the wire because the hot path cannot afford
`datetime` formatting; Pydantic turns them into aware UTC datetimes in the writer. In SQLite
and Parquet they are stored as integer microseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from observability.errors import LeakageError, SchemaVersionError

CURRENT_EVENT_VERSION: Final = 1
MAX_EVENT_BYTES: Final = 64 * 1024
"""An event whose JSON exceeds this is dead-lettered: a runaway payload must not bloat the feed."""


class Severity(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


SEVERITY_LEVEL: Final[dict[str, int]] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


class Source(StrEnum):
    ENGINE = "engine"
    HAMILTON = "hamilton"
    MECHANIC = "mechanic"
    OBSERVABILITY = "observability"


Mode = Literal["scalp", "runner", "none"]
Side = Literal["long", "short"]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Metrics = dict[Annotated[str, StringConstraints(max_length=100)], FiniteFloat]

EXIT_REASONS: Final = ("take_profit", "stop_loss", "trailing_stop", "timeout", "signal_reversal",
                       "manual", "kill_switch")
ExitReason = Literal["take_profit", "stop_loss", "trailing_stop", "timeout", "signal_reversal",
                     "manual", "kill_switch"]


class _Model(BaseModel):
    # defer_build: validators are built on first use, not at import (0.27 s -> 0.06 s), so readers such
    # as the TUI that never validate most event types start faster.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False, defer_build=True)


# ---------------------------------------------------------------- sub-models


class GateDecision(_Model):
    """One gate's verdict on one signal, with the numbers that decided it.

    `direction` says which side of the threshold passes: "min" passes when value >= threshold,
    "max" when value <= threshold. `margin` is signed so that positive always means "passed by".
    """

    gate: Ident
    passed: bool
    value: FiniteFloat
    threshold: FiniteFloat
    direction: Literal["min", "max"]
    margin: FiniteFloat
    reason: Text = ""
    gate_order: int = Field(default=0, ge=0, le=32)


class Counterfactual(_Model):
    """What an alternative threshold would have done for one decision."""

    gate: Ident
    threshold: FiniteFloat
    alternative_threshold: FiniteFloat
    would_pass: bool
    outcome_pnl_bps: FiniteFloat | None = None


class TradeExecution(_Model):
    """A fill: requested versus filled price and size, fees and slippage."""

    order_id: Ident
    side: Literal["buy", "sell"]
    price_requested: Positive
    price_filled: Positive
    size_requested: Positive
    size_filled: NonNegative
    fees: NonNegative
    fee_currency: ShortText = "USDT"
    slippage_bps: FiniteFloat
    venue: ShortText = "sim"
    latency_ms: NonNegative | None = None


class MarketContext(_Model):
    """A market snapshot for one symbol at one instant."""

    price: Positive
    bid: Positive | None = None
    ask: Positive | None = None
    spread_bps: NonNegative
    volatility_bps: NonNegative
    volume_1m: NonNegative = 0.0
    liquidity_usd: NonNegative = 0.0
    regime: ShortText = "unknown"
    funding_rate: FiniteFloat | None = None


class DecisionStep(_Model):
    """One step of a decision timeline, as analytics reconstruct it."""

    ts: AwareDatetime
    stage: ShortText
    event_type: ShortText
    summary: Text
    latency_ms: float | None = None
    seq: int | None = None
    event_id: str | None = None


class DecisionTrace(_Model):
    """The timeline of one trace_id: signal -> gates -> execution -> close (or shadow outcome)."""

    trace_id: Ident
    symbol: str | None = None
    mode: str | None = None
    outcome: ShortText = "pending"
    steps: list[DecisionStep] = Field(default_factory=list)


class ModelDelta(_Model):
    """Metrics of a model before and after an update; `changes()` gives after - before."""

    model_id: Ident
    parent_model_id: Ident | None = None
    metrics_before: Metrics = Field(default_factory=dict)
    metrics_after: Metrics = Field(default_factory=dict)

    def changes(self) -> dict[str, float]:
        keys = self.metrics_before.keys() & self.metrics_after.keys()
        return {k: self.metrics_after[k] - self.metrics_before[k] for k in sorted(keys)}


# ---------------------------------------------------------------- payloads


def _check_leakage(
    feature_ts: Mapping[str, datetime], decision_ts: datetime | None, label_cutoff: datetime | None
) -> None:
    if decision_ts is None:
        if feature_ts or label_cutoff is not None:
            raise LeakageError("decision_timestamp is required when features or labels are present")
        return
    late = {k: v for k, v in feature_ts.items() if v > decision_ts}
    if late:
        name, ts = min(late.items(), key=lambda kv: kv[1])
        raise LeakageError(
            f"leakage: feature_ts[{name!r}]={ts.isoformat()} is after decision_timestamp="
            f"{decision_ts.isoformat()} ({len(late)} feature(s) from the future); features must be "
            "observed at or before the decision"
        )
    if label_cutoff is not None and decision_ts > label_cutoff:
        raise LeakageError(
            f"leakage: decision_timestamp={decision_ts.isoformat()} is after label_cutoff="
            f"{label_cutoff.isoformat()}; labels must be cut off at or after the decision"
        )


class _LeakageChecked(_Model):
    """Payloads that carry features or labels: feature_ts <= decision_timestamp <= label_cutoff."""

    decision_timestamp: AwareDatetime | None = None
    feature_ts: dict[Ident, AwareDatetime] = Field(default_factory=dict)
    label_cutoff: AwareDatetime | None = None

    @model_validator(mode="after")
    def _no_leakage(self) -> _LeakageChecked:
        if self.feature_ts or self.label_cutoff is not None:
            _check_leakage(self.feature_ts, self.decision_timestamp, self.label_cutoff)
        return self


class SignalReceivedPayload(_LeakageChecked):
    signal_id: Ident
    side: Side
    confidence: Probability
    price: Positive
    model_id: Ident
    strategy: ShortText = "default"
    features: dict[Ident, FiniteFloat] = Field(default_factory=dict)


class GateDecisionPayload(GateDecision):
    signal_id: Ident | None = None


class TradeOpenedPayload(_Model):
    trade_id: Ident
    signal_id: Ident | None = None
    side: Side
    execution: TradeExecution
    model_id: Ident
    model_confidence: Probability | None = None
    stop_loss: Positive | None = None
    take_profit: Positive | None = None
    thresholds: dict[Ident, FiniteFloat] = Field(default_factory=dict)
    config_hash: ShortText | None = None
    git_sha: ShortText | None = None
    data_snapshot_id: ShortText | None = None


class TradeClosedPayload(_LeakageChecked):
    trade_id: Ident
    side: Side
    entry_price: Positive
    exit_price: Positive
    size: Positive
    pnl_gross: FiniteFloat
    fees: NonNegative
    pnl_net: FiniteFloat
    pnl_bps: FiniteFloat
    hold_seconds: NonNegative
    exit_reason: ExitReason
    mfe_bps: FiniteFloat = 0.0
    mae_bps: FiniteFloat = 0.0
    exit_execution: TradeExecution | None = None


class ShadowTradeOpenedPayload(_Model):
    shadow_id: Ident
    signal_id: Ident | None = None
    side: Side
    entry_price: Positive
    size: Positive
    blocked_by: list[Ident] = Field(default_factory=list)
    counterfactuals: list[Counterfactual] = Field(default_factory=list)


class ShadowTradeClosedPayload(_Model):
    shadow_id: Ident
    side: Side
    entry_price: Positive
    exit_price: Positive
    size: Positive
    pnl: FiniteFloat
    pnl_bps: FiniteFloat
    hold_seconds: NonNegative
    exit_reason: ExitReason
    blocked_by: list[Ident] = Field(default_factory=list)
    mfe_bps: FiniteFloat = 0.0
    mae_bps: FiniteFloat = 0.0


class MarketContextPayload(MarketContext):
    pass


class ModelUpdatedPayload(_Model):
    model_id: Ident
    parent_model_id: Ident | None = None
    alias: ShortText | None = None
    metrics: Metrics = Field(default_factory=dict)
    delta: ModelDelta | None = None
    git_sha: ShortText | None = None
    data_snapshot_id: ShortText | None = None
    reason: Text = ""


class ConfigChangedPayload(_Model):
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    old_value: Any = None
    new_value: Any = None
    gate: Ident | None = None
    changed_by: ShortText
    reason: Text = ""
    config_hash: ShortText | None = None


class ErrorPayload(_Model):
    component: ShortText
    error_type: ShortText
    message: Text
    recoverable: bool = True
    traceback: Annotated[str, StringConstraints(max_length=16000)] | None = None


class HealthPayload(_Model):
    status: Literal["ok", "degraded", "critical"]
    queue_depth: int = Field(ge=0)
    fill_ratio: NonNegative
    dropped: dict[str, int] = Field(default_factory=dict)
    writer_lag_s: NonNegative = 0.0
    events_per_s: NonNegative = 0.0
    kill_switch: bool = False
    message: Text = ""


class KillSwitchPayload(_Model):
    action: Literal["fired", "reset"]
    fill_ratio: NonNegative
    queue_depth: int = Field(ge=0)
    threshold: NonNegative
    reason: Text = ""


# ---------------------------------------------------------------- envelope


class EventEnvelope(_Model):
    """Fields every event has. `seq` is assigned by the store and is not part of the wire event."""

    event_id: Annotated[str, StringConstraints(min_length=8, max_length=64)]
    event_version: Literal[1] = CURRENT_EVENT_VERSION
    severity: Severity = Severity.INFO
    ts_event: AwareDatetime
    ts_logged: AwareDatetime | None = None
    source: Source = Source.ENGINE
    symbol: Annotated[str, StringConstraints(max_length=40)] | None = None
    mode: Mode = "none"
    trace_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class SignalReceived(EventEnvelope):
    event_type: Literal["signal_received"] = "signal_received"
    payload: SignalReceivedPayload


class GateDecisionEvent(EventEnvelope):
    event_type: Literal["gate_decision"] = "gate_decision"
    payload: GateDecisionPayload


class TradeOpened(EventEnvelope):
    event_type: Literal["trade_opened"] = "trade_opened"
    payload: TradeOpenedPayload


class TradeClosed(EventEnvelope):
    event_type: Literal["trade_closed"] = "trade_closed"
    payload: TradeClosedPayload


class ShadowTradeOpened(EventEnvelope):
    event_type: Literal["shadow_trade_opened"] = "shadow_trade_opened"
    payload: ShadowTradeOpenedPayload


class ShadowTradeClosed(EventEnvelope):
    event_type: Literal["shadow_trade_closed"] = "shadow_trade_closed"
    payload: ShadowTradeClosedPayload


class MarketContextEvent(EventEnvelope):
    event_type: Literal["market_context"] = "market_context"
    payload: MarketContextPayload


class ModelUpdated(EventEnvelope):
    event_type: Literal["model_updated"] = "model_updated"
    payload: ModelUpdatedPayload


class ConfigChanged(EventEnvelope):
    event_type: Literal["config_changed"] = "config_changed"
    payload: ConfigChangedPayload


class ErrorEvent(EventEnvelope):
    event_type: Literal["error"] = "error"
    payload: ErrorPayload


class HealthEvent(EventEnvelope):
    event_type: Literal["health"] = "health"
    payload: HealthPayload


class KillSwitchEvent(EventEnvelope):
    event_type: Literal["kill_switch"] = "kill_switch"
    payload: KillSwitchPayload


EVENT_CLASSES: Final[tuple[type[EventEnvelope], ...]] = (
    SignalReceived, GateDecisionEvent, TradeOpened, TradeClosed, ShadowTradeOpened, ShadowTradeClosed,
    MarketContextEvent, ModelUpdated, ConfigChanged, ErrorEvent, HealthEvent, KillSwitchEvent,
)
EVENT_TYPES: Final[tuple[str, ...]] = tuple(
    c.model_fields["event_type"].default for c in EVENT_CLASSES
)
PAYLOAD_CLASSES: Final[dict[str, type[BaseModel]]] = {
    c.model_fields["event_type"].default: c.model_fields["payload"].annotation  # type: ignore[misc]
    for c in EVENT_CLASSES
}

Event = Annotated[
    SignalReceived | GateDecisionEvent | TradeOpened | TradeClosed | ShadowTradeOpened
    | ShadowTradeClosed | MarketContextEvent | ModelUpdated | ConfigChanged | ErrorEvent
    | HealthEvent | KillSwitchEvent,
    Field(discriminator="event_type"),
]
EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event, config=ConfigDict(defer_build=True))
EVENT_LIST_ADAPTER: Final[TypeAdapter[list[Event]]] = TypeAdapter(list[Event], config=ConfigDict(defer_build=True))


def parse_event(data: Mapping[str, Any] | bytes | str) -> Event:
    """Validate one event (dict or JSON), upgrading older versions first."""
    if isinstance(data, bytes | str):
        return EVENT_ADAPTER.validate_json(data)
    return EVENT_ADAPTER.validate_python(upgrade_event_dict(data))


# ---------------------------------------------------------------- records (not events)


class TradeRecord(_Model):
    """A trade as the journal keeps it: entry and exit joined, with its lineage."""

    trade_id: Ident
    trace_id: str | None = None
    symbol: str
    mode: Mode
    side: Side
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    entry_price: Positive
    exit_price: Positive | None = None
    size: Positive
    fees: NonNegative = 0.0
    slippage_bps: FiniteFloat = 0.0
    pnl_gross: FiniteFloat | None = None
    pnl_net: FiniteFloat | None = None
    pnl_bps: FiniteFloat | None = None
    mfe_bps: FiniteFloat | None = None
    mae_bps: FiniteFloat | None = None
    exit_reason: ExitReason | None = None
    model_id: str | None = None
    git_sha: str | None = None
    data_snapshot_id: str | None = None
    config_hash: str | None = None


class ModelRecord(_Model):
    """A registered model: content hash id, reproducibility fields and lineage."""

    model_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    name: ShortText
    created_at: AwareDatetime
    created_by: ShortText
    reason: Text = ""
    parent_model_id: str | None = None
    git_sha: ShortText | None = None
    git_dirty: bool = False
    data_snapshot_id: ShortText | None = None
    training_config_hash: ShortText | None = None
    metrics: Metrics = Field(default_factory=dict)
    artifact_size: int = Field(ge=0)


# ---------------------------------------------------------------- versioning


def _upgrade_v0(row: dict[str, Any]) -> dict[str, Any]:
    """v0 is the Day-1 prototype's row: `timestamp` and `event` names, lowercase severity, no mode."""
    out = dict(row)
    out["ts_event"] = out.pop("timestamp")
    if "event" in out:
        out["event_type"] = out.pop("event")
    out["severity"] = str(out.get("severity", "INFO")).upper()
    out.setdefault("mode", "none")
    out.pop("id", None)
    out["event_version"] = 1
    return out


UPGRADERS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {0: _upgrade_v0}
"""version -> function producing the next version; chained until CURRENT_EVENT_VERSION."""


def upgrade_event_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade a stored event dict of any known version to the current version, explicitly."""
    out = dict(row)
    version = int(out.get("event_version", CURRENT_EVENT_VERSION))
    if version > CURRENT_EVENT_VERSION:
        raise SchemaVersionError(
            f"event {out.get('event_id', '?')} has event_version {version}, newer than this code "
            f"understands ({CURRENT_EVENT_VERSION}); upgrade huracan-observability to read it"
        )
    while version < CURRENT_EVENT_VERSION:
        out = UPGRADERS[version](out)
        version = int(out["event_version"])
    return out


def utc_from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


class HealthSnapshot(_Model):
    """What `EventLogger.health()` returns and what the writer stores once per second in `health`."""

    ts: AwareDatetime
    status: Literal["ok", "degraded", "critical", "stopped"]
    queue_depth: int
    queue_maxsize: int
    fill_ratio: float
    accepted_total: int
    dropped_total: int
    dropped_by_severity: dict[str, int] = Field(default_factory=dict)
    dropped_by_type: dict[str, int] = Field(default_factory=dict)
    written_total: int = 0
    dead_letter_total: int = 0
    writer_lag_events: int = 0
    writer_lag_s: float = 0.0
    events_per_s: float = 0.0
    written_per_s: float = 0.0
    kill_switch: bool = False
    kill_switch_fired_total: int = 0
    writer_alive: bool = True
    writer_error: str | None = None
    pid: int = 0
