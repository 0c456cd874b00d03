"""Config change registry: structured diffs, gate threshold history, "what was live at T"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from observability.core.registry import Registry, structured_diff
from observability.errors import RegistryError
from observability.paths import DataLayout

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
KEY = "gates.spread.threshold"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def reg(layout: DataLayout) -> Registry:
    r = Registry(layout)
    yield r  # type: ignore[misc]
    r.close()


def test_what_was_live_at_t_across_several_changes_including_two_in_the_same_second(layout: DataLayout) -> None:
    with Registry(layout) as reg:
        reg.record_config_change(KEY, None, 4.0, changed_by="ops", gate="spread", ts=_at(0))
        reg.record_config_change(KEY, 4.0, 5.0, changed_by="mechanic", gate="spread", ts=_at(60))
        # two changes stamped with the very same instant: the later insertion wins
        reg.record_config_change(KEY, 5.0, 6.0, changed_by="mechanic", gate="spread", ts=_at(120))
        reg.record_config_change(KEY, 6.0, 5.5, changed_by="ops", gate="spread", reason="too tight", ts=_at(120))
        # a backfilled change inserted late with an earlier timestamp still lands at its own time
        reg.record_config_change("risk.max_position", None, 2, changed_by="ops", ts=_at(30))
    with Registry(layout, readonly=True) as ro:
        expected = {-1: None, 0: 4.0, 59.999: 4.0, 60: 5.0, 119: 5.0, 120: 5.5, 10_000: 5.5}
        assert {s: ro.value_at(KEY, _at(s)) for s in expected} == expected
        assert ro.config_at(_at(45)) == {KEY: 4.0, "risk.max_position": 2}
        assert ro.config_at(_at(120.5)) == {KEY: 5.5, "risk.max_position": 2}
        assert ro.config_at(_at(-1)) == {}
        live = ro.live_changes_at(_at(121))[KEY]
        assert (live.changed_by, live.reason) == ("ops", "too tight")


def test_same_second_tie_break_does_not_depend_on_microseconds_of_insertion(reg: Registry) -> None:
    same = T0.replace(microsecond=0)
    first = reg.record_config_change("k", None, "a", changed_by="x", ts=same)
    second = reg.record_config_change("k", "a", "b", changed_by="y", ts=same)
    assert second.change_seq > first.change_seq
    assert reg.value_at("k", same) == "b"


def test_removed_keys_are_not_live(reg: Registry) -> None:
    reg.record_config_change("feature.flag", None, True, changed_by="ops", ts=_at(0))
    reg.record_config_change("feature.flag", True, None, changed_by="ops", ts=_at(10))
    assert reg.config_at(_at(5)) == {"feature.flag": True}
    assert reg.config_at(_at(10)) == {}
    assert reg.value_at("feature.flag", _at(10)) is None


def test_gate_threshold_history_is_per_gate_and_ordered(reg: Registry) -> None:
    reg.record_config_change("gates.spread.threshold", 4, 5, changed_by="m", gate="spread", ts=_at(20))
    reg.record_config_change("gates.volume.threshold", 1, 2, changed_by="m", gate="volume", ts=_at(10))
    reg.record_config_change("gates.spread.threshold", None, 4, changed_by="m", gate="spread", ts=_at(0))
    reg.record_config_change("risk.max_position", 1, 2, changed_by="m", ts=_at(5))
    history = reg.threshold_history("spread")
    assert [(c.old_value, c.new_value) for c in history] == [(None, 4), (4, 5)]
    assert reg.gates() == ["spread", "volume"]
    assert [c.key for c in reg.config_changes(since=_at(5))] == [
        "risk.max_position", "gates.volume.threshold", "gates.spread.threshold"]


def test_structured_diff_names_every_changed_leaf(reg: Registry) -> None:
    old = {"tp_bps": 20, "sl_bps": 10, "trail": {"on": False, "bps": 5}}
    new = {"tp_bps": 25, "sl_bps": 10, "trail": {"on": True, "bps": 5}, "timeout_s": 600}
    change = reg.record_config_change("modes.scalp", old, new, changed_by="mechanic", reason="tune", ts=_at(0))
    assert [(d.path, d.op, d.old, d.new) for d in change.diff] == [
        ("timeout_s", "added", None, 600), ("tp_bps", "changed", 20, 25), ("trail.on", "changed", False, True)]
    stored = reg.config_changes()[0]
    assert stored == change
    assert structured_diff(1, 1) == []
    assert [d.op for d in structured_diff({"a": 1}, {})] == ["removed"]


def test_unserialisable_or_anonymous_changes_are_clear_errors(reg: Registry) -> None:
    with pytest.raises(RegistryError, match="JSON-serialisable"):
        reg.record_config_change("k", 1, float("inf"), changed_by="me")
    with pytest.raises(RegistryError, match="JSON-serialisable"):
        reg.record_config_change("k", 1, {1, 2}, changed_by="me")
    with pytest.raises(RegistryError, match="changed_by"):
        reg.record_config_change("k", 1, 2, changed_by="")
    with pytest.raises(RegistryError, match="timezone-aware"):
        reg.value_at("k", datetime(2026, 1, 1))
    assert reg.config_changes() == []
