"""The fact set a report is written from and verified against.

A fact is one number (or label) with an id, a unit and the precision it is displayed at, plus the
evidence (event ids, trace ids, trade ids, model ids) it was computed from. The analytics layer
produces the same shape (`observability.analytics.evidence.Fact`; `from_analytics` adapts its units),
so the AI layer does not depend on which module built the facts.

Units understood by the writer and the verifier:
  ratio  a fraction (0.6148), shown as a percentage ("61.5%")      pct   already a percentage (61.48)
  bps    basis points                                               USDT  money (also "$", "USD")
  count  a whole number of things                                   s/ms  durations
  x      a multiple ("1.5x")                                        ""    a plain number or a label
  price  a quote price                                              per_s a rate per second
The analytics layer's "%" is our "pct" and its "text" our "".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from observability.errors import ObservabilityError

UNITS = frozenset({"ratio", "pct", "bps", "USDT", "count", "s", "ms", "x", "price", "per_s", ""})
_UNIT_ALIASES = {
    "%": "pct", "text": "", "percent": "pct", "usd": "USDT", "usdt": "USDT", "$": "USDT", "seconds": "s",
    "sec": "s", "n": "count", "trades": "count", "none": "", "fraction": "ratio",
}
_ID_PREFIX = re.compile(r"^(?:trade|trace|model|event|shadow|signal|config)[:=]")


class FactsError(ObservabilityError):
    """A facts file or fact value is malformed."""


class Fact(BaseModel):
    """One verified quantity; `precision` is the number of decimals it is displayed with."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    value: float | int | str | None
    unit: str = ""
    precision: int = Field(0, ge=0, le=12)
    evidence: list[str] = Field(default_factory=list)

    @property
    def number(self) -> float | None:
        """The numeric value, or None for label facts (symbols, gate names)."""
        if isinstance(self.value, bool) or self.value is None or isinstance(self.value, str):
            return None
        return float(self.value)


def normalise_unit(unit: str | None) -> str:
    u = (unit or "").strip()
    u = _UNIT_ALIASES.get(u.lower(), u)
    if u not in UNITS:
        raise FactsError(f"unknown unit {unit!r}; use one of {sorted(x for x in UNITS if x)} or an empty string")
    return u


def fact_from_any(obj: Any) -> Fact:
    """Adapt an analytics `Fact` (or any object/dict with the same fields) into ours."""
    get = obj.get if isinstance(obj, Mapping) else (lambda k, d=None: getattr(obj, k, d))
    fid = get("id")
    if not fid:
        raise FactsError(f"fact without an id: {obj!r}")
    return Fact(
        id=str(fid), label=str(get("label") or fid), value=get("value"),
        unit=normalise_unit(get("unit")), precision=int(get("precision") or 0),
        evidence=[str(e) for e in (get("evidence") or [])],
    )


_ANALYTICS_UNITS = {"%": "pct", "ratio": "", "text": ""}


def from_analytics(obj: Any) -> Fact:
    """Adapt an `observability.analytics.evidence.Fact`: its "ratio" is a plain number (profit factor 1.27,
    Sharpe, Brier score) and its "%" a percentage; here "ratio" means a fraction shown as % ("0.6148" →
    "61.5%"), so theirs becomes a plain number ("") and "%" becomes "pct"."""
    unit = str(getattr(obj, "unit", "") or "")
    return fact_from_any({"id": obj.id, "label": obj.label, "value": obj.value,
                          "unit": _ANALYTICS_UNITS.get(unit, unit), "precision": obj.precision,
                          "evidence": list(obj.evidence)})


class FactSet:
    """Facts by id plus every entity id (trade, trace, model, event) their evidence names."""

    def __init__(self, facts: Iterable[Fact], entity_ids: Iterable[str] = ()) -> None:
        self.facts: dict[str, Fact] = {}
        for f in facts:
            self.facts[f.id] = f
        ids = {str(e) for e in entity_ids}
        for f in self.facts.values():
            for ev in f.evidence:
                ids.add(ev)
                ids.add(_ID_PREFIX.sub("", ev))
            if isinstance(f.value, str) and f.value:
                ids.add(f.value)
        self.entity_ids: frozenset[str] = frozenset(ids)

    def __iter__(self) -> Any:
        return iter(self.facts.values())

    def __len__(self) -> int:
        return len(self.facts)

    def numeric(self) -> list[Fact]:
        return [f for f in self.facts.values() if f.number is not None]

    def to_json(self) -> list[dict[str, Any]]:
        return [f.model_dump() for f in self.facts.values()]


def facts_from_json(data: Any) -> FactSet:
    """Parse the `verify --facts` format: {name: number}, [{id, value, unit, ...}, ...], or a report's
    verification file ({"facts": [...], "entity_ids": [...]}), so a saved report can be re-checked."""
    if isinstance(data, Mapping) and isinstance(data.get("facts"), list):
        return FactSet(facts_from_json(data["facts"]), [str(i) for i in data.get("entity_ids") or []])
    if isinstance(data, Mapping):
        facts = []
        for name, value in data.items():
            if isinstance(value, Mapping):
                facts.append(fact_from_any({"id": name, **value}))
            elif isinstance(value, int | float | str) and not isinstance(value, bool):
                facts.append(Fact(id=str(name), label=str(name), value=value))
            else:
                raise FactsError(f"fact {name!r}: expected a number, a string or an object, got {value!r}")
        return FactSet(facts)
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise FactsError(f"facts[{i}]: expected an object with id, value, unit; got {item!r}")
            out.append(fact_from_any(item))
        return FactSet(out)
    raise FactsError("facts must be a JSON object of name -> number or a list of {id, value, unit}")


def plain_label(label: str) -> str:
    """A label safe to print right before its number: a comma would cut it off from the number for the
    verifier (which reads the words of the number's own clause), so commas are dropped."""
    return " ".join(label.replace(",", " ").split())


def render_value(fact: Fact) -> str:
    """The fact's number as reports print it (the verifier accepts exactly this form)."""
    v = fact.number
    if v is None:
        return str(fact.value)
    p = fact.precision
    if fact.unit == "count":
        return f"{round(v):,}"
    if fact.unit == "ratio":
        v, p = v * 100, max(p - 2, 0)
    text = f"{v:,.{p}f}"
    if fact.unit == "" and "." in text:
        text = text.rstrip("0").rstrip(".")  # plain numbers (model metrics, config values): 10, not 10.0000
    if text.lstrip("-").replace("0", "").replace(".", "").replace(",", "") == "":
        text = text.lstrip("-")
    suffix = {"ratio": "%", "pct": "%", "bps": " bps", "USDT": " USDT", "s": " s", "ms": " ms", "x": "x",
              "per_s": "/s"}.get(fact.unit, "")
    return text + suffix
