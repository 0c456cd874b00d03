"""Small pure helpers behind the gate panes (bucketed pass rates, a histogram, near misses)."""

from __future__ import annotations

from collections.abc import Sequence


def rate_series(flags: Sequence[bool], buckets: int) -> list[float]:
    """Pass rate in `buckets` consecutive equal slices of the decisions (oldest first), for a sparkline."""
    if not flags:
        return []
    size = max(1, -(-len(flags) // buckets))
    return [sum(chunk) / len(chunk) for chunk in (flags[i:i + size] for i in range(0, len(flags), size))]


def histogram(values: Sequence[float], bins: int, marks: Sequence[float] = ()) -> list[tuple[float, float, int]]:
    """(low, high, count) bins spanning the values and the marks (so the threshold is always on the axis)."""
    if not values:
        return []
    lo = min([*values, *marks])
    hi = max([*values, *marks])
    if hi == lo:
        return [(lo, hi, len(values))]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)]


def near_miss(margin: float, near_miss_margin: float) -> bool:
    """A failure within `near_miss_margin` of the threshold (margin < 0 means failed by -margin)."""
    return margin < 0 and -margin <= near_miss_margin
