"""The simulated Hamilton (retrains a toy model) and Mechanic (tunes gate thresholds).

The toy model's skill decays between retrains (so confidence drifts down and the
model_confidence gate fails more often) and jumps at each retrain; a retrain that is not worse
than the champion is promoted. With a registry the retrain goes through `HamiltonHook` and the
tuning through `MechanicHook` with history; without one (benchmarks, determinism tests) the
model id is the artifact's sha256 and `model_updated` is logged with the plain typed helper.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from observability.config.gates_config import GatesConfig
from observability.integration.hamilton_hook import HamiltonHook
from observability.integration.helpers import log_model_updated
from observability.integration.mechanic_hook import MechanicHook
from observability.integration.registry_protocol import ConfigRegistry, ModelRegistry
from observability.integration.sink import LogSink

MODEL_NAME = "sim-direction-model"
SKILL_DECAY_PER_S = 0.00015


@dataclass(slots=True)
class ToyModel:
    """Champion state: `skill` is the edge over a coin flip right after training."""

    model_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    skill: float = 0.12
    trained_at: float = 0.0
    generation: int = 0

    def skill_at(self, t: float) -> float:
        return max(0.0, self.skill - SKILL_DECAY_PER_S * (t - self.trained_at))


def _metrics(rng: random.Random, skill: float) -> dict[str, float]:
    return {
        "auc": round(0.5 + 1.4 * skill + rng.gauss(0, 0.004), 5),
        "hit_rate": round(0.5 + 0.6 * skill + rng.gauss(0, 0.003), 5),
        "sharpe": round(12.0 * skill + rng.gauss(0, 0.15), 4),
        "brier": round(0.25 - 0.3 * skill + abs(rng.gauss(0, 0.002)), 5),
        "n_train": float(50_000 + rng.randrange(20_000)),
    }


class SimHamilton:
    def __init__(self, logger: LogSink, registry: ModelRegistry | None, rng: random.Random, seed: int,
                 start_ts: float) -> None:
        self._logger = logger
        self._hook = HamiltonHook(logger, registry, created_by="hamilton:sim") if registry is not None else None
        self._rng = rng
        self._seed = seed
        self._start = start_ts
        self.champion = ToyModel()

    def retrain(self, t: float) -> ToyModel:
        """Train a new generation; promote it to `champion` unless its AUC is clearly worse."""
        rng = self._rng
        gen = self.champion.generation + 1 if self.champion.model_id else 0
        skill = min(0.22, max(0.04, 0.12 + rng.gauss(0, 0.035)))
        metrics = _metrics(rng, skill)
        parent = self.champion.model_id or None
        promote = parent is None or metrics["auc"] >= self.champion.metrics.get("auc", 0.0) - 0.003
        snapshot = f"sim-{self._seed}-{gen:05d}"
        reason = "initial model" if parent is None else (
            f"scheduled retrain #{gen} on {snapshot}" + ("" if promote else "; kept as challenger (lower AUC)"))
        artifact = f"huracan-sim-model seed={self._seed} generation={gen} skill={skill:.6f}".encode()
        ts = self._start + t
        if self._hook is not None:
            record = self._hook.on_model_trained(
                artifact, name=MODEL_NAME, metrics=metrics, parent_model_id=parent, data_snapshot_id=snapshot,
                git_sha="0000000sim", reason=reason, training_config={"generation": gen, "seed": self._seed},
                promote_to="champion" if promote else None, ts=ts)
            model_id = record.model_id
        else:
            model_id = hashlib.sha256(artifact).hexdigest()
            log_model_updated(
                self._logger, model_id=model_id, metrics=metrics, parent_model_id=parent,
                metrics_before=self.champion.metrics if parent else None, alias="champion" if promote else None,
                git_sha="0000000sim", data_snapshot_id=snapshot, reason=reason, ts_event=ts)
        if promote:
            self.champion = ToyModel(model_id, metrics, skill, t, gen)
        else:
            self.champion.generation = gen
        return self.champion


class SimMechanic:
    """Moves the gate furthest from its pass-rate target a small step toward it, within ±30% of the base."""

    STEP = 0.03
    BOUND = 0.30

    def __init__(self, logger: LogSink, registry: ConfigRegistry | None, gates: GatesConfig,
                 rng: random.Random, start_ts: float) -> None:
        self._hook = MechanicHook(logger, registry, gates, config_values={"risk.max_position_usd": 25_000.0},
                                  baseline_ts=start_ts)
        self._base = gates.thresholds()
        self._rng = rng
        self._start = start_ts
        self._tunes = 0
        self.decisions = 0
        self.failures = dict.fromkeys(gates.names(), 0)

    def count(self, blocked_by: tuple[str, ...]) -> None:
        self.decisions += 1
        failures = self.failures
        for gate in blocked_by:
            failures[gate] += 1

    def tune(self, t: float) -> GatesConfig | None:
        """One tuning round; returns the new GatesConfig, or None when nothing needed changing."""
        self._tunes += 1
        ts = self._start + t
        if self._tunes % 3 == 1:
            value = round(self._rng.choice((15_000.0, 20_000.0, 25_000.0, 30_000.0)), 2)
            self._hook.set_config_value("risk.max_position_usd", value, changed_by="quant",
                                        reason="sizing review after the weekly drawdown report", ts=ts)
        if self.decisions < 20:
            return None
        config = self._hook.gates_config
        rates = {g: 1.0 - n / self.decisions for g, n in self.failures.items()}
        gate = max(rates, key=lambda g: abs(rates[g] - config.gates[g].pass_rate_target))
        spec = config.gates[gate]
        rate, target = rates[gate], spec.pass_rate_target
        loosen = rate < target
        up = loosen == (spec.direction == "max")
        step = abs(spec.threshold) * self.STEP
        base = self._base[gate]
        lo, hi = sorted((base * (1 - self.BOUND), base * (1 + self.BOUND)))
        new = round(min(hi, max(lo, spec.threshold + (step if up else -step))), 6)
        decisions = self.decisions
        self.decisions = 0
        self.failures = dict.fromkeys(self.failures, 0)
        if new == spec.threshold:
            return None
        return self._hook.set_gate_threshold(
            gate, new, changed_by="mechanic:auto-tune",
            reason=f"pass rate {rate:.0%} over {decisions} signals vs target {target:.0%}; "
                   f"{'loosened' if loosen else 'tightened'} by {self.STEP:.0%}", ts=ts)
