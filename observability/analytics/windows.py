"""Time windows for analytics: '1h', '24h', '7d', 'all', or a custom since/until."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from observability.config.metrics_config import parse_duration
from observability.errors import ObservabilityError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WindowError(ObservabilityError):
    """A window or time given on the command line cannot be understood."""


class Window(BaseModel):
    """[since, until) in UTC, with the label reports print (e.g. '24h')."""

    model_config = ConfigDict(frozen=True)

    label: str
    since: datetime
    until: datetime

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, ts: datetime) -> datetime:
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)

    def sql_bounds(self) -> tuple[str, str]:
        """TIMESTAMPTZ literals (generated here, never from user text) for windowed queries."""
        return (f"TIMESTAMPTZ '{self.since.astimezone(UTC).isoformat()}'",
                f"TIMESTAMPTZ '{self.until.astimezone(UTC).isoformat()}'")


def window_us(window: Window) -> tuple[int, int]:
    """[since, until) as integer microseconds since the epoch (exact, no float rounding)."""
    one = timedelta(microseconds=1)
    return (window.since - EPOCH) // one, (window.until - EPOCH) // one


def parse_time(text: str) -> datetime:
    """ISO date or datetime (UTC when no offset) or unix seconds."""
    t = text.strip()
    try:
        return datetime.fromtimestamp(float(t), tz=UTC)
    except ValueError:
        pass
    try:
        ts = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(f"cannot read time {text!r}; use ISO like 2026-01-31 or 2026-01-31T12:00Z, "
                          "or unix seconds") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def make_window(spec: str = "24h", *, until: datetime | None = None, since: datetime | None = None) -> Window:
    """A window ending at `until` (default now): a duration ('1h', '24h', '7d'), 'all', or since..until."""
    end = until or datetime.now(UTC)
    if since is not None:
        if since >= end:
            raise WindowError(f"window start {since.isoformat()} is not before its end {end.isoformat()}")
        return Window(label="custom", since=since, until=end)
    if spec == "all":
        return Window(label="all", since=EPOCH, until=end)
    try:
        seconds = parse_duration(spec)
    except ValueError as exc:
        raise WindowError(f"{exc} (or 'all')") from None
    return Window(label=spec, since=end - timedelta(seconds=seconds), until=end)


def day_window(day: str | None = None) -> Window:
    """The UTC day `day` (YYYY-MM-DD; default yesterday), for daily reports and insights."""
    if day is None:
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    else:
        try:
            start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise WindowError(f"date must be YYYY-MM-DD, got {day!r}") from None
    return Window(label=start.strftime("%Y-%m-%d"), since=start, until=start + timedelta(days=1))


def add_window_args(parser: Any, default: str = "24h") -> None:
    """--window / --since / --until, shared by the analytics commands."""
    parser.add_argument("--window", default=default, help=f"1h, 24h, 7d, all, ... (default {default})")
    parser.add_argument("--since", default=None, help="window start (ISO time or unix seconds); overrides --window")
    parser.add_argument("--until", default=None, help="window end (default now)")


def window_from_args(args: Any) -> Window:
    until = parse_time(args.until) if args.until else None
    since = parse_time(args.since) if args.since else None
    return make_window(args.window, until=until, since=since)
