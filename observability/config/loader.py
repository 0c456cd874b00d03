"""Load a YAML file into a Pydantic model, with errors that name the file, line and field.

Environment overrides: `HURACAN_<PREFIX>__<field>__<subfield>=value` (case-insensitive field
names, `__` between levels, values parsed as YAML scalars) are applied after the file is read,
so `HURACAN_OBS__QUEUE__MAXSIZE=20000` sets `queue.maxsize`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from observability.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest YAML node that `loc` reaches (the field, or its nearest parent)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _expected(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "missing":
        return "field required"
    if err.get("type") == "extra_forbidden":
        return "unknown field (check its spelling against the documented fields)"
    got = err.get("input")
    if got is not None and not isinstance(got, dict | list):
        return f"{msg[0].lower()}{msg[1:]}, got {got!r}"
    return f"{msg[0].lower()}{msg[1:]}"


def _apply_env(data: dict[str, Any], prefix: str | None, env: Mapping[str, str]) -> list[str]:
    """Apply HURACAN_<PREFIX>__a__b=value overrides in place; return the names applied."""
    if not prefix:
        return []
    applied = []
    head = f"HURACAN_{prefix}__".upper()
    for name, raw in sorted(env.items()):
        if not name.upper().startswith(head):
            continue
        path = [p.lower() for p in name[len(head):].split("__") if p]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"environment {name}: not a valid YAML scalar ({exc})") from None
        cursor = data
        for part in path[:-1]:
            nxt = cursor.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                cursor[part] = nxt
            cursor = nxt
        cursor[path[-1]] = value
        applied.append(name)
    return applied


def load_yaml_model(
    path: str | os.PathLike[str],
    model: type[M],
    *,
    env_prefix: str | None = None,
    env: Mapping[str, str] | None = None,
    missing_ok: bool = False,
) -> M:
    """Read `path`, apply environment overrides and validate; raise ConfigError on any problem."""
    p = Path(path)
    if not p.exists():
        if missing_ok:
            data: Any = {}
            root = None
            text = ""
        else:
            raise ConfigError(f"{p}: config file not found; create it or pass the right path")
    else:
        text = p.read_text(encoding="utf-8")
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{p}{where}: invalid YAML: {problem}; fix the syntax there") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}:1: expected a mapping of settings at the top level, got {type(data).__name__}")
    applied = _apply_env(data, env_prefix, os.environ if env is None else env)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(x) for x in loc) or "(top level)"
        env_hint = f" (environment overrides applied: {', '.join(applied)})" if applied else ""
        line = _node_line(root, loc)
        where = f":{line}" if line is not None else ""
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{p}{where}: {field}: {_expected(err)}{more}{env_hint}") from None
