"""Timelines read from the Parquet history (trace_history.py) equal the ones live.db gives.

The crafted data covers what the history path has to get right: a trace whose rows lie in two files
(its close falls on the next day), a trace half exported and half still live, ids in no order (row-group
statistics cannot prune), a Parquet file rewritten in place after its statistics were read, and an id
found nowhere. Every event also stays in live.db, so each history answer is checked against the live one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from observability.analytics.decision_trace import TraceTimeline, trace_timeline
from observability.analytics.gate_explainer import UnknownTraceError
from observability.analytics.trace_history import (
    History,
    Part,
    history_of,
    may_hold_trace,
    trace_files,
    trace_rows,
)
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.dataset import list_files, open_target
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from tests.analytics.test_trace_context import closed, gate, opened, others, signal, snapshot

MIDNIGHT = 1_767_657_600.0  # 2026-01-06 00:00 UTC
_RNG = random.Random(7)
RANDOM_IDS = [f"{_RNG.getrandbits(64):016x}" for _ in range(6)]


def trade(trace: str, ts: float, hold: float) -> list[dict[str, object]]:
    return [signal(trace, ts), gate(trace, ts + 0.1), opened(trace, ts + 0.2), closed(trace, ts + hold)]


def sol_signal(ts: float) -> list[dict[str, object]]:
    """A snapshot and a blocked signal on a symbol whose partition directory is URI-encoded (SOL%2FUSDT)."""
    return [builders.market_context(symbol="SOL/USDT", price=150.0, spread_bps=4.5, volatility_bps=5.0, ts_event=ts),
            builders.signal_received(signal_id="sig-sol", side="short", confidence=0.4, price=150.0, model_id="m1",
                                     symbol="SOL/USDT", trace_id="sol", mode="scalp", ts_event=ts + 1),
            builders.gate_decision(gate="model_confidence", value=0.4, threshold=0.55, direction="min",
                                   symbol="SOL/USDT", trace_id="sol", mode="scalp", signal_id="sig-sol",
                                   ts_event=ts + 1.1)]


def ingest(layout: DataLayout, events: list[dict[str, object]]) -> None:
    conn = open_live_db(layout.live_db)
    assert ingest_events(conn, events) == (len(events), 0)
    conn.close()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    layout = DataLayout(Path(tmp_path_factory.mktemp("hist")) / "data").ensure()
    ingest(layout, [snapshot("BTCUSDT", 1.0, MIDNIGHT - 60), *sol_signal(MIDNIGHT - 30),
                    *trade("span", MIDNIGHT - 5, 10.0)])
    export_once(layout, wait=True)
    # three exports of traces with unordered ids: every file's trace_id range covers the others' ids
    for k in range(3):
        ts = MIDNIGHT + 100 * (k + 1)
        ingest(layout, [snapshot("BTCUSDT", 2.0 + k, ts - 1), *others(50, ts),
                        *trade(RANDOM_IDS[2 * k], ts, 1.0), *trade(RANDOM_IDS[2 * k + 1], ts + 2, 1.0)])
        export_once(layout, wait=True)
    # 'split': signal, gate and entry exported; the close arrives after the export, so it is still live
    ingest(layout, [snapshot("BTCUSDT", 7.0, MIDNIGHT + 499), *trade("split", MIDNIGHT + 500, 30.0)[:3]])
    export_once(layout, wait=True)
    ingest(layout, [snapshot("BTCUSDT", 8.0, MIDNIGHT + 520), closed("split", MIDNIGHT + 530)])
    return layout


@pytest.fixture(scope="module")
def con(layout: DataLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    q = QueryLayer(layout)
    yield q.connect()
    q.close()


def same(history: TraceTimeline, live: TraceTimeline) -> None:
    assert history.source == "query layer" and live.source == "live.db"
    assert history.trace == live.trace
    assert history.pnl == live.pnl
    assert history.context == live.context


def test_the_history_path_reads_the_files_the_query_layer_reads(layout: DataLayout,
                                                                  con: duckdb.DuckDBPyConnection) -> None:
    history = history_of(con)
    assert history is not None  # else every timeline here came from the views, not from trace_history
    assert sorted(f for p in history.parts for f in p.files) == sorted(
        f.path for f in list_files(open_target(layout)))


def test_a_trace_whose_rows_lie_in_two_files_is_whole(layout: DataLayout, con: duckdb.DuckDBPyConnection) -> None:
    history = trace_timeline("span", con=con)
    assert [s.ts.day for s in history.trace.steps] == [5, 5, 5, 6]  # the close is in the next day's file
    same(history, trace_timeline("span", layout=layout))
    assert history.trace.outcome.startswith("taken, closed")


def test_a_trace_partly_exported_and_partly_live_is_whole(layout: DataLayout,
                                                           con: duckdb.DuckDBPyConnection) -> None:
    history = trace_timeline("split", con=con)
    assert [s.stage for s in history.trace.steps] == ["signal", "gate spread", "entry", "exit"]
    assert [c.spread_bps if c else None for c in history.context] == [7.0, 7.0, 7.0, 8.0]  # the last one live
    same(history, trace_timeline("split", layout=layout))


@pytest.mark.parametrize("trace", RANDOM_IDS)
def test_traces_with_unordered_ids_are_found_in_whichever_file_holds_them(
        layout: DataLayout, con: duckdb.DuckDBPyConnection, trace: str) -> None:
    history = trace_timeline(trace, con=con)
    assert len(history.trace.steps) == 4
    same(history, trace_timeline(trace, layout=layout))


def test_traces_with_unordered_ids_are_scanned_only_in_the_file_holding_them(con: duckdb.DuckDBPyConnection) -> None:
    history = history_of(con)
    assert history is not None
    files = [f for p in history.parts for f in p.files]
    left_by_statistics = 0
    for trace in RANDOM_IDS:
        held = [f for f in files if trace in pq.read_table(f, columns=["trace_id"])["trace_id"].to_pylist()]
        assert len(held) == 1
        assert [f for part in trace_files(con, history, trace) for f in part] == held
        left_by_statistics += sum(may_hold_trace(f, trace) for f in files) > 1
    assert left_by_statistics  # some id lies in other files' min/max ranges too: their bloom filters rule it out


def test_a_symbol_with_a_slash_gets_the_snapshot_of_its_encoded_partition(
        layout: DataLayout, con: duckdb.DuckDBPyConnection) -> None:
    history = trace_timeline("sol", con=con)
    assert [c.spread_bps if c else None for c in history.context] == [4.5, 4.5]
    same(history, trace_timeline("sol", layout=layout))


def test_a_file_reaching_past_its_bound_gives_only_the_rows_up_to_it(con: duckdb.DuckDBPyConnection) -> None:
    # the query layer bounds this box's files at its watermark (compaction can merge rows above it into a
    # listed file); here the bound is set inside the file holding split's exported rows
    history = history_of(con)
    assert history is not None
    exported = [r for r in trace_rows(con, history, "split") if r[3] != "trade_closed"]
    (file,) = [f for p in history.parts for f in p.files
               if "split" in pq.read_table(f, columns=["trace_id"])["trace_id"].to_pylist()]
    bound = exported[1][0]
    cut = History((Part((file,), bound),), history.live_from)
    assert [r[0] for r in trace_rows(con, cut, "split")] == [r[0] for r in exported[:2]] + [
        r[0] for r in trace_rows(con, history, "split") if r[3] == "trade_closed"]


def test_an_id_in_no_file_and_no_live_row_is_an_unknown_trace(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnknownTraceError, match="no events with trace_id 'nowhere'"):
        trace_timeline("nowhere", con=con)


def test_a_file_rewritten_in_place_is_read_with_its_new_statistics(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    ingest(layout, trade("aaa", MIDNIGHT, 1.0))
    export_once(layout, wait=True)
    q = QueryLayer(layout)
    trace_timeline("aaa", con=q.connect())  # the file's statistics are now known to this process
    q.close()
    (path,) = [f.path for f in list_files(open_target(layout))]
    table = pq.read_table(path)
    renamed = pc.if_else(pc.equal(table["trace_id"], "aaa"), "zzz", table["trace_id"])
    pq.write_table(table.set_column(table.schema.get_field_index("trace_id"), "trace_id", renamed), path)
    q = QueryLayer(layout)
    try:
        assert [s.stage for s in trace_timeline("zzz", con=q.connect()).trace.steps] == [
            "signal", "gate spread", "entry", "exit"]
    finally:
        q.close()


@pytest.mark.parametrize("column", ["mfe_bps", "regime"])  # one the trace's payload reads, one its context reads
def test_a_file_written_before_a_column_existed_is_read_through_the_views(tmp_path: Path, column: str) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    ingest(layout, [snapshot("BTCUSDT", 3.0, MIDNIGHT + 1), *trade("old", MIDNIGHT + 2, 1.0)])
    export_once(layout, wait=True)
    (path,) = [f.path for f in list_files(open_target(layout))]
    pq.write_table(pq.read_table(path).drop_columns([column]), path)  # as an exporter before the field existed
    ingest(layout, [snapshot("BTCUSDT", 4.0, MIDNIGHT + 59), *trade("new", MIDNIGHT + 60, 1.0)])
    export_once(layout, wait=True)  # a newer file has the column: the views fill it with NULL for the old one
    q = QueryLayer(layout)
    try:
        con = q.connect()
        history = trace_timeline("old", con=con)
        assert [s.stage for s in history.trace.steps] == ["signal", "gate spread", "entry", "exit"]
        assert [c.spread_bps if c else None for c in history.context] == [3.0] * 4
        assert ("MFE None" in history.trace.steps[-1].summary) == (column == "mfe_bps")
        assert all((c.regime is None) == (column == "regime") for c in history.context if c)
        assert [c.spread_bps if c else None for c in trace_timeline("new", con=con).context] == [4.0] * 4
    finally:
        q.close()


def test_a_refresh_after_an_export_gives_the_next_lookup_the_new_file_and_bound(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    ingest(layout, trade("first", MIDNIGHT, 1.0))
    export_once(layout, wait=True)
    q = QueryLayer(layout)
    try:
        con = q.connect()
        assert len(trace_timeline("first", con=con).trace.steps) == 4
        ingest(layout, trade("second", MIDNIGHT + 60, 1.0))
        export_once(layout, wait=True)
        q.refresh()
        history = history_of(con)
        assert history is not None
        assert [(len(p.files), p.bound) for p in history.parts] == [(2, q.watermark)]
        # its rows left `_live` with the refresh: only the new file, if the lookup reads it, holds them
        assert con.execute("SELECT count(*) FROM _live WHERE trace_id = 'second'").fetchall() == [(0,)]
        same(trace_timeline("second", con=con), trace_timeline("second", layout=layout))
    finally:
        q.close()
