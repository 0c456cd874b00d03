"""Every config file the product reads, with the loader that validates it.

`huracan-obs config check` walks this list. Loaders are imported lazily by name, so one broken or
not-yet-installed config module shows up as "not available" in the check instead of taking every
other check (and the CLI) down with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from observability.config.loader import load_yaml_model
from observability.errors import ConfigError

Status = Literal["ok", "error", "missing", "defaults", "not available", "unchecked"]
FAILING: Final[frozenset[str]] = frozenset({"error", "missing", "not available"})


@dataclass(frozen=True)
class ConfigEntry:
    filename: str
    module: str
    loader: str
    what: str
    required: bool = False
    """A required file must exist; an optional one falls back to built-in defaults when absent."""
    model: str | None = None
    env_prefix: str | None = None
    """With `model` (a class in `module`): an absent file's defaults are validated with the
    HURACAN_<env_prefix>__ overrides, as the product applies them when it starts without the file."""

    def load_function(self) -> Callable[[Path], Any]:
        """Import the loader; ImportError/AttributeError when its module is not available."""
        fn: Callable[[Path], Any] = getattr(importlib.import_module(self.module), self.loader)
        return fn


CATALOG: Final[tuple[ConfigEntry, ...]] = (
    ConfigEntry("observability.yaml", "observability.config.observability_config", "load_observability_config",
                "logger, writer, storage, retention, export and alert settings",
                model="ObservabilityConfig", env_prefix="OBS"),
    ConfigEntry("gates.yaml", "observability.config.gates_config", "load_gates_config",
                "the six gates: thresholds, direction, pass-rate targets, auto-tuning",
                model="GatesConfig", env_prefix="GATES"),
    ConfigEntry("metrics.yaml", "observability.config.metrics_config", "load_metrics_config",
                "metric definitions (SQL over named views), thresholds, alerts, schedules"),
    ConfigEntry("ai_routing.yaml", "observability.config.ai_routing_config", "load_ai_routing_config",
                "LLM providers and routing for report writing", model="AIRoutingConfig", env_prefix="AI"),
)


@dataclass(frozen=True)
class CheckResult:
    filename: str
    path: Path
    status: Status
    message: str

    @property
    def failed(self) -> bool:
        return self.status in FAILING


def check_entry(entry: ConfigEntry, directory: Path) -> CheckResult:
    """Validate one config file; never raises for a bad file (the result says what is wrong)."""
    path = directory / entry.filename
    try:
        load = entry.load_function()
    except (ImportError, AttributeError) as exc:
        return CheckResult(entry.filename, path, "not available",
                           f"loader {entry.module}.{entry.loader} cannot be imported ({exc})")
    if not path.exists():
        if entry.required:
            return CheckResult(entry.filename, path, "missing", f"{path}: required file is absent; create it")
        if entry.model is not None:
            try:
                model = getattr(importlib.import_module(entry.module), entry.model)
                load_yaml_model(path, model, env_prefix=entry.env_prefix, missing_ok=True)
            except ConfigError as exc:
                return CheckResult(entry.filename, path, "error", str(exc))
        return CheckResult(entry.filename, path, "defaults", "file absent: the loader's built-in defaults apply")
    try:
        load(path)
    except ConfigError as exc:
        return CheckResult(entry.filename, path, "error", str(exc))
    return CheckResult(entry.filename, path, "ok", entry.what)


def check_all(directory: str | Path = "configs") -> list[CheckResult]:
    """Validate every catalogued config in `directory`, plus list YAML files nobody validates."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{root}: config directory not found; pass --dir pointing at your configs/")
    results = [check_entry(entry, root) for entry in CATALOG]
    known = {entry.filename for entry in CATALOG}
    for path in sorted(root.glob("*.y*ml")):
        if path.name not in known:
            results.append(CheckResult(path.name, path, "unchecked",
                                       "not validated by huracan-obs (a tool outside observability reads it)"))
    return results
