"""The simulated engine's event stream: complete, ordered, consistent and reproducible."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from observability.config.gates_config import GatesConfig
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.core.registry import Registry
from observability.core.schemas import EVENT_LIST_ADAPTER, EVENT_TYPES
from observability.paths import DataLayout
from observability.sim import generate_events

ENGINE_TYPES = set(EVENT_TYPES) - {"health", "kill_switch"}  # those two come from the logger, not the engine
OPEN_CLOSE = {"trade_opened": "trade_closed", "shadow_trade_opened": "shadow_trade_closed"}
Event = dict[str, Any]


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(generate_events(11, 400, events_per_second=100, settle=True, retrain_every=60.0))


def test_a_run_produces_every_engine_event_type(events: list[Event]) -> None:
    counts = Counter(e["event_type"] for e in events)
    assert set(counts) == ENGINE_TYPES
    assert counts["gate_decision"] == 6 * counts["signal_received"]
    assert len(events) == pytest.approx(400 * 100, rel=0.15)


def test_every_event_validates_and_ingests_without_dead_letters(events: list[Event], layout: DataLayout) -> None:
    EVENT_LIST_ADAPTER.validate_python(events)
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    assert conn.execute("SELECT count(*) FROM live_feed").fetchone()[0] == len(events)
    assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 0
    conn.close()


def _traces(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e["trace_id"] is not None and e["event_type"] not in ("market_context", "error"):
            out[e["trace_id"]].append(e)
    return out


def test_every_trace_is_complete_and_in_order(events: list[Event]) -> None:
    names = GatesConfig().names()
    outcomes: Counter[str] = Counter()
    for trace_id, trace in _traces(events).items():
        kinds = [e["event_type"] for e in trace]
        assert kinds[:7] == ["signal_received"] + ["gate_decision"] * 6, trace_id
        assert [e["payload"]["gate"] for e in trace[1:7]] == names
        passed = all(e["payload"]["passed"] for e in trace[1:7])
        expected_open = "trade_opened" if passed else "shadow_trade_opened"
        assert kinds[7:] == [expected_open, OPEN_CLOSE[expected_open]], trace_id
        stamps = [e["ts_event"] for e in trace]
        assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
        assert len({(e["symbol"], e["mode"]) for e in trace}) == 1
        outcomes[kinds[-1]] += 1
        outcomes[trace[-1]["mode"]] += 1
    assert outcomes["trade_closed"] > 50 and outcomes["shadow_trade_closed"] > 50
    assert outcomes["scalp"] > outcomes["runner"] > 20


def test_closed_trade_pnl_is_what_its_fills_and_fees_imply(events: list[Event]) -> None:
    opened = {e["payload"]["trade_id"]: e["payload"] for e in events if e["event_type"] == "trade_opened"}
    closes = [e["payload"] for e in events if e["event_type"] == "trade_closed"]
    assert closes and len(closes) == len(opened)
    for c in closes:
        entry = opened[c["trade_id"]]["execution"]
        exit_ = c["exit_execution"]
        sign = 1.0 if c["side"] == "long" else -1.0
        gross = sign * (exit_["price_filled"] - entry["price_filled"]) * entry["size_filled"]
        assert c["entry_price"] == entry["price_filled"] and c["size"] == entry["size_filled"]
        assert exit_["size_filled"] == entry["size_filled"] and entry["side"] != exit_["side"]
        assert c["pnl_gross"] == pytest.approx(gross, rel=1e-9, abs=1e-9)
        assert c["pnl_net"] == pytest.approx(gross - entry["fees"] - exit_["fees"], rel=1e-9, abs=1e-9)
        assert c["mfe_bps"] >= 0 >= c["mae_bps"]


def test_exits_cover_every_reason_the_engine_uses(events: list[Event]) -> None:
    reasons = Counter(e["payload"]["exit_reason"] for e in events
                      if e["event_type"] in ("trade_closed", "shadow_trade_closed"))
    assert set(reasons) == {"take_profit", "stop_loss", "trailing_stop", "timeout", "signal_reversal"}


def test_gates_land_near_their_thresholds_often(events: list[Event]) -> None:
    gates = [e["payload"] for e in events if e["event_type"] == "gate_decision"]
    spec = GatesConfig().gates
    per_gate: dict[str, list[bool]] = defaultdict(list)
    near = 0
    for g in gates:
        per_gate[g["gate"]].append(g["passed"])
        near += abs(g["margin"]) <= spec[g["gate"]].near_miss_margin
    rates = {k: sum(v) / len(v) for k, v in per_gate.items()}
    assert all(0.5 < r < 1.0 for r in rates.values()), rates
    assert near / len(gates) > 0.03


_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _without_ids(events: Iterator[Event]) -> list[Any]:
    """Replace every generated id by the order of its first appearance: equal streams compare equal."""
    seen: dict[str, int] = {}

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, str) and _ID.match(v):
            return seen.setdefault(v, len(seen))
        return v

    return [norm(e) for e in events]


def test_the_same_seed_gives_the_same_events_ids_aside() -> None:
    a = _without_ids(generate_events(5, 120, events_per_second=80, settle=True))
    b = _without_ids(generate_events(5, 120, events_per_second=80, settle=True))
    c = _without_ids(generate_events(6, 120, events_per_second=80, settle=True))
    assert a == b
    assert a != c


def test_the_event_density_follows_the_requested_rate() -> None:
    # A slow run is a few hundred events (Poisson noise ~5 %); at a high rate the density must hold
    # within a few percent, or the demo reports a rate short of what was asked (it was 3 % short).
    for rate, seconds, rel in ((20.0, 30, 0.1), (2_000.0, 30, 0.03), (20_000.0, 10, 0.03)):
        n = sum(1 for _ in generate_events(3, seconds, events_per_second=rate))
        assert n == pytest.approx(seconds * rate, rel=rel)


def test_with_a_registry_retrains_are_registered_and_the_champion_moves(layout: DataLayout) -> None:
    with Registry(layout) as reg:
        events = list(generate_events(2, 400, events_per_second=20, registry=reg, config_registry=reg,
                                      retrain_every=40.0, tune_every=30.0))
        updates = [e["payload"] for e in events if e["event_type"] == "model_updated"]
        assert len(updates) >= 8
        assert {m.model_id for m in reg.list_models()} == {u["model_id"] for u in updates}
        promoted = [u["model_id"] for u in updates if u["alias"] == "champion"]
        assert [m.model_id for m in reg.alias_history("champion")] == promoted and len(promoted) >= 2
        for u in updates[1:]:
            assert u["delta"]["metrics_before"] == reg.get_model(u["parent_model_id"]).metrics
        signal_models = {e["payload"]["model_id"] for e in events if e["event_type"] == "signal_received"}
        assert signal_models <= set(promoted)
        changes = [e["payload"] for e in events if e["event_type"] == "config_changed"]
        assert changes and len(reg.config_changes()) == len(changes)
        gated = [c for c in changes if c["gate"]]
        assert gated and reg.threshold_history(gated[0]["gate"])[0].new_value == gated[0]["new_value"]
