"""configs/metrics.yaml: every metric as an aggregate SQL expression over a named view.

Why SQL in config: a quant adds or tunes a metric without touching code, and the computer can
evaluate all metrics of one view in a single query. Because a typo in SQL would otherwise only
show up at the first refresh (or never, on an empty window), every expression, `where` and
`group_by` is bound against empty tables with the query-layer contract's columns at load time,
and a bad column is reported as `file:line: metrics.<name>.<field>: ...`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from observability.analytics.evidence import UNITS
from observability.analytics.views import ALL_SOURCES, empty_catalog, group_query
from observability.config.loader import _node_line, load_yaml_model
from observability.errors import ConfigError

ScopeName = Literal["all", "scalp", "runner"]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(m|h|d|w)$")


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Cfg):
    """`good: high` means lower values are worse (warn when value < warn); `low` the reverse."""

    good: Literal["high", "low"]
    warn: float | None = None
    critical: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.warn is not None and self.critical is not None:
            if self.good == "high" and self.critical > self.warn:
                raise ValueError("with good: high, critical must be <= warn")
            if self.good == "low" and self.critical < self.warn:
                raise ValueError("with good: low, critical must be >= warn")
        return self


class MetricSpec(_Cfg):
    label: str = Field(min_length=1, max_length=200)
    view: str
    expr: str = Field(min_length=1)
    where: str | None = None
    group_by: str | None = None
    """Optional SQL expression: the metric is reported once per value (e.g. per gate)."""
    unit: str
    precision: int = Field(2, ge=0, le=8)
    thresholds: Thresholds | None = None
    targets: dict[str, float] = Field(default_factory=dict)
    """Per scope (all, scalp, runner): shown beside the value; thresholds decide the status."""
    min_samples: int = Field(1, ge=0)
    description: str = ""

    @field_validator("view")
    @classmethod
    def _known_view(cls, view: str) -> str:
        if view not in ALL_SOURCES:
            raise ValueError(f"unknown view {view!r}; one of {sorted(ALL_SOURCES)}")
        return view

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; one of {sorted(UNITS)}")
        return unit

    @field_validator("targets")
    @classmethod
    def _known_scopes(cls, targets: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(targets) - {"all", "scalp", "runner"})
        if unknown:
            raise ValueError(f"targets keys must be all, scalp or runner, got {unknown}")
        return targets


class AlertRule(_Cfg):
    metric: str
    level: Literal["warn", "critical"] = "critical"
    """The threshold status at or beyond which the alert fires."""
    severity: Literal["WARNING", "ERROR", "CRITICAL"] = "WARNING"
    scopes: list[ScopeName] = Field(default_factory=lambda: list[ScopeName](["all"]))
    message: str = ""


class Schedule(_Cfg):
    metrics: list[str] = Field(min_length=1)
    window: str = "24h"
    at: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    """UTC time of day for daily/weekly reports."""
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    refresh_seconds: float | None = Field(None, gt=0)

    @field_validator("window")
    @classmethod
    def _duration(cls, window: str) -> str:
        parse_duration(window)
        return window


class MetricsConfig(_Cfg):
    evidence_ids: int = Field(20, ge=0, le=1000)
    """Most recent row ids kept as evidence per metric value."""
    metrics: dict[str, MetricSpec] = Field(min_length=1)
    alerts: list[AlertRule] = Field(default_factory=list)
    schedules: dict[Literal["daily", "weekly", "realtime"], Schedule] = Field(default_factory=dict)


def parse_duration(text: str) -> float:
    """'15m', '1h', '24h', '7d', '2w' -> seconds; ValueError naming the accepted form otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"duration must look like 15m, 1h, 24h, 7d or 2w, got {text!r}")
    return float(m.group(1)) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


DEFAULT_PATH = Path("configs/metrics.yaml")
_BUNDLED = Path(__file__).resolve().parents[2] / "configs" / "metrics.yaml"


def load_metrics_config(path: str | Path | None = None) -> MetricsConfig:
    """Load metrics.yaml (default: ./configs/metrics.yaml, else the repo's) and check every expression."""
    p = Path(path) if path is not None else (DEFAULT_PATH if DEFAULT_PATH.exists() else _BUNDLED)
    cfg = load_yaml_model(p, MetricsConfig, env_prefix="METRICS")
    check_metrics_config(cfg, p)
    return cfg


def check_metrics_config(cfg: MetricsConfig, path: Path) -> None:
    """Bind every expression against empty contract tables; check cross references."""
    def fail(loc: tuple[str | int, ...], problem: str) -> ConfigError:
        line = _node_line(_compose(path), loc)
        where = f":{line}" if line is not None else ""
        return ConfigError(f"{path}{where}: {'.'.join(str(x) for x in loc)}: {problem}")

    con = empty_catalog()
    try:
        for name, spec in _unchecked(con, cfg):
            src = ALL_SOURCES[spec.view]
            for field, sql in _field_probes(spec, src.name):
                try:
                    con.execute(sql)
                except duckdb.Error as exc:
                    raise fail(("metrics", name, field),
                               f"{_first_line(exc)} (in view {spec.view!r}; fix the SQL or the view)") from None
            sql = group_query(src, [(name, spec.expr)], spec.where, spec.group_by)
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                raise fail(("metrics", name, "expr"),
                           f"{_first_line(exc)} (expr must be an aggregate over view {spec.view!r})") from None
    finally:
        con.close()
    for i, rule in enumerate(cfg.alerts):
        if rule.metric not in cfg.metrics:
            raise fail(("alerts", i, "metric"), f"unknown metric {rule.metric!r}; define it under metrics:")
        if cfg.metrics[rule.metric].thresholds is None:
            raise fail(("alerts", i, "metric"), f"metric {rule.metric!r} has no thresholds to alert on")
    for kind, sched in cfg.schedules.items():
        for j, m in enumerate(sched.metrics):
            if m not in cfg.metrics:
                raise fail(("schedules", kind, "metrics", j), f"unknown metric {m!r}; define it under metrics:")


def _unchecked(con: duckdb.DuckDBPyConnection, cfg: MetricsConfig) -> list[tuple[str, MetricSpec]]:
    """Metrics whose group query fails when bound together: checking one query per
    (view, where, group_by) keeps load fast; only a failing group is probed metric by metric."""
    groups: dict[tuple[str, str | None, str | None], list[str]] = {}
    for name, spec in cfg.metrics.items():
        groups.setdefault((spec.view, spec.where, spec.group_by), []).append(name)
    bad: list[tuple[str, MetricSpec]] = []
    for (view, where, group_by), names in groups.items():
        exprs = [(f"m{i}", cfg.metrics[n].expr) for i, n in enumerate(names)]
        try:
            con.execute(group_query(ALL_SOURCES[view], exprs, where, group_by))
        except duckdb.Error:
            bad += [(n, cfg.metrics[n]) for n in names]
    return bad


def _field_probes(spec: MetricSpec, view: str) -> list[tuple[str, str]]:
    """Small queries that pin a binder error to the field (where, group_by) that caused it."""
    table = f"_obs_w_{view}"
    probes = []
    if spec.where:
        probes.append(("where", f"SELECT 1 FROM {table} WHERE ({spec.where}) LIMIT 0"))
    if spec.group_by:
        probes.append(("group_by", f"SELECT ({spec.group_by}) FROM {table} LIMIT 0"))
    return probes


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8")) if path.exists() else None
    except yaml.YAMLError:
        return None
