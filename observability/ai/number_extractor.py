"""Find every number (and every entity id) a piece of prose asserts.

Why a scanner of our own: the verifier's promise is "no number in a report that is not in the data",
so the extractor must err on the side of finding too much. It works in passes over a masked copy of
the text so that offsets stay valid: quoted engine text, code spans, URLs, ids, dates and times are
recognised and blanked (their digits are not quantities; dates and times are returned for the
verifier to check on their own), then names that merely contain digits
(BTC1000, p99, v2) are blanked, then numbers with their sign, currency, magnitude suffix, unit and
qualifier ("about", "over") are read, then counts written as words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

# --- ids -----------------------------------------------------------------------------------------
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX = r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,64}"
_PREFIXED = r"[A-Za-z]{1,8}[-_:]\d[\w-]*|(?:trade|trace|model|shadow|sig|signal)[-_:][\w-]*\d[\w-]*"
ID_RE = re.compile(rf"(?<![\w-])(?:{_UUID}|{_HEX}|{_PREFIXED})(?![\w-])")
_CODE_RE = re.compile(r"`([^`\n]+)`")
# Engine text quoted verbatim (“spread 12.5 > 10”): checked as a whole against the facts' quotes.
QUOTE_RE = re.compile(r"“([^”\n]*)”")

# --- dates and times (recognised so their digits are not taken for quantities) --------------------
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
DATE_RE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?:\s?UTC)?"
    r"|\b\d{4}-W\d{2}\b"
    rf"|\b{_MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s{_MONTH}(?:,?\s\d{{4}})?\b"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?UTC)?\b"
)
_URL_RE = re.compile(r"\bhttps?://\S+")
_ORDINAL_RE = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
_LIST_MARKER_RE = re.compile(r"(?m)^\s*(?:#+\s*)?\d{1,2}[.)]\s")

# --- numbers -------------------------------------------------------------------------------------
_QUAL = (r"about|around|approximately|approx\.|roughly|nearly|almost|some|~|≈|"
         r"more than|greater than|over|above|at least|less than|fewer than|under|below|at most|up to")
_UNIT = (r"%|percent\b|per cent\b|percentage points?\b|pp\b|bps\b|bp\b|basis points?\b|USDT\b|USD\b|"
         r"dollars?\b|x\b|×|milliseconds?\b|ms\b|seconds?\b|secs?\b|s\b|minutes?\b|mins?\b|m\b|"
         r"hours?\b|hrs?\b|h\b|days?\b")
NUMBER_RE = re.compile(
    rf"(?:(?P<qual>{_QUAL})\s*)?"
    r"(?P<sign>(?<![\w.,])[+\-−–])?"
    # a sign after the currency ("$-40") only: in "3-5" the hyphen joins a range, it is not a minus
    r"(?:(?P<cur>\$|USDT\s|USD\s)(?P<sign2>[+\-−–])?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\d,]*\.\d)"
    r"(?P<exp>[eE][+\-−]?\d+(?![\w.]))?"
    # case matters: 5M is a million, 5m five minutes; "1.2 million" is not 1.2
    r"(?P<suffix>\s?(?-i:bn|[kKMB])(?![A-Za-z])|\s(?:hundred|thousand|million|billion)\b)?"
    rf"(?:\s?(?P<unit>{_UNIT}))?",
    re.IGNORECASE,
)
# Digit-bearing names that are not quantities: BTC1000, p99, v2, H1, 1000PEPEUSDT.
_NAME_RE = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*\d)\w+\b")
_NUM_WITH_SUFFIX_RE = re.compile(
    r"^\d+(?:\.\d+)?(?:k|K|M|B|bn|bps|bp|pp|x|ms|s|secs?|m|mins?|h|hrs?|st|nd|rd|th)$"
    r"|^\d+[eE]\d*$"  # the tail of scientific notation ("1.2e1", "1.2e-3"), read as one number below
)

# "one" is left out on purpose: it is far more often a pronoun ("one of the gates") than a count.
_WORDS = {"zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_UNITS_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_MAGNITUDES = {"dozen": 12.0, "hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9}
WORD_RE = re.compile(
    r"\b(?:(?P<tens>twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-(?P<unit>one|two|three|four|five|"
    r"six|seven|eight|nine))?|(?P<small>" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")|(?P<a>a|one))"
    r"(?:\s(?P<mag>dozen|hundred|thousand|million|billion))?\b",
    re.IGNORECASE,
)

_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "hundred": 1e2, "thousand": 1e3, "million": 1e6,
          "billion": 1e9}
_UNIT_MAP = {
    "%": "pct", "percent": "pct", "per cent": "pct", "percentage point": "pct", "percentage points": "pct",
    "pp": "pct", "bps": "bps", "bp": "bps", "basis point": "bps", "basis points": "bps", "usdt": "USDT",
    "usd": "USDT", "dollar": "USDT", "dollars": "USDT", "$": "USDT", "x": "x", "×": "x",
}
_TIME_UNITS = {"ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "s": 1.0, "sec": 1.0, "secs": 1.0,
               "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0,
               "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
               "day": 86400.0, "days": 86400.0}
_APPROX = {"about", "around", "approximately", "approx.", "roughly", "nearly", "almost", "some", "~", "≈"}
_GT = {"more than", "greater than", "over", "above", "at least"}
_LT = {"less than", "fewer than", "under", "below", "at most", "up to"}


@dataclass
class Mention:
    """One quantity as written: `value`/`step` are in the canonical unit (percent, bps, USDT, seconds, x, plain)."""

    text: str
    start: int
    end: int
    value: float
    step: float
    unit: str = ""
    explicit_sign: int = 0
    qualifier: str = ""
    kind: str = "number"
    scale: float = 1.0
    points: bool = False
    """Written as percentage points ("pp"), the unit of a change in a percentage."""
    context: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


@dataclass
class Extraction:
    numbers: list[Mention]
    ids: list[tuple[str, int]]
    ignored: list[tuple[str, str]]
    quotes: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    """Dates and times as written: claims too ("the kill switch fired at 03:12"), checked by the verifier."""


def _mask(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _step(num: str, approx: bool) -> float:
    digits = num.replace(",", "")
    if "." in digits:
        return 10.0 ** -len(digits.split(".")[1])
    if approx:
        stripped = digits.rstrip("0")
        return 10.0 ** (len(digits) - len(stripped)) if stripped else 1.0
    return 1.0


def _from_match(m: re.Match[str]) -> Mention:
    qual = (m.group("qual") or "").lower()
    qualifier = "approx" if qual in _APPROX else "gt" if qual in _GT else "lt" if qual in _LT else ""
    num = m.group("num")
    exp = 10.0 ** int((m.group("exp") or "e0")[1:].replace("−", "-"))
    value = float(num.replace(",", "")) * exp
    step = _step(num, qualifier == "approx") * exp
    suffix = (m.group("suffix") or "").strip()
    scale = _SCALE[suffix.lower()] if suffix else 1.0
    raw_unit = (m.group("unit") or "").strip()
    unit_key = raw_unit if raw_unit in ("%", "×") else raw_unit.lower()
    unit = _UNIT_MAP.get(unit_key, "")
    if unit_key in _TIME_UNITS:
        scale *= _TIME_UNITS[unit_key]
        unit = "s"
    if m.group("cur"):
        unit = "USDT"
    sign_txt = m.group("sign") or m.group("sign2") or ""
    sign = -1 if sign_txt in ("-", "−", "–") else 1 if sign_txt == "+" else 0
    return Mention(text=m.group(0).strip(), start=m.start(), end=m.end(), value=value * scale * (sign or 1),
                   step=step * scale, unit=unit, explicit_sign=sign, qualifier=qualifier, scale=scale,
                   points=unit_key in ("pp", "percentage point", "percentage points"))


_SPLIT_RE = re.compile(r"[!?;\n]|\.\s|,\s")
_WORD_TOKEN = re.compile(r"[A-Za-z][A-Za-z_]*")


_CONNECTOR_RE = re.compile(r"\b(?:and|while|but|with|whereas|versus|vs|plus)\b", re.IGNORECASE)


def _context(text: str, prev_end: int, start: int, end: int, next_start: int) -> tuple[list[str], list[str]]:
    """Words naming the quantity: those before it in its clause, then up to three after it. When the
    previous number is in the same clause, words before a connector are its own ("5 model updates and
    12 config changes": 12 is named by "config changes", not "model updates")."""
    pieces = _SPLIT_RE.split(text[prev_end:start])
    before = pieces[-1]
    if prev_end and len(pieces) == 1:
        before = _CONNECTOR_RE.split(before)[-1]
    after = _SPLIT_RE.split(text[end:next_start])[0]
    return ([w.lower() for w in _WORD_TOKEN.findall(before)[-8:]],
            [w.lower() for w in _WORD_TOKEN.findall(after)[:3]])


def _join_ranges(text: str, numbers: list[Mention]) -> None:
    """In "3–5 trades" or "10 to 20 bps" the first end inherits the unit and scale of the second."""
    for a, b in itertools.pairwise(numbers):
        gap = text[a.end:b.start]
        if a.unit == "" and a.scale == 1.0 and b.unit and re.fullmatch(r"\s?(?:–|—|-|to)\s?", gap):
            a.unit = b.unit
            a.value *= b.scale
            a.step *= b.scale
            a.scale = b.scale


def _across(text: str, numbers: list[Mention]) -> None:
    """In "61.5% over 227 trades" "over" means "across", not "more than": a bound right after another
    number is read as an exact number (else "over 50 trades" would pass for 227)."""
    for a, b in itertools.pairwise(numbers):
        if b.qualifier in ("gt", "lt") and not text[a.end:b.start].strip() and \
                b.text.lower().startswith(("over", "under", "above", "below")):
            b.qualifier = ""


def extract(text: str) -> Extraction:
    """All numbers, referenced ids and URLs, dates/times and ignored spans in `text`, in order."""
    chars = list(text)
    ids: list[tuple[str, int]] = []
    ignored: list[tuple[str, str]] = []
    quotes: list[str] = []
    dates: list[str] = []
    for m in QUOTE_RE.finditer(text):
        if any(c.isdigit() for c in m.group(1)):
            quotes.append(m.group(1))
        _mask(chars, m.start(), m.end())
    text_unquoted = "".join(chars)
    for m in _CODE_RE.finditer(text_unquoted):
        for tok in re.finditer(r"\S+", m.group(1)):
            if any(c.isdigit() for c in tok.group(0)):
                ids.append((tok.group(0).strip(".,;:()[]"), m.start(1) + tok.start()))
        _mask(chars, m.start(), m.end())
    masked = "".join(chars)
    for m in _URL_RE.finditer(masked):  # a link is a reference like an id: only ones from the data pass
        ids.append((m.group(0).rstrip(".,;:)"), m.start()))
        _mask(chars, m.start(), m.end())
    masked = "".join(chars)
    for m in ID_RE.finditer(masked):
        ids.append((m.group(0), m.start()))
        _mask(chars, m.start(), m.end())
    masked = "".join(chars)
    for m in DATE_RE.finditer(masked):
        dates.append(m.group(0).strip())
        _mask(chars, m.start(), m.end())
    masked = "".join(chars)
    for pattern, kind in ((_ORDINAL_RE, "ordinal"), (_LIST_MARKER_RE, "list marker")):
        for m in pattern.finditer(masked):
            ignored.append((m.group(0).strip(), kind))
            _mask(chars, m.start(), m.end())
        masked = "".join(chars)
    for m in _NAME_RE.finditer(masked):
        if not _NUM_WITH_SUFFIX_RE.match(m.group(0)):
            ignored.append((m.group(0), "name"))
            _mask(chars, m.start(), m.end())
    masked = "".join(chars)
    numbers = [_from_match(m) for m in NUMBER_RE.finditer(masked)]
    for m in WORD_RE.finditer(masked):
        mag = _MAGNITUDES.get((m.group("mag") or "").lower(), 1.0)
        if m.group("a") and mag == 1.0:
            continue  # "a", "one": an article or a pronoun, not a count
        if m.group("tens"):
            value = _TENS[m.group("tens").lower()] + _UNITS_WORDS.get((m.group("unit") or "").lower(), 0)
        else:
            value = _WORDS[m.group("small").lower()] if m.group("small") else 1
        # "two thousand" is rounded to the thousand; "two dozen" is exactly 24
        numbers.append(Mention(text=m.group(0), start=m.start(), end=m.end(), value=float(value) * mag,
                               step=mag if mag != 12.0 else 1.0, kind="word"))
    numbers.sort(key=lambda n: n.start)
    _join_ranges(masked, numbers)
    _across(masked, numbers)
    for i, n in enumerate(numbers):
        prev_end = numbers[i - 1].end if i else 0
        next_start = numbers[i + 1].start if i + 1 < len(numbers) else len(text)
        n.context, n.after = _context(masked, prev_end, n.start, n.end, next_start)
    ids.sort(key=lambda t: t[1])
    return Extraction(numbers=numbers, ids=ids, ignored=ignored, quotes=quotes, dates=dates)
