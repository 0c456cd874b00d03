"""configs/gates.yaml: the shipped file is valid and complete; a broken file is named by file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from observability.config.gates_config import GatesConfig, load_gates_config
from observability.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "configs" / "gates.yaml"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("HURACAN_GATES"):
            monkeypatch.delenv(name)


def test_shipped_file_has_six_ordered_gates_with_everything_the_ui_shows() -> None:
    cfg = load_gates_config(SHIPPED)
    assert cfg.names() == ["spread", "volatility", "liquidity", "model_confidence", "regime", "risk_budget"]
    for spec in cfg.gates.values():
        assert spec.description and spec.unit and 0 < spec.pass_rate_target <= 1
    assert cfg.auto_tuning.enabled is False and cfg.shadow_trades.enabled and cfg.explanation
    assert cfg.history and cfg.history[0].gate == "spread"


def test_built_in_defaults_match_the_shipped_file() -> None:
    shipped, default = load_gates_config(SHIPPED), GatesConfig()
    assert shipped.config_hash() == default.config_hash()


def test_a_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "gates.yaml"
    shutil.copy(SHIPPED, broken)
    lines = broken.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.strip().startswith("threshold: 45.0"))
    lines[n] = lines[n].replace("45.0", "fast")
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        load_gates_config(broken)
    msg = str(info.value)
    assert f"{broken}:{n + 1}: gates.volatility.threshold:" in msg and "'fast'" in msg


def test_a_bad_direction_and_duplicate_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("gates:\n  a:\n    order: 1\n    threshold: 1\n    direction: above\n"
                    "    pass_rate_target: 0.5\n    near_miss_margin: 0\n")
    with pytest.raises(ConfigError, match=r"g.yaml:5: gates.a.direction: input should be 'min' or 'max'"):
        load_gates_config(path)
    path.write_text("gates:\n  a: {order: 1, threshold: 1, direction: min, pass_rate_target: 0.5, near_miss_margin: 0}"
                    "\n  b: {order: 1, threshold: 1, direction: min, pass_rate_target: 0.5, near_miss_margin: 0}\n")
    with pytest.raises(ConfigError, match=r"g.yaml:3: gates.b.order: order 1 is already used by gate 'a'"):
        load_gates_config(path)


def test_environment_overrides_a_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURACAN_GATES__GATES__SPREAD__THRESHOLD", "10.5")
    assert load_gates_config(SHIPPED).gates["spread"].threshold == 10.5


def test_with_threshold_returns_a_new_config_and_leaves_the_old_one_alone() -> None:
    old = GatesConfig()
    new = old.with_threshold("liquidity", 300_000).with_threshold("model_confidence", 0.65, mode="runner")
    assert old.gates["liquidity"].threshold == 250_000 and new.gates["liquidity"].threshold == 300_000
    assert new.thresholds("runner")["model_confidence"] == 0.65 and new.thresholds("scalp")["model_confidence"] == 0.55
    with pytest.raises(ConfigError, match="unknown gate 'nope'"):
        old.with_threshold("nope", 1.0)


def test_a_duplicate_order_names_the_line_and_field_of_the_second_gate(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("gates:\n  a:\n    order: 1\n    threshold: 1\n    direction: min\n    pass_rate_target: 0.5\n"
                    "    near_miss_margin: 0\n  b:\n    order: 1\n    threshold: 1\n    direction: min\n"
                    "    pass_rate_target: 0.5\n    near_miss_margin: 0\n")
    with pytest.raises(ConfigError, match=r"g.yaml:9: gates.b.order: order 1 is already used by gate 'a'; "
                                          r"expected a unique order"):
        load_gates_config(path)


@pytest.mark.parametrize(("value", "shown"), [("yes", "True"), ("'8'", "'8'"), ("true", "True")])
def test_a_threshold_that_is_not_a_number_is_refused_not_coerced(tmp_path: Path, value: str, shown: str) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(f"gates:\n  a:\n    order: 1\n    threshold: {value}\n    direction: max\n"
                    "    pass_rate_target: 0.5\n    near_miss_margin: 0\n    modes:\n      runner: 2\n")
    with pytest.raises(ConfigError, match=rf"g.yaml:4: gates.a.threshold: .*number.*got {shown}"):
        load_gates_config(path)
    path.write_text("gates:\n  a:\n    order: 1\n    threshold: 1\n    direction: max\n"
                    f"    pass_rate_target: 0.5\n    near_miss_margin: 0\n    modes:\n      runner: {value}\n")
    with pytest.raises(ConfigError, match=r"g.yaml:9: gates.a.modes.runner: .*number"):
        load_gates_config(path)


def test_an_integer_threshold_and_an_environment_number_are_still_accepted(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("gates:\n  a:\n    order: 1\n    threshold: 250000\n    direction: min\n"
                    "    pass_rate_target: 1\n    near_miss_margin: 0\n")
    assert load_gates_config(path).gates["a"].threshold == 250_000.0
    monkeypatch.setenv("HURACAN_GATES__GATES__A__THRESHOLD", "12")
    assert load_gates_config(path).gates["a"].threshold == 12.0
