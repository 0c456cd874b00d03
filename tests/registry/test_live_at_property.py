"""Property: for any sequence of changes (timestamps colliding on purpose, inserted out of order),
`value_at`/`config_at` agree with a plain replay — last change with ts <= T, later insertion wins."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.core.registry import Registry
from observability.paths import DataLayout

T0 = datetime(2026, 5, 1, tzinfo=UTC)
KEYS = ["gates.spread.threshold", "gates.volume.threshold", "risk.max_position"]

changes = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(0, 5), st.one_of(st.none(), st.integers(-3, 3))),
    min_size=1, max_size=12,
)


def _replay(log: list[tuple[int, str, int, Any]], at: int) -> dict[str, Any]:
    """Reference: sort by (second, insertion order) and keep the last value per key."""
    live: dict[str, Any] = {}
    for _order, key, second, value in sorted(log, key=lambda c: (c[2], c[0])):
        if second <= at:
            live[key] = value
    return {k: v for k, v in live.items() if v is not None}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes)
def test_live_at_t_matches_a_plain_replay(seq: list[tuple[str, int, int | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Registry(DataLayout(Path(tmp) / "data")) as reg:
        log = []
        for order, (key, second, value) in enumerate(seq):
            reg.record_config_change(key, None, value, changed_by="prop", ts=T0 + timedelta(seconds=second))
            log.append((order, key, second, value))
        for at in range(-1, 7):
            expected = _replay(log, at)
            when = T0 + timedelta(seconds=at)
            assert reg.config_at(when) == expected
            assert {k: reg.value_at(k, when) for k in KEYS} == {k: expected.get(k) for k in KEYS}
