"""Check every number and id in a text against a fact set; anything unsupported fails the text.

Matching rules (why they are this strict: a report is only useful if a trader can trust each figure):
- tolerance is half a unit of the last digit shown ("61.5%" covers 61.45–61.55%, so 0.6148 matches);
  "about"/"~" lets trailing zeros of whole numbers be rounding ("about 1,200", "about 1k" for 1,187) but
  never widens past half a unit ("about 2k" is not 1,187); rounding may not pass the fact's leading
  digit ("1" is not a win rate of 0.6148, "0%" not 0.3%);
  "over"/"under" are checked as inequalities, and must be within one leading-digit unit of the value
  ("more than 10 trades" is not said of 1,187);
- units must be compatible: % matches ratio facts (x100), percentages and bps/100, but a change of a
  percentage (a fact named "delta"/"change") only as percentage points ("+3 pp", not "+3%"); bps matches bps,
  ratio x 10,000 and percentages x 100; money matches money; durations are converted to seconds;
  a bare number matches a fact's value as stored (never a converted percentage);
- the sign must agree: an unsigned number matches a negative fact only after a word that says so
  ("lost 40 USDT", "fell 12 bps");
- when the words just before a number name another fact (in a compatible unit) better than any fact
  with a matching value, the number is reported as a swapped metric ("win rate 38.5%, loss rate 61.5%");
- every referenced id (trade, trace, model, event) must appear in the facts or their evidence;
- engine text quoted as “...” is data, not a claim: it must be verbatim one of the facts' quotes;
- a date or time is a claim too ("the kill switch fired at 03:12"): each of its parts must occur in the
  data (an id, an evidence item, a text fact such as the report's own days).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from observability.ai.facts import Fact, FactSet
from observability.ai.number_extractor import Mention, extract

_NEGATIVE_WORDS = frozenset({"lost", "down", "fell", "dropped", "declined", "decreased", "minus", "negative",
                             "shed", "lower", "worsened", "deficit"})
_STOP = frozenset({"the", "and", "was", "were", "with", "for", "from", "over", "per", "of", "a", "an", "in", "on",
                   "at", "to", "by", "is", "are", "its", "this", "that", "across", "total", "all", "value"})
_EPS = 1e-12
"""Relative slack for binary floating point (a float carries ~16 significant digits)."""


class NumberVerdict(BaseModel):
    text: str
    value: float
    unit: str
    context: str
    fact_id: str | None = None
    status: Literal["matched", "unsupported", "sign", "swapped"]
    detail: str = ""


class IdVerdict(BaseModel):
    id: str
    found: bool


class VerificationReport(BaseModel):
    verified: bool
    numbers: list[NumberVerdict]
    ids: list[IdVerdict]
    quotes: list[IdVerdict] = Field(default_factory=list)
    dates: list[IdVerdict] = Field(default_factory=list)
    ignored: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def unsupported(self) -> list[NumberVerdict]:
        return [n for n in self.numbers if n.status != "matched"]

    @property
    def problems(self) -> int:
        """Unsupported numbers plus ids, quotes and dates not found in the data."""
        return len(self.unsupported) + sum(not i.found for i in [*self.ids, *self.quotes, *self.dates])

    def findings(self) -> list[str]:
        """One line per problem, phrased so a writer (human or model) can fix it."""
        out = [f"{n.text!r} ({n.context}): {n.detail}" for n in self.unsupported]
        out += [f"id {i.id!r} is not in the facts; use only ids given in the facts" for i in self.ids if not i.found]
        out += [f"quoted text “{q.id}” is not verbatim engine text from the facts; do not quote it"
                for q in self.quotes if not q.found]
        out += [f"date/time {d.id!r} is not in the data; leave dates and times out" for d in self.dates if not d.found]
        return out


_MENTION_UNITS = ("", "pct", "bps", "USDT", "s", "x")


def _conversions(fact: Fact) -> dict[str, tuple[float, ...]]:
    """For each unit a number can be written in, the values `fact` may be written as (absent: incompatible)."""
    v = fact.number
    if v is None:
        return {}
    u = fact.unit
    table: dict[str, dict[str, tuple[float, ...]]] = {
        "pct": {"ratio": (v * 100,), "pct": (v,), "bps": (v / 100,)},
        "bps": {"bps": (v,), "ratio": (v * 10_000,), "pct": (v * 100,)},
        "USDT": {"USDT": (v,), "price": (v,)},
        "s": {"s": (v,), "ms": (v / 1000,)},
        "x": {"x": (v,), "": (v,), "ratio": (v,)},
        "": {k: (v,) for k in ("", "count", "ratio", "pct", "bps", "USDT", "x", "s", "ms", "price", "per_s")},
    }
    return {mu: table[mu][u] for mu in _MENTION_UNITS if u in table[mu]}


def _rounding_allowed(fact: Fact, m: Mention, candidate: float) -> bool:
    """Rounding may not pass the fact's leading digit ("1" is not a win rate of 0.6148, "0%" not 0.3%)
    unless the text shows the fact exactly as the report renders it (a ratio of 0.0078 is "1%")."""
    if candidate == 0 or m.step <= 10.0 ** math.floor(math.log10(abs(candidate))) * (1 + 1e-9):
        return True
    if fact.unit == "ratio" and m.unit == "pct":
        shown = 10.0 ** -max(fact.precision - 2, 0)
    elif fact.unit == "count":
        shown = 1.0
    else:
        shown = 10.0 ** -fact.precision * abs(candidate / (fact.number or candidate))
    # A tie may be shown either way: the renderer formats the binary value (0.005 is a hair above: "0.01"), and
    # round() goes to even.
    q = candidate / shown
    steps = {math.floor(q), math.ceil(q)} if abs(q - math.floor(q) - 0.5) < 1e-9 else {round(q)}
    return any(abs(k * shown - m.value) <= _EPS * max(1.0, abs(m.value)) + shown * 1e-9 for k in steps)


def _tight(candidate: float, m: Mention) -> bool:
    """A bound must be near the value: "more than 10 trades" is true of 1,187 but misleads; within one unit
    of the value's leading digit ("more than 1,000", "over 500") it is a fair rounding."""
    return candidate == 0 or abs(candidate - m.value) <= 10.0 ** math.floor(math.log10(abs(candidate))) * (1 + 1e-9)


def _close(candidate: float, m: Mention, fact: Fact | None = None) -> bool:
    if m.qualifier == "gt":
        return candidate >= m.value - _EPS and _tight(candidate, m)
    if m.qualifier == "lt":
        return candidate <= m.value + _EPS and _tight(candidate, m)
    if fact is not None and not _rounding_allowed(fact, m, candidate):
        return False
    return abs(candidate - m.value) <= m.step / 2 + _EPS * max(1.0, abs(m.value))


def _keywords(fact: Fact) -> set[str]:
    """Words of the fact's label and id ("gates.spread.threshold old value" → gates, spread, threshold, old)."""
    words = re.split(r"[^a-z0-9]+", f"{fact.label} {fact.id}".lower())
    return {w for w in words if len(w) >= 3 and w not in _STOP and not w.isdigit()}


def _matches(word: str, keyword: str) -> bool:
    return word == keyword or (min(len(word), len(keyword)) >= 3 and
                               (word.startswith(keyword) or keyword.startswith(word)))


class NumberVerifier:
    """Verifies texts against one fact set (precomputes the fact keywords once)."""

    def __init__(self, facts: FactSet) -> None:
        self.facts = facts
        self._numeric = facts.numeric()
        self._by_id = {f.id: f for f in self._numeric}
        self._kw = {f.id: _keywords(f) for f in self._numeric}
        self._conv = [(f, _conversions(f)) for f in self._numeric]
        self._conv_by_id = {f.id: conv for f, conv in self._conv}
        self._named: dict[str, frozenset[str]] = {}
        self._known_text: str | None = None
        self._rate_changes = frozenset(f.id for f in self._numeric if f.unit in ("ratio", "pct") and
                                       {"delta", "change"} & set(re.split(r"[^a-z]+", f"{f.id} {f.label}".lower())))

    def _facts_named_by(self, word: str) -> frozenset[str]:
        """Ids of the facts whose label or id contains `word` (cached: reports reuse few words)."""
        hit = self._named.get(word)
        if hit is None:
            hit = frozenset(fid for fid, kws in self._kw.items() if any(_matches(word, k) for k in kws))
            self._named[word] = hit
        return hit

    def _scores(self, words: Iterable[str], m: Mention) -> Counter[str]:
        """Per unit-compatible fact, how many distinct words name it ("the" names nothing)."""
        scores: Counter[str] = Counter()
        for w in {w for w in words if len(w) >= 3 and w not in _STOP}:
            scores.update(fid for fid in self._facts_named_by(w) if m.unit in self._conv_by_id[fid])
        return scores

    def _candidates(self, m: Mention, negated: bool) -> tuple[list[Fact], list[Fact]]:
        """(facts matching value and sign, facts matching only the magnitude)."""
        good, sign_only = [], []
        for f, conv in self._conv:
            if m.unit == "pct" and not m.points and f.id in self._rate_changes:
                continue  # win rate 0.50 -> 0.53 is +3 pp; "+3%" reads as a relative change (6%)
            for c in conv.get(m.unit, ()):
                target = -c if (negated and m.explicit_sign == 0) else c
                if _close(target, m, f):
                    good.append(f)
                    break
                if m.qualifier not in ("gt", "lt") and _close(-target, m, f):
                    sign_only.append(f)
                    break
        return good, sign_only

    def _verdict(self, m: Mention) -> NumberVerdict:
        # "lost 40 USDT", "fell 12 bps by": a direction word just before the number negates it, but not
        # in "fell from 0.22 to 0.21", where the numbers are levels.
        near = m.context[-3:]
        negated = any(w in _NEGATIVE_WORDS for w in near) and not (near and near[-1] in ("from", "to", "at"))
        base = {"text": m.text, "value": m.value, "unit": m.unit, "context": " ".join(m.context + m.after)}
        good, sign_only = self._candidates(m, negated)
        if not good:
            if sign_only:
                f = sign_only[0]
                return NumberVerdict(**base, fact_id=f.id, status="sign",
                                     detail=f"wrong sign: {f.id} is {f.number:g} {f.unit}".rstrip())
            return NumberVerdict(**base, status="unsupported",
                                 detail="no fact has this value in a compatible unit at the precision shown")
        # Words before a number name it ("win rate 61.5% and loss rate ..."); the words after it only
        # count when nothing before does ("61.5% of trades were winners").
        scores = self._scores(m.context, m) or self._scores(m.after, m)
        best_good = max(good, key=lambda f: scores[f.id])
        if scores and max(scores.values()) > scores[best_good.id]:
            rival = self._by_id[scores.most_common(1)[0][0]]
            return NumberVerdict(**base, fact_id=best_good.id, status="swapped",
                                 detail=f"the words name {rival.id} ({rival.number:g} {rival.unit}) but the value "
                                        f"is that of {best_good.id}")
        return NumberVerdict(**base, fact_id=best_good.id, status="matched")

    def verify(self, text: str) -> VerificationReport:
        ex = extract(text)
        numbers = [self._verdict(m) for m in ex.numbers]
        known = self.facts.entity_ids | set(self.facts.facts)
        ids = [IdVerdict(id=i, found=i in known) for i, _ in ex.ids]
        quotes = [IdVerdict(id=q, found=q in self.facts.entity_ids) for q in ex.quotes]
        dates = [IdVerdict(id=d, found=self._date_known(d)) for d in ex.dates]
        ok = all(n.status == "matched" for n in numbers) and all(i.found for i in ids + quotes + dates)
        return VerificationReport(verified=ok, numbers=numbers, ids=ids, quotes=quotes, dates=dates,
                                  ignored=ex.ignored)

    def _date_known(self, written: str) -> bool:
        """A date or time is supported when each of its parts occurs in an id, an evidence item or a
        text fact (event timestamps, the report's own days), never just because it parses."""
        if self._known_text is None:
            values = [str(f.value) for f in self.facts if isinstance(f.value, str)]
            self._known_text = "\n".join([*self.facts.entity_ids, *values])
        parts = date_parts(written)
        return bool(parts) and all(p in self._known_text for p in parts)


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                        "dec"), start=1)}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}")
_TIME = re.compile(r"(?<![\d-])(\d{1,2}):(\d{2})(?::\d{2})?")
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_NAMED = re.compile(rf"{_MON}\s(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s(\d{{4}}))?"
                    rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s{_MON}(?:,?\s(\d{{4}}))?", re.IGNORECASE)


def date_parts(text: str) -> list[str]:
    """The parts of a written date/time that must occur in the data: "2026-11-26", "-11-26" for "Nov 26",
    "14:05" (seconds dropped: a report may round a timestamp to the minute)."""
    parts = _ISO_DATE.findall(text)
    parts += [f"{int(h):02d}:{mi}" for h, mi in _TIME.findall(text)]
    for m in _NAMED.finditer(text):
        mon, day, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4),
                                                                                   m.group(6))
        parts.append(f"{year or ''}-{_MONTHS[mon.lower()]:02d}-{int(day):02d}")
    return parts


def verify_text(text: str, facts: FactSet) -> VerificationReport:
    return NumberVerifier(facts).verify(text)
