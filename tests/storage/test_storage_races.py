"""Exactly once where the storage jobs and readers interleave: a reader's watermark read and its file
listing, a box's reconcile and another box's export, a crash between watermark and marker."""

from __future__ import annotations

from storage_helpers import T0, gate_events, store, trade_pair

from observability.core.io.compaction import compact
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.paths import DataLayout


class _ExportAndCompactBetweenReadAndListing(QueryLayer):
    """A reader whose Parquet listing comes after the upkeep ran once more (the real jobs, run at the
    point where a concurrent writer process may run them)."""

    def __init__(self, layout: DataLayout, uri: str | None = None) -> None:
        super().__init__(layout, uri)
        self.armed = False

    def _read_live(self) -> None:
        super()._read_live()
        if self.armed:
            self.armed = False
            export_once(self.layout, uri=self._target.uri)
            compact(self.layout, uri=self._target.uri)


def _count(q: QueryLayer) -> tuple[int, int]:
    (row,) = q.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").to_pylist()
    return row["n"], row["d"]


def test_a_file_merged_past_the_readers_watermark_after_its_live_read_is_not_counted_twice(
    layout: DataLayout,
) -> None:
    store(layout, gate_events(120))
    export_once(layout, max_rows=60)  # W = 60; rows 61..120 are live
    q = _ExportAndCompactBetweenReadAndListing(layout)
    q.connect()
    assert _count(q) == (120, 120)
    q.armed = True  # the refresh reads W = 60 and rows 61..120, then 61..120 are exported and merged with 1..60
    q.refresh()
    assert _count(q) == (120, 120)
    q.refresh()
    assert _count(q) == (120, 120)


class _MoreRowsExportedAndMergedBetweenReadAndListing(QueryLayer):
    """As above, and the engine logs more rows after the reader's read transaction, before that export."""

    def __init__(self, layout: DataLayout, more: list[dict[str, object]]) -> None:
        super().__init__(layout)
        self.more = more

    def _read_live(self) -> None:
        super()._read_live()
        if self.more:
            store(self.layout, self.more)
            self.more = []
            export_once(self.layout)
            compact(self.layout)


def test_trades_exported_and_merged_after_the_readers_live_read_appear_at_the_next_refresh(
    layout: DataLayout,
) -> None:
    pair = {"symbol": "BTC/USDT", "mode": "scalp", "side": "long", "size": 1.0, "fees": 0.0}
    store(layout, trade_pair("T1", entry=100.0, exit_=101.0, ts=T0, **pair))
    export_once(layout)
    store(layout, trade_pair("T2", entry=100.0, exit_=102.0, ts=T0 + 60, **pair))
    q = _MoreRowsExportedAndMergedBetweenReadAndListing(
        layout, trade_pair("T3", entry=100.0, exit_=103.0, ts=T0 + 120, **pair))
    q.connect()  # reads W and T2 live; then T3 is logged, everything exported and merged into one file

    def pnl() -> dict[str, float]:
        rows = q.sql("SELECT trade_id, pnl_gross FROM trades").to_pylist()
        assert len(rows) == len({r["trade_id"] for r in rows})
        return {r["trade_id"]: round(r["pnl_gross"], 6) for r in rows}

    assert pnl() == {"T1": 1.0, "T2": 2.0}
    q.refresh()
    assert pnl() == {"T1": 1.0, "T2": 2.0, "T3": 3.0}
    assert _count(q) == (6, 6)
