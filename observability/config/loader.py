"""Load a YAML file into a Pydantic model, with errors that name the file, line and field.

Environment overrides: `HURACAN_<PREFIX>__<field>__<subfield>=value` (case-insensitive field
names, `__` between levels, values parsed as YAML scalars) are applied after the file is read,
so `HURACAN_OBS__QUEUE__MAXSIZE=20000` sets `queue.maxsize`. A bad override is reported under
the variable's name (the file's line would point at a value the user did not write).

Every failure is one ConfigError line: `<file>:<line>: <field>: <what is wrong / expected form>`.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from observability.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[int | str, ...]


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


_KEY_LINE = re.compile(r"""^(\s*)(?:-\s+)?(['"]?)([^\s:#'"][^:#'"]*?)\2\s*:(?:\s|$)""")


def _key_path_at(text: str, line: int) -> str:
    """Dotted path of the block-style key at or above `line`, found by indentation.

    A syntax error stops the YAML parser before it builds a tree, so the field is recovered from
    the raw lines: the user is told which setting they were editing, not just a line number.
    """
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines()[:line]:
        m = _KEY_LINE.match(raw)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(3)))
    return ".".join(key for _, key in stack) or "(top level)"


def _in_file(root: yaml.Node | None, loc: Loc) -> bool:
    """Whether the file itself spells out every key of `loc`."""
    node = root
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            return False
        node = next((v for k, v in node.value if str(k.value) == str(part)), None)
        if node is None:
            return False
    return node is not None


def _duplicate_key(node: yaml.Node | None, path: Loc = ()) -> tuple[Loc, int] | None:
    """First mapping key that appears twice (PyYAML would silently keep the last one)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                return (*path, key), key_node.start_mark.line + 1
            seen.add(key)
            found = _duplicate_key(value_node, (*path, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, (*path, i))
            if found:
                return found
    return None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The Pydantic model inside an annotation (through Optional/Annotated/dict/list values), if any."""
    origin = get_origin(annotation)
    if origin in (typing.Annotated, typing.Union, types.UnionType, list, dict):
        for arg in reversed(get_args(annotation)) if origin is dict else get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _allowed_fields(model: type[BaseModel], parent: Loc) -> list[str]:
    """Field names accepted at `parent` (for "unknown field" hints); [] when it cannot be followed."""
    current: type[BaseModel] | None = model
    for part in parent:
        if current is None:
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            continue  # a dict key or list index: stay on the value model found below
        current = _submodel(field.annotation)
    return sorted(current.model_fields) if current is not None else []


def _expected(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "missing":
        return "field required"
    if err.get("type") == "extra_forbidden":
        loc = tuple(err.get("loc", ()))
        allowed = _allowed_fields(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]) if loc else "", allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        fields = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field{hint}{fields}"
    msg = msg.removeprefix("Value error, ")
    got = err.get("input")
    if got is not None and not isinstance(got, dict | list):
        return f"{msg[0].lower()}{msg[1:]}, got {got!r}"
    return f"{msg[0].lower()}{msg[1:]}"


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The model's defaults as plain data ({} when some field has none)."""
    try:
        return model().model_dump()
    except ValidationError:
        return {}


def _apply_env(data: dict[str, Any], prefix: str | None, env: Mapping[str, str],
               model: type[BaseModel]) -> dict[Loc, str]:
    """Apply HURACAN_<PREFIX>__a__b=value overrides in place; return {field path: variable name}.

    A section the file leaves out starts from its default before the override goes in, so
    `HURACAN_GATES__GATES__SPREAD__THRESHOLD=9` without a `gates:` section changes one threshold
    instead of replacing the six default gates with an incomplete one. A section the file does
    give is taken as written (a gate it does not list stays unknown).
    """
    if not prefix:
        return {}
    defaults: dict[str, Any] | None = None
    applied: dict[Loc, str] = {}
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
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"environment {name}: {'.'.join(path)}: not a valid YAML value ({problem}); "
                              f"quote text values, e.g. {name}='\"text\"'") from None
        cursor = data
        from_defaults = path[0] not in data  # a section the file leaves out is its default, entirely
        for depth, part in enumerate(path[:-1]):
            nxt = cursor.get(part)
            if not isinstance(nxt, dict):
                fallback: Any = None
                if from_defaults:
                    if defaults is None:
                        defaults = _defaults(model)
                    fallback = defaults
                    for key in path[:depth + 1]:
                        fallback = fallback.get(key) if isinstance(fallback, dict) else None
                nxt = copy.deepcopy(fallback) if isinstance(fallback, dict) else {}
                cursor[part] = nxt
            cursor = nxt
        cursor[path[-1]] = value
        applied[tuple(path)] = name
    return applied


def _env_source(applied: Mapping[Loc, str], loc: Loc) -> str | None:
    """The variable that set `loc` (or a parent of it), if the failing value came from the environment."""
    for path, name in applied.items():
        if tuple(str(x) for x in loc[:len(path)]) == path:
            return name
    return None


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
    root: yaml.Node | None = None
    data: Any = {}
    if not p.exists():
        if not missing_ok:
            raise ConfigError(f"{p}: config file not found; create it or pass the right path")
    else:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read the config file ({exc}); check its permissions and encoding") from None
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            field = f" {_key_path_at(text, mark.line + 1)}:" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{p}{where}:{field} invalid YAML: {problem}; expected valid YAML syntax "
                              "(indent with spaces, `key: value`, close every bracket and quote)") from None
        duplicate = _duplicate_key(root)
        if duplicate is not None:
            dup_loc, dup_line = duplicate
            raise ConfigError(f"{p}:{dup_line}: {'.'.join(str(x) for x in dup_loc)}: key appears twice; keep only one")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}:1: (top level): expected a mapping of settings (key: value), "
                          f"got {type(data).__name__}")
    applied = _apply_env(data, env_prefix, os.environ if env is None else env, model)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(x) for x in loc) or "(top level)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        err_line = _node_line(root, loc)
        where = f":{err_line}" if err_line is not None else ""
        source = _env_source(applied, loc)
        if source is not None:
            # the bad value is not on that line: say so, and name the variable that put it there
            in_file = _in_file(root, loc)
            where = where if in_file else ""
            overrides = ", overriding this line" if in_file else ""
            raise ConfigError(f"{p}{where}: {field}: {_expected(err, model)}{more} "
                              f"(value from environment variable {source}{overrides})") from None
        env_hint = f" (environment overrides applied: {', '.join(applied.values())})" if applied else ""
        raise ConfigError(f"{p}{where}: {field}: {_expected(err, model)}{more}{env_hint}") from None
