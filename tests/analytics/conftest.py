"""Analytics fixtures: the fixed data set in a real live.db, read through the query layer."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import duckdb
import pytest

from observability.config.metrics_config import MetricsConfig, load_metrics_config
from observability.paths import DataLayout
from tests.analytics import dataset, local_views


def connect(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    """The query layer's connection (the stand-in until observability.core.io.query lands)."""
    if importlib.util.find_spec("observability.core.io.query") is not None:
        from observability.core.io.query import QueryLayer

        con: duckdb.DuckDBPyConnection = QueryLayer(layout).connect()
        return con
    return local_views.connect(layout)


@pytest.fixture(scope="session")
def fixed_layout(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """The fixed data set, built once per session and only ever read."""
    layout = DataLayout(tmp_path_factory.mktemp("fixed") / "data").ensure()
    dataset.populate(layout)
    return layout


@pytest.fixture(scope="session")
def con(fixed_layout: DataLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(fixed_layout)
    yield c
    c.close()


@pytest.fixture(scope="session")
def metrics_config() -> MetricsConfig:
    return load_metrics_config()
