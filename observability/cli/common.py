"""Helpers shared by command modules: data-dir resolution, config loading, rich output."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from observability.config.observability_config import ObservabilityConfig, load_observability_config
from observability.paths import DataLayout, data_layout

console = Console(highlight=False)


def layout_from(args: argparse.Namespace, *, create: bool = False) -> DataLayout:
    return data_layout(getattr(args, "data_dir", None), create=create)


def config_from(args: argparse.Namespace) -> ObservabilityConfig:
    return load_observability_config(getattr(args, "config", None))


def add_parser(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """Add a subcommand that also accepts --data-dir after the command name."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (overrides the global flag)")
    return p
