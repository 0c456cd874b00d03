"""metrics.yaml is checked at load: bad SQL, views, units and references name file:line: field."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.config.metrics_config import load_metrics_config
from observability.errors import ConfigError

GOOD = """\
metrics:
  win_rate:
    label: Win rate
    view: trades
    where: status = 'closed'
    expr: 100.0 * avg(CASE WHEN pnl_net > 0 THEN 1 ELSE 0 END)
    unit: "%"
    thresholds: {good: high, warn: 45, critical: 35}
alerts:
  - {metric: win_rate, level: warn}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "metrics.yaml"
    p.write_text(text)
    return p


def test_shipped_metrics_yaml_loads_with_at_least_fifty_metrics() -> None:
    cfg = load_metrics_config()
    assert len(cfg.metrics) >= 50
    assert {"daily", "weekly", "realtime"} <= set(cfg.schedules)


def test_bad_column_in_expr_names_file_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("pnl_net > 0", "pnl_nett > 0"))
    with pytest.raises(ConfigError) as err:
        load_metrics_config(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:6: metrics.win_rate.expr:")
    assert "pnl_nett" in msg


def test_bad_column_in_where_points_at_where(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("status = 'closed'", "state = 'closed'"))
    with pytest.raises(ConfigError, match=r"metrics.yaml:5: metrics\.win_rate\.where: .*state"):
        load_metrics_config(p)


def test_non_aggregate_expression_is_rejected(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("100.0 * avg(CASE WHEN pnl_net > 0 THEN 1 ELSE 0 END)", "pnl_net"))
    with pytest.raises(ConfigError, match=r":6: metrics\.win_rate\.expr: .*aggregate"):
        load_metrics_config(p)


def test_unknown_view_and_unit_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":4: metrics\.win_rate\.view: .*unknown view 'tradez'"):
        load_metrics_config(write(tmp_path, GOOD.replace("view: trades", "view: tradez")))
    with pytest.raises(ConfigError, match=r":7: metrics\.win_rate\.unit: .*unknown unit 'pct'"):
        load_metrics_config(write(tmp_path, GOOD.replace('unit: "%"', "unit: pct")))


def test_alert_on_unknown_metric_is_named(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("{metric: win_rate", "{metric: win_ratio"))
    with pytest.raises(ConfigError, match=r":10: alerts\.0\.metric: unknown metric 'win_ratio'"):
        load_metrics_config(p)


def test_environment_override_changes_a_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURACAN_METRICS__METRICS__WIN_RATE__THRESHOLDS__WARN", "50")
    cfg = load_metrics_config(write(tmp_path, GOOD))
    th = cfg.metrics["win_rate"].thresholds
    assert th is not None and th.warn == 50
