"""Typed payload columns (per event type) against an independent oracle: the JSON read in Python."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st
from storage_helpers import T0, store

from observability.core import builders
from observability.core.io.columns import PAYLOAD_COLUMNS, WIDE_SCHEMA
from observability.core.io.live_rows import (
    EXPORT_SCHEMA,
    arrow_reader,
    export_rows,
    fetch_raw_arrow,
    new_duck,
    partition_order,
    utc_date,
    widen,
)
from observability.core.schemas import PAYLOAD_CLASSES
from observability.paths import DataLayout
from observability.sim.generate import generate_events


def _every_type() -> list[dict[str, Any]]:
    return [
        *generate_events(seed=5, sim_seconds=40.0, events_per_second=60.0, start_ts=T0 - 30.0),
        builders.error(component="ws", error_type="Timeout", message="m", traceback="tb", ts_event=T0),
        builders.health(status="ok", queue_depth=1, fill_ratio=0.1, dropped={"INFO": 2}, writer_lag_s=0.1,
                        events_per_s=3.0, kill_switch=False),
        builders.kill_switch(action="fired", fill_ratio=0.9, queue_depth=9, threshold=0.95),
        builders.config_changed(key="k", old_value=None, new_value={"a": [1, 2]}, changed_by="me", ts_event=T0),
    ]


def _expected(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Each typed column as the JSON says: the value at its path, the model's default when absent, else null."""
    row: dict[str, Any] = {}
    for col in PAYLOAD_COLUMNS:
        value: Any = None
        if event_type in col.event_types:
            node: Any = payload
            for part in col.json_path:
                node = node.get(part) if isinstance(node, dict) else None
            value = node if node is not None else dict(col.defaults).get(event_type)
        if value is not None and col.arrow_type == pa.float64():
            value = float(value)
        row[col.name] = value
    return row


def _raw(layout: DataLayout) -> pa.Table:
    with arrow_reader(layout.live_db) as reader:
        return fetch_raw_arrow(reader, after_seq=0, limit=1_000_000)


def test_every_typed_column_of_every_event_type_equals_the_json_read_in_python(layout: DataLayout) -> None:
    store(layout, _every_type())
    raw = _raw(layout)
    wide = widen(new_duck(), raw)
    assert wide.schema == WIDE_SCHEMA
    assert set(wide["event_type"].to_pylist()) == set(PAYLOAD_CLASSES)
    names = [c.name for c in PAYLOAD_COLUMNS]
    got = wide.select(names).to_pylist()
    for i, (event_type, payload) in enumerate(zip(raw["event_type"].to_pylist(), raw["payload"].to_pylist(),
                                                  strict=True)):
        assert got[i] == _expected(event_type, json.loads(payload)), (i, event_type)
    assert wide["seq"].equals(raw["seq"]) and wide["payload"].equals(raw["payload"])


def test_keys_left_out_of_a_payload_read_as_the_models_defaults_and_null_rest_keys_are_dropped(
    layout: DataLayout,
) -> None:
    sparse = [
        builders.envelope("market_context", {"price": 10.0, "spread_bps": 1.0, "volatility_bps": 2.0},
                          symbol="BTC/USDT", ts_event=T0),
        builders.envelope("error", {"component": "ws", "error_type": "Timeout", "message": "m"}, ts_event=T0),
        builders.envelope("config_changed", {"key": "k", "old_value": None, "new_value": 3, "changed_by": "me"},
                          ts_event=T0),
    ]
    store(layout, sparse)
    raw = _raw(layout)
    wide = widen(new_duck(), raw).to_pylist()
    market, error, config = wide
    assert [market[k] for k in ("regime", "volume_1m", "liquidity_usd", "bid")] == ["unknown", 0.0, 0.0, None]
    assert error["recoverable"] is True and error["payload_rest"] is None  # no traceback key at all
    assert json.loads(config["payload_rest"]) == {"new_value": 3}  # old_value null: left out, as merge-patch does
    for row, payload in zip(wide, raw["payload"].to_pylist(), strict=True):
        expected = _expected(row["event_type"], json.loads(payload))
        assert {k: row[k] for k in expected} == expected


def test_export_rows_are_the_wide_rows_in_partition_order_without_the_payload(layout: DataLayout) -> None:
    store(layout, _every_type())
    raw = _raw(layout)
    duck = new_duck()
    rows = export_rows(duck, raw)
    assert rows.schema == EXPORT_SCHEMA
    expected = widen(duck, raw).take(partition_order(raw)).select(EXPORT_SCHEMA.names)
    assert rows.equals(expected)
    days = rows["date"].cast(pa.int32()).to_pylist()
    assert days == sorted(days) and len(set(days)) >= 2  # the simulated events straddle midnight UTC
    assert pc.all(pc.equal(rows["date"], pc.cast(rows["ts_event"], pa.date32()))).as_py()


def test_empty_input_gives_empty_tables_of_the_same_schemas(layout: DataLayout) -> None:
    store(layout, [builders.kill_switch(action="fired", fill_ratio=0.9, queue_depth=9, threshold=0.95)])
    empty = _raw(layout).slice(0, 0)
    duck = new_duck()
    assert widen(duck, empty).schema == WIDE_SCHEMA and export_rows(duck, empty).num_rows == 0


@given(st.lists(st.integers(min_value=-(2**53), max_value=2**53), max_size=50), st.sampled_from(["UTC", "Asia/Tokyo"]))
def test_a_rows_partition_date_is_the_utc_date_of_its_event_time(us: list[int], zone: str) -> None:
    ts = pa.chunked_array([pa.array(us, pa.timestamp("us", tz=zone))])
    epoch = datetime(1970, 1, 1)
    assert utc_date(ts).to_pylist() == [(epoch + timedelta(microseconds=v)).date() for v in us]
