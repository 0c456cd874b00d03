"""History timelines over the other dataset shapes the query layer reads: a dataset shared by two boxes
(own files bounded at the watermark, the other box's not, seqs overlapping) and a dataset on S3 (an Arrow
dataset, no file list: the views answer). Each is checked against the live.db timeline of the box that logged it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from observability.analytics.decision_trace import trace_timeline
from observability.analytics.trace_history import history_of
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.dataset import s3_filesystem
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from tests.analytics.test_trace_context import closed, gate, opened, signal, snapshot

T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC


def eth_trade(trace: str, ts: float) -> list[dict[str, object]]:
    """Box B's trade: on ETHUSDT, so no BTCUSDT snapshot of box A (same seqs) can be its context."""
    return [builders.market_context(symbol="ETHUSDT", price=3000.0, spread_bps=6.0, volatility_bps=5.0,
                                    ts_event=ts - 1),
            builders.signal_received(signal_id=f"sig-{trace}", side="long", confidence=0.8, price=3000.0,
                                     model_id="m1", symbol="ETHUSDT", trace_id=trace, mode="scalp", ts_event=ts),
            builders.gate_decision(gate="spread", value=3.0, threshold=8.0, direction="max", symbol="ETHUSDT",
                                   trace_id=trace, mode="scalp", signal_id=f"sig-{trace}", ts_event=ts + 0.1)]


def fill(layout: DataLayout, events: list[dict[str, object]]) -> DataLayout:
    layout.ensure()
    conn = open_live_db(layout.live_db)
    assert ingest_events(conn, events) == (len(events), 0)
    conn.close()
    return layout


def assert_same_as_live(trace: str, con: duckdb.DuckDBPyConnection, live: DataLayout) -> None:
    history, own = trace_timeline(trace, con=con), trace_timeline(trace, layout=live)
    assert history.source == "query layer"
    assert history.trace == own.trace and history.context == own.context
    assert all(c is not None for c in history.context)


def test_a_shared_dataset_gives_each_boxs_traces_from_its_own_files(tmp_path: Path) -> None:
    uri = (tmp_path / "shared").as_uri()
    a = fill(DataLayout(tmp_path / "a"), [snapshot("BTCUSDT", 2.0, T0), signal("a1", T0 + 1), gate("a1", T0 + 1.1),
                                          opened("a1", T0 + 2), closed("a1", T0 + 5)])
    b = fill(DataLayout(tmp_path / "b"), eth_trade("b1", T0 + 1))
    export_once(b, uri=uri)
    export_once(a, uri=uri)
    q = QueryLayer(a, s3_uri=uri)
    try:
        con = q.connect()
        history = history_of(con)
        assert history is not None and [p.bound is not None for p in history.parts] == [True, False]
        assert_same_as_live("a1", con, a)
        assert_same_as_live("b1", con, b)
    finally:
        q.close()


def test_a_connection_of_no_query_layer_has_no_history_files() -> None:
    con = duckdb.connect()
    try:
        assert history_of(con) is None  # nothing published: the caller reads the views
    finally:
        con.close()


def test_a_dataset_on_s3_is_read_through_the_views(tmp_path: Path, s3_endpoint: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURACAN_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3_filesystem().create_dir("huracan-trace")
    uri = "s3://huracan-trace/events"
    layout = fill(DataLayout(tmp_path / "data"), [snapshot("BTCUSDT", 2.0, T0), signal("s1", T0 + 1),
                                                  gate("s1", T0 + 1.1)])
    export_once(layout, uri=uri)
    q = QueryLayer(layout, s3_uri=uri)
    try:
        con = q.connect()
        assert history_of(con) is None
        assert_same_as_live("s1", con, layout)
    finally:
        q.close()
