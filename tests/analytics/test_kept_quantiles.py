"""Quantiles from kept sorted values (analytics/quantiles.py) equal DuckDB's quantile_cont.

The live paths through the metrics computer (appends, window slides, trades changing minute, rows
whose value depends on the window start) are compared with a recompute in test_live_partials.py.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observability.analytics.quantiles import parse_quantile, quantile

_values = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.sampled_from([0.0, 1.5, -2.0]),
                   max_size=40)


@settings(max_examples=200, deadline=None)
@given(kept=_values, extra=_values, q=st.sampled_from([0.0, 0.05, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_a_quantile_of_kept_and_edge_values_equals_duckdb_quantile_cont(
    kept: list[float], extra: list[float], q: float
) -> None:
    """Order statistics of the two sorted arrays merged, interpolated as DuckDB does (ties across both)."""
    ((expected,),) = duckdb.sql(f"SELECT quantile_cont(x, {q}) FROM (SELECT unnest($v::DOUBLE[]) AS x)",
                                params={"v": kept + extra}).fetchall()
    got = quantile(np.sort(np.array(kept, np.float64)), np.sort(np.array(extra, np.float64)), q)
    assert got == (None if expected is None else pytest.approx(expected, rel=1e-12, abs=1e-9))


@pytest.mark.parametrize(("expr", "parsed"), [
    ("quantile_cont(hold_seconds, 0.95)", ("hold_seconds", 0.95)),
    ("QUANTILE_CONT( (epoch_us(a) - epoch_us(b)) / 1000.0 , .5 )", ("(epoch_us(a) - epoch_us(b)) / 1000.0", 0.5)),
    ("quantile_cont(x, 0.95) * 2", None),
    ("quantile_cont(x, [0.5, 0.9])", None),
    ("quantile_cont(coalesce(x, y), 0.5)", ("coalesce(x, y)", 0.5)),
    ("quantile_cont(CASE WHEN s = 'a' THEN x END, 0.5)", None),
    ("quantile_disc(x, 0.5)", None),
    ("quantile_cont(x, 1.5)", None),
])
def test_only_a_plain_quantile_cont_of_one_expression_and_a_literal_q_is_kept(
    expr: str, parsed: tuple[str, float] | None
) -> None:
    assert parse_quantile(expr) == parsed
