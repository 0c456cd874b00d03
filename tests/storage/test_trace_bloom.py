"""Parquet files carry a bloom filter on trace_id (files.WRITE_OPTIONS), so a lookup of one trace skips the
files that do not hold it even when ids are random and every file's min/max range covers them."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
from storage_helpers import gate_events, store

from observability.core.io.compaction import compact
from observability.core.io.dataset import list_files, open_target
from observability.core.io.exporter import export_once
from observability.paths import DataLayout


def probe(files: list[str], trace_id: str) -> dict[str, bool]:
    """DuckDB's own reading of each file's filter: True where it rules the trace out."""
    con = duckdb.connect()
    try:
        return {f: bool(x) for f, x in con.execute(
            "SELECT file_name, bool_and(bloom_filter_excludes) FROM parquet_bloom_probe($f, 'trace_id', $t) "
            "GROUP BY ALL", {"f": files, "t": trace_id}).fetchall()}
    finally:
        con.close()


def assert_filters_rule_out_only_absent_traces(layout: DataLayout) -> None:
    files = sorted(f.path for f in list_files(open_target(layout)))
    held = {f: {r[0] for r in duckdb.sql(f"SELECT DISTINCT trace_id FROM read_parquet('{f}')").fetchall()}
            for f in files}
    for trace in sorted(set().union(*held.values())):
        assert probe(files, trace) == {f: trace not in held[f] for f in files}, trace
    assert probe(files, "nowhere") == dict.fromkeys(files, True)


def test_exported_and_compacted_files_have_a_bloom_filter_on_trace_id(layout: DataLayout) -> None:
    store(layout, gate_events(60, day_seconds=1.0))
    while export_once(layout, max_rows=20).rows:
        pass
    assert len(list_files(open_target(layout))) > 3
    assert_filters_rule_out_only_absent_traces(layout)
    compact(layout)
    assert_filters_rule_out_only_absent_traces(layout)


def assert_page_index(layout: DataLayout) -> None:
    for f in list_files(open_target(layout)):
        meta = pq.read_metadata(f.path)
        for g in range(meta.num_row_groups):
            chunks = [meta.row_group(g).column(c) for c in range(meta.num_columns)]
            assert all(c.has_offset_index for c in chunks), f.path
            assert next(c for c in chunks if c.path_in_schema == "seq").has_column_index, f.path


def test_exported_and_compacted_files_have_a_page_index(layout: DataLayout) -> None:
    """Each column chunk's page index lets a lookup of one seq range or trace decode only its pages."""
    store(layout, gate_events(60, day_seconds=1.0))
    while export_once(layout, max_rows=20).rows:
        pass
    assert_page_index(layout)
    assert compact(layout).files_merged > 0
    assert_page_index(layout)
