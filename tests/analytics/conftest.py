"""Analytics fixtures: the fixed data set in a real live.db, read through the query layer."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from observability.config.metrics_config import MetricsConfig, load_metrics_config
from observability.core.io.query import QueryLayer
from observability.paths import DataLayout
from tests.analytics import dataset


@pytest.fixture(scope="session")
def fixed_layout(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """The fixed data set, built once per session and only ever read."""
    layout = DataLayout(tmp_path_factory.mktemp("fixed") / "data").ensure()
    dataset.populate(layout)
    return layout


@pytest.fixture(scope="session")
def con(fixed_layout: DataLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    q = QueryLayer(fixed_layout)
    yield q.connect()
    q.close()


@pytest.fixture(scope="session")
def metrics_config() -> MetricsConfig:
    return load_metrics_config()
