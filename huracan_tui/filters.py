"""The feed filter language typed after `/`: `type:a,b sym:X sev:LEVEL mode:scalp free text`, `!` inverts."""

from __future__ import annotations

from observability.analytics.live_feed import FeedFilter
from observability.core.schemas import EVENT_TYPES, SEVERITY_LEVEL
from observability.errors import EventValidationError

_SHORT = {"gate": "gate_decision", "signal": "signal_received", "open": "trade_opened", "close": "trade_closed",
          "trade": "trade_opened,trade_closed", "shadow": "shadow_trade_opened,shadow_trade_closed",
          "market": "market_context", "model": "model_updated", "config": "config_changed", "kill": "kill_switch"}


def parse_filter(text: str) -> FeedFilter:
    """Parse the filter line; unknown types, severities or modes are one-line errors that list the valid ones."""
    text = text.strip()
    invert = text.startswith("!")
    text = text.lstrip("!").strip()
    types: set[str] = set()
    symbols: set[str] = set()
    modes: set[str] = set()
    severity: str | None = None
    words: list[str] = []
    for token in text.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep or key not in ("type", "sym", "symbol", "sev", "severity", "mode"):
            words.append(token)
            continue
        if key == "type":
            for t in ",".join(_SHORT.get(v, v) for v in value.split(",") if v).split(","):
                if t not in EVENT_TYPES:
                    raise EventValidationError(f"unknown event type {t!r}; use one of {sorted(EVENT_TYPES)} "
                                               f"or {sorted(_SHORT)}")
                types.add(t)
        elif key in ("sym", "symbol"):
            symbols.update(v.upper() for v in value.split(",") if v)
        elif key in ("sev", "severity"):
            severity = value.upper()
            if severity not in SEVERITY_LEVEL:
                raise EventValidationError(f"unknown severity {value!r}; use one of {list(SEVERITY_LEVEL)}")
        else:
            for m in value.split(","):
                if m not in ("scalp", "runner", "none"):
                    raise EventValidationError(f"unknown mode {m!r}; use scalp, runner or none")
                modes.add(m)
    return FeedFilter(frozenset(types), frozenset(symbols), frozenset(modes), severity, " ".join(words), invert)


def describe(flt: FeedFilter, *, for_input: bool = False) -> str:
    if flt.empty:
        return "" if for_input else "none"
    parts = []
    if flt.event_types:
        parts.append("type:" + ",".join(sorted(flt.event_types)))
    if flt.symbols:
        parts.append("sym:" + ",".join(sorted(flt.symbols)))
    if flt.min_severity:
        parts.append(f"sev:{flt.min_severity}")
    if flt.modes:
        parts.append("mode:" + ",".join(sorted(flt.modes)))
    if flt.text:
        parts.append(flt.text)
    return ("!" if flt.invert else "") + " ".join(parts)
