"""The `huracan-obs` entry point: every command listed, and a call imports only the command it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from observability.cli.main import main

COMMANDS = ["compact", "config", "demo", "explain", "export", "gates", "health", "init", "insights", "metrics",
            "prune", "query", "registry", "report", "verify"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_a_command_imports_its_own_module_and_no_other_command(tmp_path: Path) -> None:
    probe = ("import sys; from observability.cli.main import main; main(['--data-dir', sys.argv[1], 'init']); "
             "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('observability.cli.commands.')))")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "data")], capture_output=True, text=True,
                         check=False)
    assert out.stdout.split("\n")[-2] == "['init']", out.stderr


def test_a_misspelt_command_is_refused_with_the_list_of_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--data-dir", "x", "explian"])
    assert done.value.code == 2
    assert "invalid choice: 'explian'" in capsys.readouterr().err
