"""Live metrics over a dataset that other boxes also export into: seq orders only one box's rows.

The incremental live path keys on seq; with another box's files in the dataset it must fall back to
rebuilding, and still equal the reference recompute as that other box exports more.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig
from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim.generate import generate_events


def test_live_metrics_with_another_boxs_files_rebuild_and_match_a_recompute(
    tmp_path: Path, metrics_config: MetricsConfig
) -> None:
    now = time.time()
    uri = (tmp_path / "shared").as_uri()
    boxes = [DataLayout(tmp_path / name).ensure() for name in ("a", "b")]
    streams = [list(generate_events(seed=seed, sim_seconds=600, events_per_second=5.0, start_ts=now - 900))
               for seed in (1, 2)]
    conns = [open_live_db(b.live_db) for b in boxes]
    try:
        ingest_events(conns[0], streams[0][:2000])
        ingest_events(conns[1], streams[1][:1500])
        export_once(boxes[1], uri=uri)  # box B's files: seq 1..1500, like box A's own rows
        q = QueryLayer(boxes[0], s3_uri=uri)
        live = MetricsComputer(q.connect(), metrics_config)
        w = Window(label="w", since=datetime.fromtimestamp(now - 3600, UTC),
                   until=datetime.now(UTC) + timedelta(seconds=1))
        live.compute(w)
        ingest_events(conns[1], streams[1][1500:])
        export_once(boxes[1], uri=uri)  # B's new rows have seqs A has already seen
        ingest_events(conns[0], streams[0][2000:])
        q.refresh()
        got = {(v.name, v.scope, v.group): (v.value, v.n) for v in live.compute(w).values}
        assert live.cache.last["gate_decisions"] == "rebuilt"
        ref_q = QueryLayer(boxes[0], s3_uri=uri)
        ref = {(v.name, v.scope, v.group): (v.value, v.n)
               for v in MetricsComputer(ref_q.connect(), metrics_config, incremental=False).compute(w).values}
        ref_q.close()
        q.close()
        assert got.keys() == ref.keys()
        for key, (value, n) in ref.items():  # equal up to float summation order
            assert got[key][1] == n, key
            assert got[key][0] == (None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)), key
        assert got[("signals_total", "all", None)][0] == sum(
            1 for s in streams for e in s if e["event_type"] == "signal_received")
    finally:
        for conn in conns:
            conn.close()
