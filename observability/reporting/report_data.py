"""What a report is written from: the period, its facts, and the rows behind its sections.

Every number a section prints is looked up as a `Fact` by id (`ReportData.fact`) and rendered by
`render`, so the deterministic text can only contain numbers the verifier will find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from observability.ai.facts import Fact, FactSet


@dataclass(frozen=True)
class Period:
    """A report window of whole UTC days, `start`..`end` inclusive."""

    kind: str
    start: date
    end: date

    @classmethod
    def daily(cls, day: date) -> Period:
        return cls("daily", day, day)

    @classmethod
    def weekly(cls, last_day: date) -> Period:
        return cls("weekly", last_day - timedelta(days=6), last_day)

    @property
    def start_us(self) -> int:
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp() * 1_000_000)

    @property
    def end_us(self) -> int:
        """Exclusive end: midnight after the last day."""
        nxt = self.end + timedelta(days=1)
        return int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC).timestamp() * 1_000_000)

    def days(self) -> list[str]:
        """Each day of the period as YYYY-MM-DD: the dates a report may name."""
        return [(self.start + timedelta(days=i)).isoformat() for i in range((self.end - self.start).days + 1)]

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.end.isoformat()}"

    @property
    def title(self) -> str:
        if self.kind == "daily":
            return f"Daily report {self.end.isoformat()}"
        return f"Weekly report {self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class NotableTrade:
    trade_id: str
    trace_id: str
    symbol: str
    mode: str
    side: str
    exit_reason: str


@dataclass(frozen=True)
class GateFinding:
    gate: str
    fact_base: str
    """Prefix of the gate explainer's fact ids for this gate (`<base>.pass_rate`, `.target`, ...)."""


@dataclass(frozen=True)
class MetricFinding:
    fact_base: str
    label: str
    status: str
    """'warn' or 'critical' for a metric outside its thresholds, '' for a headline metric."""
    name: str


@dataclass(frozen=True)
class ModelChange:
    model_id: str
    parent_model_id: str | None
    reason: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ConfigChange:
    index: int
    key: str
    changed_by: str
    reason: str
    numeric: bool


@dataclass
class ReportData:
    period: Period
    facts: list[Fact] = field(default_factory=list)
    entity_ids: set[str] = field(default_factory=set)
    gates: list[GateFinding] = field(default_factory=list)
    metrics: list[MetricFinding] = field(default_factory=list)
    notable: list[NotableTrade] = field(default_factory=list)
    models: list[ModelChange] = field(default_factory=list)
    configs: list[ConfigChange] = field(default_factory=list)

    def add(self, fid: str, label: str, value: float | int | None, unit: str, precision: int,
            evidence: list[str] | None = None) -> None:
        """Add a fact unless there is no value (no data is not a number)."""
        if value is None:
            return
        self.facts.append(Fact(id=fid, label=label, value=value, unit=unit, precision=precision,
                               evidence=evidence or []))

    def fact(self, fid: str) -> Fact | None:
        for f in self.facts:
            if f.id == fid:
                return f
        return None

    def fact_set(self) -> FactSet:
        return FactSet(self.facts, self.entity_ids)
