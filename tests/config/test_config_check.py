"""Every catalogued config: the shipped file is valid, each broken copy is named precisely, and
`huracan-obs config check` reports all of them in one table (exit 1 on any failure)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from observability.cli.common import console
from observability.cli.main import main
from observability.config.catalog import CATALOG, ConfigEntry, check_all, check_entry

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _shipped(entry: ConfigEntry) -> bool:
    """Configs are written by several helpers in parallel: test those whose file and loader exist."""
    try:
        entry.load_function()
    except (ImportError, AttributeError):
        return False
    return (CONFIGS / entry.filename).exists()


ENTRIES = {e.filename: e for e in CATALOG if _shipped(e)}
MISSING = sorted(e.filename for e in CATALOG if not _shipped(e))

# One scalar setting per file, used to plant a wrong-typed value: (file, key, its dotted parent path).
PLANT = [p for p in [
    ("observability.yaml", "maxsize", "queue"),
    ("gates.yaml", "threshold", "gates.spread"),
    ("metrics.yaml", "precision", "metrics.trades_closed"),
    ("ai_routing.yaml", "daily_tokens", "budget"),
] if p[0] in ENTRIES]


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("HURACAN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def wide_terminal() -> object:
    """Messages hold long paths; a wide terminal keeps each one on one table line for the asserts."""
    saved = console.width
    console.width = 400
    yield
    console.width = saved


def _copy(tmp_path: Path, filename: str) -> Path:
    target = tmp_path / filename
    shutil.copy(CONFIGS / filename, target)
    return target


def _replace_first(path: Path, pattern: str, replacement: str) -> int:
    """Replace the first line matching `pattern`; return its 1-based line number."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.match(pattern, line):
            lines[i] = re.sub(pattern, replacement, line, count=1)
            path.write_text("".join(lines))
            return i + 1
    raise AssertionError(f"{pattern!r} not found in {path}")


def test_every_shipped_config_is_valid() -> None:
    results = check_all(CONFIGS)
    assert {r.filename: r.status for r in results if r.filename in ENTRIES} == dict.fromkeys(ENTRIES, "ok")
    assert {r.filename for r in results if r.failed} <= set(MISSING)


@pytest.mark.parametrize(("filename", "key", "parent"), PLANT)
def test_wrong_type_in_each_config_names_file_line_field_and_expected_form(
        tmp_path: Path, filename: str, key: str, parent: str) -> None:
    path = _copy(tmp_path, filename)
    line = _replace_first(path, rf"^(\s*){key}: [^#\s]+", rf"\1{key}: wide")
    result = check_entry(ENTRIES[filename], tmp_path)
    assert result.status == "error" and result.failed
    assert result.message.startswith(f"{path}:{line}: {parent}.{key}: "), result.message
    assert "got 'wide'" in result.message and "should be a valid" in result.message


@pytest.mark.parametrize("filename", list(ENTRIES))
def test_unknown_key_in_each_config_is_named_with_the_allowed_ones(tmp_path: Path, filename: str) -> None:
    path = _copy(tmp_path, filename)
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + "not_a_setting: 1\n")
    line = len(path.read_text().splitlines())
    result = check_entry(ENTRIES[filename], tmp_path)
    assert result.message.startswith(f"{path}:{line}: not_a_setting: unknown field"), result.message
    assert "expected one of: " in result.message


@pytest.mark.parametrize("filename", list(ENTRIES))
def test_bad_yaml_syntax_in_each_config_names_file_line_and_field(tmp_path: Path, filename: str) -> None:
    path = _copy(tmp_path, filename)
    key = dict((f, k) for f, k, _ in PLANT)[filename]
    line = _replace_first(path, rf"^(\s*){key}: [^#\s]+", rf"\1{key}: [unclosed")
    result = check_entry(ENTRIES[filename], tmp_path)
    assert result.status == "error"
    assert re.match(rf"{re.escape(str(path))}:\d+: [\w.]*: invalid YAML: ", result.message), result.message
    reported = int(result.message.split(":")[1])
    assert line <= reported <= line + 2  # the parser notices the missing ']' on the next token


def test_unimportable_loader_is_not_available_instead_of_a_crash(tmp_path: Path) -> None:
    (tmp_path / "future.yaml").write_text("a: 1\n")
    entry = ConfigEntry("future.yaml", "observability.config.no_such_module", "load", "a config from the future")
    result = check_entry(entry, tmp_path)
    assert result.status == "not available" and result.failed
    assert "observability.config.no_such_module.load" in result.message


def test_absent_optional_config_uses_defaults(tmp_path: Path) -> None:
    shutil.copy(CONFIGS / "observability.yaml", tmp_path)
    results = {r.filename: r for r in check_all(tmp_path)}
    assert results["observability.yaml"].status == "ok"
    assert results["metrics.yaml"].status == "defaults" and not results["metrics.yaml"].failed


def test_config_check_command_prints_a_table_and_exits_0_when_all_are_valid(
        capsys: pytest.CaptureFixture[str], wide_terminal: object) -> None:
    code = main(["config", "check", "--dir", str(CONFIGS)])
    assert code == 0 or (code == 1 and MISSING)
    out = capsys.readouterr().out
    for filename in ENTRIES:
        assert re.search(rf"│ {re.escape(filename)}\s+│ ok ", out), out
    assert "config files valid" in out or MISSING


def test_config_check_command_exits_1_and_names_every_broken_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_terminal: object) -> None:
    for filename in ENTRIES:
        _copy(tmp_path, filename)
    obs_line = _replace_first(tmp_path / "observability.yaml", r"^(\s*)maxsize: \S+", r"\1maxsize: lots")
    _replace_first(tmp_path / "metrics.yaml", r"^(\s*)precision: \S+", r"\1precision: [")
    assert main(["config", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"observability.yaml:{obs_line}: queue.maxsize: input should be a valid integer" in out
    assert "metrics.yaml:" in out and "invalid YAML" in out
    failed = int(re.search(r"(\d+) of \d+ config files failed", out).group(1))  # type: ignore[union-attr]
    assert 2 <= failed <= 2 + len(MISSING)


def test_config_check_applies_environment_overrides(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, wide_terminal: object) -> None:
    monkeypatch.setenv("HURACAN_OBS__QUEUE__MAXSIZE", "tiny")
    assert main(["config", "check", "--dir", str(CONFIGS)]) == 1
    assert "value from environment variable HURACAN_OBS__QUEUE__MAXSIZE" in capsys.readouterr().out


def test_config_check_on_a_missing_directory_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "config directory not found" in err and len(err.strip().splitlines()) == 1


def test_an_absent_config_still_has_its_environment_overrides_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURACAN_GATES__GATES__SPREAD__THRESHOLD", "wide")
    results = {r.filename: r for r in check_all(tmp_path)}  # no gates.yaml here: the defaults apply
    gates = results["gates.yaml"]
    assert gates.failed and "gates.spread.threshold" in gates.message
    assert "HURACAN_GATES__GATES__SPREAD__THRESHOLD" in gates.message
    monkeypatch.setenv("HURACAN_GATES__GATES__SPREAD__THRESHOLD", "9")
    assert {r.filename: r for r in check_all(tmp_path)}["gates.yaml"].status == "defaults"
