"""Argument checks of the engine hook: each refuses a call that cannot be right with one HookError line.

They run before anything is logged or any state changes, so a refused call can be corrected and
retried, and the store never receives an event it would have to dead-letter.
"""

from __future__ import annotations

import math
import numbers
import time
from datetime import datetime

from observability.integration.errors import HookError

Timestamp = float | datetime


def secs(ts: Timestamp | None) -> float:
    if type(ts) is float:  # the engine's usual case, checked first: this runs several times per event
        return ts
    if ts is None:
        return time.time()
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise HookError(f"timestamp {ts.isoformat()} has no timezone; pass an aware UTC datetime")
        return ts.timestamp()
    if not _number(ts):
        raise HookError(f"timestamp {ts!r} must be unix seconds (a number, UTC) or an aware datetime")
    return float(ts)


def _number(value: object) -> bool:
    kind = type(value)
    if kind is float or kind is int:  # skips the abstract-class check (~1 µs) for plain numbers
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_size(name: str, value: float) -> float:
    if type(value) is float and value > 0.0:
        return value
    if not _number(value) or not value > 0.0:
        raise HookError(f"{name} must be > 0, got {value!r}; sizes are absolute, the side gives the direction")
    return float(value)


def bounded_text(name: str, value: str, limit: int, *, required: bool = True) -> str:
    """The envelope's and payloads' string limits, checked at the call: past the call the event
    would only fail validation in the writer and land in dead_letter, leaving its trace without it."""
    if type(value) is str and len(value) <= limit and (not required or value.strip()):
        return value
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        need = "a non-empty string" if required else "a string"
        raise HookError(f"{name} must be {need} of at most {limit} characters, got {value!r:.80}")
    return value


def excursions(mfe_bps: float, mae_bps: float) -> None:
    """MFE is the best move seen (>= 0), MAE the worst (<= 0): a magnitude passed as MAE would read as a gain."""
    for name, value in (("mfe_bps", mfe_bps), ("mae_bps", mae_bps)):
        if not _number(value) or not math.isfinite(value):
            raise HookError(f"{name} must be a finite number of basis points, got {value!r}")
    if mfe_bps < 0.0:
        raise HookError(f"mfe_bps must be >= 0 (the best excursion, in bps of entry), got {mfe_bps!r}")
    if mae_bps > 0.0:
        raise HookError(f"mae_bps must be <= 0 (the worst excursion, e.g. -12.5 bps), got {mae_bps!r}; "
                        "pass adverse moves as negative numbers")


def not_before(at: float, earlier: float, what: str, step: str, trace_id: str) -> None:
    """One trace's story is told in time order; a step stamped before the previous one is a clock or call bug."""
    if at < earlier:
        raise HookError(f"trace {trace_id!r}: {what} at {at:.6f} is before the {step} at {earlier:.6f}; "
                        "stamp each step at or after the previous one")


def step_ts(ts: Timestamp | None, earlier: float, what: str, step: str, trace_id: str,
            subject: str | None = None) -> float:
    """When the step happened: an explicit `ts` must not precede the previous step (a caller bug);
    a step the hook stamps itself is never put before it (the wall clock may step back, or the
    previous step came from an exchange clock a little ahead of ours) and never refused for it.
    `subject` (a trade or shadow id) is named after `what` in the error, formatted only then."""
    if type(ts) is float and ts >= earlier:
        return ts
    if ts is None:
        return max(time.time(), earlier)
    at = secs(ts)
    not_before(at, earlier, what if subject is None else f"{what} {subject!r}", step, trace_id)
    return at
