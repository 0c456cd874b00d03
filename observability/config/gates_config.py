"""configs/gates.yaml: the six entry gates, their thresholds and how they are tuned.

The model is immutable in spirit: a threshold change produces a NEW `GatesConfig`
(`with_threshold`), so a trade can keep a reference to exactly the thresholds that were live
when it was decided, and `config_hash()` names that version in `trade_opened` events.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from observability.config.loader import load_yaml_model
from observability.errors import ConfigError

GateMode = Literal["scalp", "runner"]
Number = Annotated[float, Field(strict=True)]
"""A YAML number (int or float), never coerced from `yes` or a quoted string: `threshold: yes` is a typo, not 1.0."""


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GateSpec(_Cfg):
    """One gate. `direction` "min" passes when value >= threshold, "max" when value <= threshold."""

    order: int = Field(ge=1, le=32)
    threshold: Number
    direction: Literal["min", "max"]
    unit: str = Field("", max_length=40)
    pass_rate_target: Number = Field(ge=0.0, le=1.0)
    near_miss_margin: Number = Field(ge=0.0)
    description: str = Field("", max_length=400)
    modes: dict[GateMode, Number] = Field(default_factory=dict)
    """Per-mode threshold overrides; a mode not listed uses `threshold`."""

    def threshold_for(self, mode: str | None) -> float:
        if mode is not None and mode in self.modes:
            return self.modes[mode]
        return self.threshold

    def passes(self, value: float, mode: str | None = None) -> bool:
        t = self.threshold_for(mode)
        return value >= t if self.direction == "min" else value <= t

    def loosened(self, threshold: float) -> float:
        """The threshold moved by `near_miss_margin` in the direction that lets more signals pass."""
        return threshold - self.near_miss_margin if self.direction == "min" else threshold + self.near_miss_margin


class ShadowTradeConfig(_Cfg):
    enabled: bool = True
    max_open: int = Field(10_000, ge=0)
    include_fees: bool = True


class AutoTuningConfig(_Cfg):
    """Off by default: changing a live threshold is a decision somebody should sign."""

    enabled: bool = False
    max_step_fraction: float = Field(0.05, gt=0.0, le=0.5)
    min_decisions: int = Field(500, ge=1)
    cooldown_minutes: float = Field(30.0, ge=0.0)


class HistoryNote(_Cfg):
    """A hand-written note on a past change; the authoritative history lives in the registry."""

    date: str
    gate: str
    old: float
    new: float
    changed_by: str
    reason: str = ""


def _default_gates() -> dict[str, GateSpec]:
    """Used when no gates.yaml exists; mirrors configs/gates.yaml (a test keeps them in step)."""
    return {
        "spread": GateSpec(order=1, threshold=8.0, direction="max", unit="bps", pass_rate_target=0.85,
                           near_miss_margin=1.0, description="Bid-ask spread at decision time.",
                           modes={"runner": 12.0}),
        "volatility": GateSpec(order=2, threshold=45.0, direction="max", unit="bps/min", pass_rate_target=0.85,
                               near_miss_margin=5.0, description="Realised 1-minute volatility."),
        "liquidity": GateSpec(order=3, threshold=250_000.0, direction="min", unit="USD", pass_rate_target=0.90,
                              near_miss_margin=25_000.0, description="Order-book depth within 10 bps of mid."),
        "model_confidence": GateSpec(order=4, threshold=0.55, direction="min", unit="probability",
                                     pass_rate_target=0.75, near_miss_margin=0.03,
                                     description="Champion model's probability that the side is right.",
                                     modes={"runner": 0.60}),
        "regime": GateSpec(order=5, threshold=0.40, direction="min", unit="score", pass_rate_target=0.80,
                           near_miss_margin=0.05, description="Regime score (1 = clean trend, 0 = chop)."),
        "risk_budget": GateSpec(order=6, threshold=0.80, direction="max", unit="fraction", pass_rate_target=0.90,
                                near_miss_margin=0.05, description="Share of the risk budget already in use."),
    }


class GatesConfig(_Cfg):
    version: int = Field(1, ge=1)
    explanation: str = ""
    gates: dict[str, GateSpec] = Field(default_factory=_default_gates)
    shadow_trades: ShadowTradeConfig = ShadowTradeConfig()
    auto_tuning: AutoTuningConfig = AutoTuningConfig()
    history: list[HistoryNote] = Field(default_factory=list)

    @field_validator("gates")
    @classmethod
    def _names(cls, gates: dict[str, GateSpec]) -> dict[str, GateSpec]:
        if not gates:
            raise ValueError("at least one gate is required")
        for name in gates:
            if not name.isidentifier() or name.lower() != name:
                raise ValueError(f"gate name {name!r} must be a lowercase identifier (letters, digits, _)")
        owner: dict[int, str] = {}
        for name, spec in gates.items():
            first = owner.setdefault(spec.order, name)
            if first != name:
                # located at the second gate's `order` line, so the loader names file:line:field
                raise ValidationError.from_exception_data("gates", [InitErrorDetails(
                    type=PydanticCustomError("duplicate_order", "order {order} is already used by gate '{first}'; "
                                             "expected a unique order (evaluation position) per gate",
                                             {"order": spec.order, "first": first}),
                    loc=(name, "order"), input=spec.order)])
        return gates

    def names(self) -> list[str]:
        """Gate names in evaluation order."""
        return sorted(self.gates, key=lambda n: self.gates[n].order)

    def gate(self, name: str) -> GateSpec:
        try:
            return self.gates[name]
        except KeyError:
            raise ConfigError(f"unknown gate {name!r}; configured gates are {self.names()}") from None

    def thresholds(self, mode: str | None = None) -> dict[str, float]:
        return {n: self.gates[n].threshold_for(mode) for n in self.names()}

    def with_threshold(self, gate: str, threshold: float, mode: GateMode | None = None) -> GatesConfig:
        """A copy with one threshold changed (the per-mode override when `mode` is given)."""
        spec = self.gate(gate)
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
            raise ConfigError(f"threshold for gate {gate!r} must be a finite number, got {threshold!r}")
        if mode is None:
            new_spec = spec.model_copy(update={"threshold": float(threshold)})
        else:
            new_spec = spec.model_copy(update={"modes": {**spec.modes, mode: float(threshold)}})
        return self.model_copy(update={"gates": {**self.gates, gate: new_spec}})

    def config_hash(self) -> str:
        """Short content hash of the gate settings (not the prose), to tie trades to a config version."""
        body = {n: self.gates[n].model_dump(exclude={"description", "unit"}) for n in self.names()}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


DEFAULT_PATH = Path("configs/gates.yaml")


def load_gates_config(path: str | Path | None = None) -> GatesConfig:
    """Load configs/gates.yaml (built-in defaults when the default file is absent) with HURACAN_GATES__ overrides."""
    if path is None:
        return load_yaml_model(DEFAULT_PATH, GatesConfig, env_prefix="GATES", missing_ok=True)
    return load_yaml_model(path, GatesConfig, env_prefix="GATES")
