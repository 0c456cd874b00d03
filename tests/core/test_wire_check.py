"""The writer's fast check is never looser than Pydantic, and stores exactly what the Pydantic path stores."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from observability.core import builders
from observability.core.ingest import prepare_batch, pydantic_batch
from observability.core.schemas import EVENT_ADAPTER, EVENT_TYPES
from observability.core.wire_check import FAST_EVENT_TYPES, NotExpressible, fast_rows, model_struct
from observability.sim.generate import generate_events

NOW = 1_800_000_000_000_000


@pytest.fixture(scope="module")
def sim_events() -> list[dict[str, Any]]:
    evs = list(generate_events(seed=11, sim_seconds=240, events_per_second=40, settle=True,
                               retrain_every=60, tune_every=30, error_every=20))
    evs.append(builders.health(status="ok", queue_depth=3, fill_ratio=0.1, dropped={"DEBUG": 2},
                               writer_lag_s=0.2, events_per_s=900.0, kill_switch=False))
    evs.append(builders.kill_switch(action="fired", fill_ratio=0.95, queue_depth=900, threshold=0.9))
    for i, ev in enumerate(evs):
        ev["ts_logged"] = 1_767_300_000.25 + i
    return evs


def _pydantic_accepts(line: bytes) -> bool:
    try:
        EVENT_ADAPTER.validate_json(line)
    except ValidationError:
        return False
    return True


def test_every_event_type_has_a_fast_check() -> None:
    assert set(FAST_EVENT_TYPES) == set(EVENT_TYPES)


def test_fast_path_takes_every_simulator_event_and_stores_the_same_rows_as_pydantic(
    sim_events: list[dict[str, Any]],
) -> None:
    lines = [orjson.dumps(ev) for ev in sim_events]
    assert {ev["event_type"] for ev in sim_events} == set(EVENT_TYPES)
    fast = fast_rows(lines, NOW)
    assert None not in fast
    reference, dead, _ = pydantic_batch(lines, NOW)
    assert dead == []
    assert fast == reference


def test_a_bad_line_is_dead_lettered_with_pydantic_message_and_its_neighbours_keep_their_order() -> None:
    good = [builders.gate_decision(gate="spread", value=float(i), threshold=5.0, direction="max",
                                   symbol="BTC/USDT", trace_id=f"t{i}", ts_event=1_767_225_600.0 + i) for i in range(4)]
    bad = copy.deepcopy(good[1])
    bad["payload"]["value"] = "a lot"
    iso = copy.deepcopy(good[2])
    iso["ts_event"] = "2026-01-01T00:00:03Z"  # Pydantic accepts ISO text; the fast check leaves it to Pydantic
    lines = [orjson.dumps(ev) for ev in (good[0], bad, iso, good[3])]
    rows, dead, dead_idx = prepare_batch(lines, ts_stored=NOW)
    assert dead_idx == [1]
    assert "payload.value" in dead[0][3]
    assert [r[8] for r in rows] == ["t0", "t2", "t3"]
    assert rows[1][3] == 1_767_225_603_000_000


def test_leakage_is_left_to_pydantic_which_dead_letters_it() -> None:
    ev = builders.signal_received(signal_id="s1", side="long", confidence=0.6, price=100.0, model_id="m",
                                  symbol="BTC/USDT", trace_id="t1", features={"f": 1.0},
                                  feature_ts={"f": 1_767_225_599.0}, decision_timestamp=1_767_225_600.0,
                                  ts_event=1_767_225_600.0)
    ev["payload"]["feature_ts"]["f"] = 1_767_225_601.0  # an engine that bypasses the builder's own check
    line = orjson.dumps(ev)
    assert fast_rows([line], NOW) == [None]
    rows, dead, _ = prepare_batch([line], ts_stored=NOW)
    assert rows == [] and "leakage" in dead[0][3]


def test_schema_constructs_the_fast_check_cannot_express_stay_with_pydantic() -> None:
    class Patterned(BaseModel):
        model_config = ConfigDict(extra="forbid")
        code: Annotated[str, Field(pattern="^[A-Z]+$")]

    class Validated(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int

        @field_validator("x")
        @classmethod
        def _even(cls, v: int) -> int:
            return v

    class Lenient(BaseModel):
        x: int

    class Trimmed(BaseModel):
        model_config = ConfigDict(extra="forbid", str_min_length=1)
        name: str

    for model in (Patterned, Validated, Lenient, Trimmed):
        with pytest.raises(NotExpressible):
            model_struct(model)


_BAD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([-1.0, 0.0, 1e308, 2e10, 5e10, -5.0]),
    st.text(max_size=5), st.sampled_from(["", "x" * 65, "x" * 4001, "1.5", "true", "2026-01-01T00:00:00Z",
                                          "INFO", "long", "buy", "scalp", "take_profit"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def _mutated(draw: st.DrawFn, events: list[dict[str, Any]]) -> dict[str, Any]:
    ev = copy.deepcopy(draw(st.sampled_from(events)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(ev)
        path = draw(st.sampled_from(paths))
        parent = ev
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["set", "set", "delete", "extra"]))
        if action == "set":
            parent[path[-1]] = draw(_BAD_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["zzz", "seq", "payload_extra"]))] = draw(_BAD_VALUES)
    return ev


@pytest.fixture(scope="module")
def sample(sim_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for ev in sim_events:
        seen.setdefault(ev["event_type"], ev)
    return list(seen.values())


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_check_never_accepts_what_pydantic_rejects(sample: list[dict[str, Any]], data: st.DataObject) -> None:
    ev = data.draw(_mutated(sample))
    line = json.dumps(ev).encode()  # stdlib: big integers, and spaces the fast path keeps verbatim
    fast = fast_rows([line], NOW)[0]
    if fast is not None:
        assert _pydantic_accepts(line), f"fast check accepted an event Pydantic rejects: {line!r}"
        reference, dead, _ = pydantic_batch([line], NOW)
        assert dead == [] and len(reference) == 1
        assert _parsed_payload(reference[0]) == _parsed_payload(fast)


def _parsed_payload(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:10], json.loads(row[10]), *row[11:])
