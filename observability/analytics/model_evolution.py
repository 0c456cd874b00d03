"""Models over time: each version with its metrics and delta against its parent, and every
champion change, from `model_updated` events (the query layer) merged with the registry's
alias history when a registry is available (the registry is the authority; events fill gaps
such as models trained on another box before the registry existed).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import orjson
from pydantic import BaseModel, ConfigDict, Field

from observability.analytics.evidence import Fact, fact
from observability.analytics.gate_explainer import window_clause
from observability.analytics.windows import Window
from observability.core.registry import Registry


class ModelVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str
    parent_model_id: str | None
    ts: datetime
    alias: str | None
    metrics: dict[str, float]
    changes: dict[str, float] = Field(default_factory=dict)
    """metric -> after - before, against the parent's metrics."""
    git_sha: str | None
    data_snapshot_id: str | None
    reason: str
    event_id: str | None

    def to_facts(self) -> list[Fact]:
        ev = [self.event_id or self.model_id]
        out: list[Fact] = []
        for k, v in sorted(self.metrics.items()):
            out += fact(f"model.{self.model_id}.{k}", f"model {self.model_id} {k}", v, "ratio", 4, ev)
        for k, v in sorted(self.changes.items()):
            out += fact(f"model.{self.model_id}.delta.{k}", f"model {self.model_id} change in {k} vs parent", v,
                        "ratio", 4, ev)
        return out


class ChampionChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    ts: datetime
    alias: str
    model_id: str
    previous_model_id: str | None
    changed_by: str | None
    reason: str
    evidence: str
    """event id of the model_updated event, or 'registry:alias_history:<seq>'."""


class ModelEvolution(BaseModel):
    model_config = ConfigDict(frozen=True)

    versions: list[ModelVersion]
    champion_changes: list[ChampionChange]

    def to_facts(self) -> list[Fact]:
        out = [f for v in self.versions for f in v.to_facts()]
        return out + fact("models.champion_changes", "champion changes", len(self.champion_changes), "count", 0,
                          [c.evidence for c in self.champion_changes])


def _delta(metrics: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] - before[k] for k in sorted(metrics.keys() & before.keys())}


def model_evolution(con: duckdb.DuckDBPyConnection, window: Window | None = None, *,
                    registry: Registry | None = None, alias: str = "champion") -> ModelEvolution:
    where, params = window_clause(window) if window is not None else ("true", [])
    rows = con.execute(f"SELECT event_id, ts_event, model_id, parent_model_id, alias, metrics, delta, git_sha, "
                       f"data_snapshot_id, reason FROM model_updates WHERE {where} ORDER BY ts_event, seq",
                       params).fetchall()
    versions: list[ModelVersion] = []
    known: dict[str, dict[str, float]] = {}
    for eid, ts, mid, parent, al, metrics_json, delta_json, sha, snap, reason in rows:
        metrics = {str(k): float(v) for k, v in (orjson.loads(metrics_json) if metrics_json else {}).items()}
        delta = orjson.loads(delta_json) if delta_json else None
        before = (delta or {}).get("metrics_before") or known.get(parent or "", {})
        versions.append(ModelVersion(model_id=mid, parent_model_id=parent, ts=ts, alias=al, metrics=metrics,
                                     changes=_delta(metrics, before), git_sha=sha, data_snapshot_id=snap,
                                     reason=reason or "", event_id=eid))
        known[mid] = metrics
    changes: dict[tuple[datetime, str], ChampionChange] = {}
    previous: str | None = None
    for v in versions:
        if v.alias == alias and v.model_id != previous:
            changes[(v.ts, v.model_id)] = ChampionChange(ts=v.ts, alias=alias, model_id=v.model_id,
                                                         previous_model_id=previous, changed_by=None,
                                                         reason=v.reason, evidence=v.event_id or v.model_id)
            previous = v.model_id
    if registry is not None:
        for move in registry.alias_history(alias):
            if window is not None and not window.since <= move.changed_at < window.until:
                continue
            changes[(move.changed_at, move.model_id)] = ChampionChange(
                ts=move.changed_at, alias=alias, model_id=move.model_id, previous_model_id=move.previous_model_id,
                changed_by=move.changed_by, reason=move.reason, evidence=f"registry:alias_history:{move.seq}")
    return ModelEvolution(versions=versions, champion_changes=sorted(changes.values(), key=lambda c: c.ts))
