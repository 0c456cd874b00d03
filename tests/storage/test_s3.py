"""Export to and query from S3-compatible storage: a moto server on 127.0.0.1 started by the test."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest
from storage_helpers import gate_events, store

from observability.core.io.dataset import s3_filesystem
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.errors import ConfigError
from observability.paths import DataLayout

URI = "s3://huracan-test/boxes/events"


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HURACAN_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3_filesystem().create_dir("huracan-test")
    return s3_endpoint


def test_export_to_s3_and_query_back_each_event_once(layout: DataLayout, s3_env: str) -> None:
    store(layout, gate_events(300))
    first = export_once(layout, uri=URI, max_rows=200)
    assert (first.rows, first.files) == (200, 3)
    q = QueryLayer(layout, s3_uri=URI)
    counts = q.sql("SELECT count(*) AS n, count(DISTINCT seq) AS d, count(symbol) AS s FROM events").to_pylist()
    assert counts == [{"n": 300, "d": 300, "s": 200}]
    export_once(layout, uri=URI)
    q.refresh()
    assert q.sql("SELECT count(*) AS n FROM events WHERE symbol = 'BTC/USDT'").to_pylist() == [{"n": 100}]
    assert not list(layout.parquet_events.rglob("*.parquet"))  # nothing went to the local dataset


def test_s3_dataset_is_readable_by_plain_pyarrow_and_from_another_box(layout: DataLayout, s3_env: str,
                                                                       tmp_path_factory: pytest.TempPathFactory
                                                                       ) -> None:
    store(layout, gate_events(90))
    export_once(layout, uri=URI + "-2")
    fs = s3_filesystem()
    table = ds.dataset("huracan-test/boxes/events-2", filesystem=fs, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 90
    other_box = DataLayout(tmp_path_factory.mktemp("other") / "data")  # no live.db at all
    q = QueryLayer(other_box, s3_uri=URI + "-2")
    assert q.sql("SELECT count(*) AS n, max(seq) AS hi FROM events").to_pylist() == [{"n": 90, "hi": 90}]


def test_an_s3_uri_without_a_bucket_is_a_config_error(layout: DataLayout) -> None:
    with pytest.raises(ConfigError, match="name a bucket"):
        QueryLayer(layout, s3_uri="s3:///events")


def test_two_boxes_share_one_s3_prefix_without_collisions(tmp_path_factory: pytest.TempPathFactory,
                                                          s3_env: str) -> None:
    uri = URI + "-shared"
    boxes = [DataLayout(tmp_path_factory.mktemp(name)).ensure() for name in ("box-a", "box-b")]
    for layout in boxes:
        store(layout, gate_events(90))  # both boxes number their events 1..90
        export_once(layout, uri=uri)
    analyst = QueryLayer(DataLayout(tmp_path_factory.mktemp("analyst")), s3_uri=uri)
    assert analyst.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").to_pylist() == [
        {"n": 180, "d": 180}]
