"""The one shape every analytics number takes on its way into a report: a `Fact`.

Why a single shape: the report writer (LLM or deterministic) may only state numbers that exist
as facts, and the number verifier checks each stated number against `value` rounded to
`precision` in `unit`. `evidence` lists the ids (event, trade, trace, shadow, model) a person
can look up to recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

EVIDENCE_LIMIT: Final = 50
"""Ids kept per fact: enough to spot-check a number, small enough to put in a prompt."""

UNITS: Final = frozenset({"%", "bps", "USDT", "count", "s", "ms", "ratio", "price", "per_s", "text"})
"""'%' is a percentage (50.0 = half); 'ratio' a plain number without a money or time unit (a profit
factor 1.27, a Sharpe ratio, a Brier score, a gate's value or threshold, a model metric)."""


class Fact(BaseModel):
    """One checkable number: `value` in `unit`, meaningful to `precision` decimals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    label: str = Field(min_length=1, max_length=300)
    value: float
    unit: str
    precision: int = Field(ge=0, le=12)
    evidence: list[str] = Field(default_factory=list)

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, got {unit!r}")
        return unit

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("a fact's value must be finite; leave out facts with no data instead")
        return value

    def rendered(self) -> str:
        """The value as a report should print it (percent values are stored as percent, not ratio)."""
        text = f"{self.value:,.{self.precision}f}"
        return f"{text}%" if self.unit == "%" else f"{text} {self.unit}"


class HasFacts(Protocol):
    def to_facts(self) -> list[Fact]: ...


def fact(
    id: str, label: str, value: float | None, unit: str, precision: int, evidence: Iterable[str] = ()
) -> list[Fact]:
    """A one-element list, or [] when the value is missing or not finite (no data is not a number)."""
    if value is None or not math.isfinite(value):
        return []
    return [Fact(id=id, label=label, value=float(value), unit=unit, precision=precision,
                 evidence=limit_ids(evidence))]


def limit_ids(ids: Iterable[str | None], limit: int = EVIDENCE_LIMIT) -> list[str]:
    """Distinct non-empty ids in first-seen order, at most `limit`."""
    out: list[str] = []
    seen: set[str] = set()
    for i in ids:
        if i and i not in seen:
            seen.add(i)
            out.append(i)
            if len(out) >= limit:
                break
    return out


def collect_facts(results: Sequence[HasFacts]) -> list[Fact]:
    """Facts of several results, in order, ids made unique (first wins)."""
    out: list[Fact] = []
    seen: set[str] = set()
    for r in results:
        for f in r.to_facts():
            if f.id not in seen:
                seen.add(f.id)
                out.append(f)
    return out
