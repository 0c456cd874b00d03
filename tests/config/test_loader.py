"""The YAML loader on observability.yaml: every broken-file case names file, line, field and the
expected form; environment overrides apply (and a bad one is blamed on its variable)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from observability.config.loader import load_yaml_model
from observability.config.observability_config import ObservabilityConfig, load_observability_config
from observability.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "observability.yaml"

GOOD = """\
queue:
  maxsize: 10000
  tiers:
    debug: 0.8
    info: 0.9
writer:
  batch_max_events: 5000
  synchronous: NORMAL
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "observability.yaml"
    path.write_text(text)
    return path


def _error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_yaml_model(path, ObservabilityConfig, env_prefix="OBS", env=env or {})
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("text", "line", "field", "expected"), [
    pytest.param(GOOD.replace("maxsize: 10000", "maxsize: lots"), 2, "queue.maxsize",
                 "input should be a valid integer, unable to parse string as an integer, got 'lots'", id="wrong-type"),
    pytest.param(GOOD.replace("maxsize: 10000", "maxsize: 5"), 2, "queue.maxsize",
                 "input should be greater than or equal to 10, got 5", id="below-range"),
    pytest.param(GOOD.replace("info: 0.9", "info: 1.5"), 5, "queue.tiers.info",
                 "input should be less than or equal to 1, got 1.5", id="above-range"),
    pytest.param(GOOD.replace("maxsize: 10000", "maxsize: 10000\n  maxsise: 3"), 3, "queue.maxsise",
                 "unknown field; did you mean 'maxsize'?; expected one of: kill_switch, maxsize, tiers",
                 id="unknown-key"),
    pytest.param(GOOD.replace("synchronous: NORMAL", "synchronous: SOMETIMES"), 8, "writer.synchronous",
                 "string should match pattern '^(NORMAL|FULL)$', got 'SOMETIMES'", id="bad-choice"),
    pytest.param(GOOD.replace("debug: 0.8", "debug: 0.95"), 3, "queue.tiers",
                 "tiers must satisfy debug <= info <= warning <= error", id="cross-field-rule"),
    pytest.param(GOOD.replace("writer:", "writer: 5\nwriter_again:"), 6, "writer",
                 "input should be a valid dictionary or instance of WriterConfig", id="section-not-a-mapping"),
    pytest.param(GOOD + "queue:\n  maxsize: 20\n", 9, "queue", "key appears twice; keep only one",
                 id="duplicate-key"),
])
def test_broken_file_names_file_line_field_and_expected_form(
        tmp_path: Path, text: str, line: int, field: str, expected: str) -> None:
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{line}: {field}: ")
    assert expected in message


@pytest.mark.parametrize(("text", "line", "field"), [
    pytest.param(GOOD.replace("debug: 0.8", "debug: [0.8"), 5, "queue.tiers.info", id="unclosed-bracket"),
    pytest.param(GOOD.replace("  batch_max_events", "\tbatch_max_events"), 7, "writer.batch_max_events",
                 id="tab-indent"),
    pytest.param(GOOD.replace("synchronous: NORMAL", 'synchronous: "NORMAL'), 9, "writer.synchronous",
                 id="unclosed-quote"),
])
def test_bad_yaml_syntax_names_file_line_and_nearest_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = _write(tmp_path, text)
    message = _error(path)
    assert re.match(rf"{re.escape(str(path))}:{line}: {re.escape(field)}: invalid YAML: ", message), message
    assert "expected valid YAML syntax" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- just\n- a list\n")
    assert _error(path).startswith(f"{path}:1: (top level): expected a mapping of settings")


def test_explicit_missing_file_is_an_error_but_default_may_be_absent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_observability_config(tmp_path / "nope.yaml")
    cfg = load_yaml_model(tmp_path / "nope.yaml", ObservabilityConfig, missing_ok=True)
    assert cfg == ObservabilityConfig()


def test_environment_overrides_apply_at_any_depth_case_insensitively(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    env = {"HURACAN_OBS__QUEUE__MAXSIZE": "20000", "huracan_obs__queue__kill_switch__fire_at": "0.9",
           "HURACAN_OBS__EXPORT__URI": "s3://bucket/prefix", "HURACAN_OTHER__QUEUE__MAXSIZE": "11"}
    cfg = load_yaml_model(path, ObservabilityConfig, env_prefix="OBS", env=env)
    assert cfg.queue.maxsize == 20000
    assert cfg.queue.kill_switch.fire_at == 0.9
    assert cfg.export.uri == "s3://bucket/prefix"
    assert cfg.queue.tiers.debug == 0.8  # untouched values stay as in the file


def test_process_environment_is_used_by_the_real_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURACAN_OBS__WRITER__SYNCHRONOUS", "FULL")
    assert load_observability_config(_write(tmp_path, GOOD)).writer.synchronous == "FULL"


@pytest.mark.parametrize(("env", "prefix", "fragments"), [
    pytest.param({"HURACAN_OBS__QUEUE__MAXSIZE": "lots"}, ":2: queue.maxsize: ",
                 ["got 'lots'", "value from environment variable HURACAN_OBS__QUEUE__MAXSIZE, overriding this line"],
                 id="wrong-type-overrides-a-file-line"),
    pytest.param({"HURACAN_OBS__ALERTS__WARN_FILL": "2"}, ": alerts.warn_fill: ",
                 ["less than or equal to 1, got 2", "value from environment variable HURACAN_OBS__ALERTS__WARN_FILL)"],
                 id="out-of-range-not-in-file"),
    pytest.param({"HURACAN_OBS__QUEUE__MAXSIZ": "5"}, ": queue.maxsiz: ",
                 ["unknown field; did you mean 'maxsize'?", "HURACAN_OBS__QUEUE__MAXSIZ"], id="unknown-key"),
])
def test_bad_environment_override_is_blamed_on_its_variable(
        tmp_path: Path, env: dict[str, str], prefix: str, fragments: list[str]) -> None:
    path = _write(tmp_path, GOOD)
    message = _error(path, env)
    assert message.startswith(f"{path}{prefix}"), message
    for fragment in fragments:
        assert fragment in message


def test_unparsable_environment_value_names_the_variable(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, GOOD), {"HURACAN_OBS__QUEUE__MAXSIZE": "[1,"})
    assert message.startswith("environment HURACAN_OBS__QUEUE__MAXSIZE: queue.maxsize: not a valid YAML value")


def test_shipped_observability_yaml_is_valid_and_matches_the_defaults() -> None:
    assert load_yaml_model(REPO_CONFIG, ObservabilityConfig, env={}) == ObservabilityConfig()


@pytest.mark.parametrize("file_text", [None, "version: 1\n"], ids=["no-file", "file-without-the-section"])
def test_an_override_inside_a_section_the_file_leaves_to_defaults_keeps_the_other_defaults(
        tmp_path: Path, file_text: str | None) -> None:
    from observability.config.gates_config import GatesConfig

    path = tmp_path / "gates.yaml"
    if file_text is not None:
        path.write_text(file_text)
    cfg = load_yaml_model(path, GatesConfig, env_prefix="GATES", missing_ok=True,
                          env={"HURACAN_GATES__GATES__SPREAD__THRESHOLD": "9"})
    assert cfg.gates["spread"].threshold == 9.0
    assert cfg.names() == GatesConfig().names()  # the other five gates are still there
    assert cfg.gates["spread"].modes == GatesConfig().gates["spread"].modes  # and spread's other settings


def test_an_override_of_a_gate_the_file_does_not_configure_is_still_an_error(tmp_path: Path) -> None:
    from observability.config.gates_config import GatesConfig

    path = tmp_path / "gates.yaml"
    path.write_text("gates:\n  a:\n    order: 1\n    threshold: 1\n    direction: min\n    pass_rate_target: 0.5\n"
                    "    near_miss_margin: 0\n")
    with pytest.raises(ConfigError, match=r"gates.spread.order: field required.*HURACAN_GATES__GATES__SPREAD"):
        load_yaml_model(path, GatesConfig, env_prefix="GATES", env={"HURACAN_GATES__GATES__SPREAD__THRESHOLD": "9"})
