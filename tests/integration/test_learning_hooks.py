"""HamiltonHook and MechanicHook against the real registry (learning.db + models/ in a tmp data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from observability.config.gates_config import GatesConfig
from observability.core.registry import Registry
from observability.core.schemas import EVENT_LIST_ADAPTER
from observability.integration import HamiltonHook, HookError, MechanicHook, UnknownGateError
from observability.paths import DataLayout
from observability.sim.generate import EventBuffer

T0 = 1_767_225_600.0


@pytest.fixture
def registry(layout: DataLayout) -> Iterator[Registry]:
    with Registry(layout) as reg:
        yield reg


def test_a_retrain_is_registered_promoted_and_logged_with_its_delta(registry: Registry) -> None:
    buf = EventBuffer()
    hamilton = HamiltonHook(buf, registry)
    v1 = hamilton.on_model_trained(b"weights-v1", name="direction", metrics={"auc": 0.61, "sharpe": 1.2},
                                   git_sha="abc1234", data_snapshot_id="snap-1", promote_to="champion", ts=T0)
    v2 = hamilton.on_model_trained(b"weights-v2", name="direction", metrics={"auc": 0.64, "sharpe": 1.5},
                                   parent_model_id=v1.model_id, git_sha="abc1234", data_snapshot_id="snap-2",
                                   reason="weekly retrain", promote_to="champion", ts=T0 + 60)
    assert registry.get_model("champion").model_id == v2.model_id
    assert [m.model_id for m in registry.alias_history("champion")] == [v1.model_id, v2.model_id]
    first, second = buf.events
    assert first["payload"]["delta"] is None and first["payload"]["alias"] == "champion"
    delta = second["payload"]["delta"]
    assert second["payload"]["model_id"] == v2.model_id and second["payload"]["parent_model_id"] == v1.model_id
    assert delta["metrics_before"] == {"auc": 0.61, "sharpe": 1.2}
    assert delta["metrics_after"] == {"auc": 0.64, "sharpe": 1.5}
    assert second["payload"]["data_snapshot_id"] == "snap-2" and second["source"] == "hamilton"
    assert second["ts_event"] == T0 + 60
    EVENT_LIST_ADAPTER.validate_python(buf.events)


def test_registering_the_same_model_twice_keeps_one_record(registry: Registry) -> None:
    hamilton = HamiltonHook(EventBuffer(), registry)
    a = hamilton.on_model_trained(b"same", name="m", metrics={"auc": 0.6}, git_sha="abc1234", ts=T0)
    b = hamilton.on_model_trained(b"same", name="m", metrics={"auc": 0.6}, git_sha="abc1234", ts=T0)
    assert a.model_id == b.model_id and len(registry.list_models()) == 1


def test_a_non_finite_metric_is_refused_before_anything_is_stored(registry: Registry) -> None:
    buf = EventBuffer()
    with pytest.raises(HookError, match=r"metric 'auc' must be a finite number, got nan"):
        HamiltonHook(buf, registry).on_model_trained(b"x", name="m", metrics={"auc": float("nan")}, git_sha="a")
    assert registry.list_models() == [] and buf.events == []


def test_promote_needs_a_reason_and_moves_the_alias(registry: Registry) -> None:
    buf = EventBuffer()
    hamilton = HamiltonHook(buf, registry)
    rec = hamilton.on_model_trained(b"w", name="m", metrics={"auc": 0.6}, git_sha="abc1234", ts=T0)
    with pytest.raises(HookError, match="reason is required"):
        hamilton.promote("champion", rec.model_id, reason="")
    hamilton.promote("champion", rec.model_id[:12], reason="beat the old champion on holdout", ts=T0 + 5)
    assert registry.aliases() == {"champion": rec.model_id}
    assert buf.events[-1]["payload"]["alias"] == "champion"


def test_a_threshold_change_is_recorded_in_history_logged_and_returned(registry: Registry) -> None:
    buf = EventBuffer()
    original = GatesConfig()
    mechanic = MechanicHook(buf, registry, original, baseline_ts=T0 - 60)
    baseline = len(registry.threshold_history("spread"))
    new = mechanic.set_gate_threshold("spread", 9.5, changed_by="alice", reason="fills fine up to 9.5 bps", ts=T0)
    assert new.gates["spread"].threshold == 9.5 and original.gates["spread"].threshold == 8.0
    assert mechanic.gates_config is new and new.config_hash() != original.config_hash()
    history = registry.threshold_history("spread")[baseline:]
    assert [(h.key, h.old_value, h.new_value, h.changed_by) for h in history] == [
        ("gates.spread.threshold", 8.0, 9.5, "alice")]
    assert registry.value_at("gates.spread.threshold", datetime.fromtimestamp(T0 + 1, tz=UTC)) == 9.5
    event = buf.events[-1]
    assert event["event_type"] == "config_changed" and event["source"] == "mechanic"
    expected = {"key": "gates.spread.threshold", "old_value": 8.0, "new_value": 9.5, "gate": "spread",
                "config_hash": new.config_hash()}
    assert {k: event["payload"][k] for k in expected} == expected
    runner = mechanic.set_gate_threshold("spread", 14.0, mode="runner", changed_by="alice", reason="runner review",
                                         ts=T0 + 2)
    assert runner.gates["spread"].modes["runner"] == 14.0 and runner.gates["spread"].threshold == 9.5
    assert registry.threshold_history("spread")[-1].key == "gates.spread.modes.runner"
    EVENT_LIST_ADAPTER.validate_python(buf.events)


def test_a_config_value_change_is_recorded_and_the_new_values_returned(registry: Registry) -> None:
    buf = EventBuffer()
    mechanic = MechanicHook(buf, registry, config_values={"risk.max_position": 10_000}, baseline_ts=T0 - 60)
    values = mechanic.set_config_value("risk.max_position", 15_000, changed_by="bob", reason="more capital", ts=T0)
    assert values == {"risk.max_position": 15_000}
    assert registry.value_at("risk.max_position", datetime.fromtimestamp(T0, tz=UTC)) == 15_000
    assert buf.events[-1]["payload"]["old_value"] == 10_000


def test_an_unchanged_value_records_nothing(registry: Registry) -> None:
    buf = EventBuffer()
    mechanic = MechanicHook(buf, registry)
    recorded, logged = len(registry.config_changes()), len(buf.events)
    assert mechanic.set_gate_threshold("spread", 8.0, changed_by="a", reason="b") is mechanic.gates_config
    assert len(buf.events) == logged and len(registry.config_changes()) == recorded


def test_bad_threshold_changes_are_refused_with_clear_errors(registry: Registry) -> None:
    mechanic = MechanicHook(EventBuffer(), registry)
    recorded = registry.config_changes()
    with pytest.raises(UnknownGateError, match=r"unknown gate 'sprd'; configured gates are \['spread'"):
        mechanic.set_gate_threshold("sprd", 1.0, changed_by="a", reason="b")
    with pytest.raises(HookError, match="reason is required"):
        mechanic.set_gate_threshold("spread", 1.0, changed_by="a", reason=" ")
    with pytest.raises(HookError, match="changed_by must name who"):
        mechanic.set_gate_threshold("spread", 1.0, changed_by="", reason="b")
    with pytest.raises(HookError, match="must be a finite number"):
        mechanic.set_gate_threshold("spread", float("inf"), changed_by="a", reason="b")
    with pytest.raises(HookError, match="use set_gate_threshold for gates"):
        mechanic.set_config_value("gates.spread.threshold", 1.0, changed_by="a", reason="b")
    assert registry.config_changes() == recorded


def test_without_a_registry_changes_are_logged_only() -> None:
    buf = EventBuffer()
    new = MechanicHook(buf, None).set_gate_threshold("regime", 0.35, changed_by="a", reason="b", ts=T0)
    assert new.gates["regime"].threshold == 0.35 and len(buf.events) == 1


def test_a_model_directory_is_registered_by_content(registry: Registry, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00\x01" * 100)
    (model_dir / "config.json").write_text('{"layers": 3}')
    buf = EventBuffer()
    rec = HamiltonHook(buf, registry).on_model_trained(model_dir, name="dir-model", metrics={"auc": 0.7},
                                                       git_sha="abc1234", ts=T0)
    assert rec.artifact_size == 200 + len('{"layers": 3}') and registry.verify() == []
    assert buf.events[0]["payload"]["model_id"] == rec.model_id


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def test_the_config_live_at_start_is_recorded_so_every_gate_answers_what_was_live(registry: Registry) -> None:
    buf = EventBuffer()
    MechanicHook(buf, registry, GatesConfig(), config_values={"risk.max_position": 10_000}, baseline_ts=T0)
    live = registry.config_at(_at(T0))
    assert {k: live[k] for k in ("gates.spread.threshold", "gates.spread.modes.runner", "risk.max_position")} == {
        "gates.spread.threshold": 8.0, "gates.spread.modes.runner": 12.0, "risk.max_position": 10_000}
    assert {k.split(".")[1] for k in live if k.startswith("gates.")} == set(GatesConfig().names())
    assert sorted(e["payload"]["key"] for e in buf.events) == sorted(live)  # logged, too
    again = EventBuffer()
    MechanicHook(again, registry, GatesConfig(), config_values={"risk.max_position": 10_000}, baseline_ts=T0 + 60)
    assert again.events == [] and len(registry.config_changes()) == len(live)  # nothing changed: nothing recorded


def test_a_config_file_edited_between_runs_is_recorded_as_a_change_at_the_next_start(registry: Registry) -> None:
    first = MechanicHook(EventBuffer(), registry, GatesConfig(), baseline_ts=T0)
    first.set_gate_threshold("volatility", 50.0, changed_by="mechanic", reason="tuned", ts=T0 + 10)
    edited = GatesConfig().with_threshold("spread", 9.0)  # the quant edited gates.yaml; volatility back to 45
    edited = edited.model_copy(update={"gates": {**edited.gates, "spread": edited.gates["spread"].model_copy(
        update={"modes": {}})}})  # and removed the runner override
    buf = EventBuffer()
    MechanicHook(buf, registry, edited, baseline_ts=T0 + 100)
    changed = {e["payload"]["key"]: (e["payload"]["old_value"], e["payload"]["new_value"]) for e in buf.events}
    assert changed == {"gates.spread.threshold": (8.0, 9.0), "gates.volatility.threshold": (50.0, 45.0),
                       "gates.spread.modes.runner": (12.0, None)}
    assert registry.value_at("gates.volatility.threshold", _at(T0 + 50)) == 50.0
    assert registry.value_at("gates.volatility.threshold", _at(T0 + 100)) == 45.0
    assert registry.value_at("gates.spread.modes.runner", _at(T0 + 100)) is None
    assert registry.threshold_history("spread")[-1].changed_by == "config"


def test_numpy_metrics_and_thresholds_are_accepted_as_plain_floats(registry: Registry) -> None:
    import numpy as np

    buf = EventBuffer()
    record = HamiltonHook(buf, registry).on_model_trained(
        b"np-weights", name="direction", metrics={"auc": np.float32(0.625), "n": np.int64(5000)}, ts=T0)
    assert record.metrics == {"auc": 0.625, "n": 5000.0}
    new = MechanicHook(buf, registry, baseline_ts=T0).set_gate_threshold(
        "spread", np.float32(9.5), changed_by="a", reason="b", ts=T0 + 1)
    assert new.gates["spread"].threshold == 9.5 and type(new.gates["spread"].threshold) is float
    EVENT_LIST_ADAPTER.validate_python(buf.events)


def test_threads_changing_different_gates_through_one_mechanic_lose_no_change(registry: Registry) -> None:
    import sys
    import threading

    mechanic = MechanicHook(EventBuffer(), registry, baseline_ts=T0)
    gates = ["spread", "volatility", "liquidity", "regime"]
    start = threading.Barrier(len(gates))

    def work(gate: str) -> None:
        start.wait()
        base = GatesConfig().gates[gate].threshold
        for i in range(1, 41):
            mechanic.set_gate_threshold(gate, base * (1 + i / 1000), changed_by=f"t-{gate}", reason="r", ts=T0 + i)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(g,)) for g in gates]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    final = mechanic.gates_config
    for gate in gates:  # every thread's last change is in the returned config and in the registry
        expected = GatesConfig().gates[gate].threshold * 1.04
        assert final.gates[gate].threshold == pytest.approx(expected)
        assert registry.value_at(f"gates.{gate}.threshold", _at(T0 + 100)) == pytest.approx(expected)
        history = [h for h in registry.threshold_history(gate) if h.changed_by.startswith("t-")]
        assert [h.old_value for h in history[1:]] == [h.new_value for h in history[:-1]]  # a chain, no gaps
