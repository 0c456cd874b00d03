"""`huracan-obs registry ...`: inspect (and feed) the model and config registry.

Reads open learning.db read-only. Ids are shown abbreviated (12 hex characters); every command
that takes an ID also accepts a unique prefix (4+ characters) or an alias such as `champion`.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from observability.cli.common import add_parser, console, layout_from
from observability.core.registry import ConfigChangeRecord, Registry, data_snapshot_id
from observability.core.schemas import ModelRecord
from observability.errors import RegistryError

SHORT = 12
_HASH_FIELDS = frozenset({"parent_model_id", "git_sha", "data_snapshot_id", "training_config_hash"})


def _short(model_id: str | None) -> str:
    return "" if model_id is None else model_id[:SHORT]


def _when(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _minute(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _value(value: Any) -> str:
    return "—" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _git(record: ModelRecord) -> str:
    if record.git_sha is None:
        return "unknown"
    return record.git_sha[:10] + (" (dirty)" if record.git_dirty else "")


def _table(title: str, columns: tuple[str, ...], *, show_header: bool = True) -> Table:
    """A table whose id and time columns never wrap or truncate (ids must stay copy-pasteable)."""
    table = Table(title=title, show_header=show_header)
    for col in columns:
        keep = col in {"id", "name", "aliases", "parent", "from", "to", "model", "when", "since", "created", "seq"}
        table.add_column(col, no_wrap=keep, overflow="fold")
    return table


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (no offset = UTC) or unix seconds."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(f"timestamp {text!r}: use ISO 8601 (2026-03-01T12:00:00Z) or unix seconds") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _parse_metrics(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key] = float(raw)
        except ValueError:
            raise RegistryError(f"--metrics {pair!r}: use name=number, e.g. --metrics auc=0.61 brier=0.22") from None
    return out


def register(sub: Any) -> None:
    p = add_parser(sub, "registry", "model and config registry: models, lineage, aliases, config history")
    rsub = p.add_subparsers(dest="registry_command", metavar="SUBCOMMAND")
    rsub.required = True

    def cmd(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        q = add_parser(rsub, name, help_text)
        q.set_defaults(func=func)
        return q

    cmd("list", "list registered models", run_list)
    cmd("show", "show one model", run_show).add_argument("id", help="model id, unique prefix or alias")
    q = cmd("diff", "compare two models (metadata and metrics)", run_diff)
    q.add_argument("id1")
    q.add_argument("id2")
    cmd("lineage", "a model and its ancestors, with metric deltas", run_lineage).add_argument("id")
    cmd("verify", "re-hash every stored artifact; exit 1 when any is corrupt or missing", run_verify)
    q = cmd("history", "change history of a gate's threshold, a config key or an alias", run_history)
    q.add_argument("kind", choices=["gate", "key", "alias"])
    q.add_argument("name")
    cmd("at", "config values and aliases live at a time (ISO 8601, no offset = UTC; unix seconds; or now)",
        run_at).add_argument("timestamp")
    q = cmd("register", "register a model artifact (file or directory)", run_register)
    q.add_argument("path", type=Path)
    q.add_argument("--name", required=True)
    q.add_argument("--metrics", nargs="*", default=[], metavar="NAME=VALUE")
    q.add_argument("--parent", default=None, help="parent model id, prefix or alias")
    q.add_argument("--by", default=None, help="who registers it (default: current user)")
    q.add_argument("--reason", default="")
    q.add_argument("--git-sha", default=None, help="code version (default: HEAD of the current directory)")
    q.add_argument("--data", nargs="*", default=[], type=Path, help="training data files/dirs (snapshot id)")
    q = cmd("alias", "point an alias (champion, challenger, ...) at a model", run_alias)
    q.add_argument("alias")
    q.add_argument("id")
    q.add_argument("--by", default=None)
    q.add_argument("--reason", default="")


def _open(args: argparse.Namespace, *, write: bool = False) -> Registry:
    return Registry(layout_from(args, create=write), readonly=not write)


def run_list(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        models, aliases = reg.list_models(), reg.aliases()
    by_model: dict[str, list[str]] = {}
    for alias, mid in aliases.items():
        by_model.setdefault(mid, []).append(alias)
    table = _table(f"models ({len(models)})", ("id", "name", "created", "aliases", "git", "metrics"))
    for m in models:
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(m.metrics.items())[:3])
        table.add_row(_short(m.model_id), m.name, _minute(m.created_at),
                      ", ".join(sorted(by_model.get(m.model_id, []))),
                      "" if m.git_sha is None else m.git_sha[:7] + ("*" if m.git_dirty else ""), metrics)
    console.print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        m = reg.get_model(args.id)
        aliases = sorted(a for a, mid in reg.aliases().items() if mid == m.model_id)
        config = reg.training_config(m.model_id)
        artifact = reg.artifact_path(m.model_id)
    table = _table("", ("field", "value"), show_header=False)
    rows = [("name", m.name), ("created", _when(m.created_at)),
            ("created_by", m.created_by), ("reason", m.reason), ("parent", m.parent_model_id or "—"),
            ("aliases", ", ".join(aliases) or "—"), ("git", _git(m)),
            ("data_snapshot_id", m.data_snapshot_id or "—"), ("training_config_hash", m.training_config_hash or "—"),
            ("training_config", _value(config)), ("artifact size", f"{m.artifact_size} bytes")]
    rows += [(f"metric {k}", f"{v:.6g}") for k, v in sorted(m.metrics.items())]
    for key, value in rows:
        table.add_row(key, value)
    # full id and path on their own lines so they stay copy-pasteable at any terminal width
    console.print(f"model {m.model_id}\nartifact {artifact}", soft_wrap=True, markup=False)
    console.print(table)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        a, b = reg.get_model(args.id1), reg.get_model(args.id2)
    table = _table(f"diff {_short(a.model_id)} → {_short(b.model_id)}",
                   ("field", _short(a.model_id), _short(b.model_id), "change"))
    for field in ("name", "created_by", "parent_model_id", "git_sha", "git_dirty", "data_snapshot_id",
                  "training_config_hash", "artifact_size"):
        left, right = getattr(a, field), getattr(b, field)
        show = (lambda v: _short(v) or "—") if field in _HASH_FIELDS else str
        table.add_row(field, show(left), show(right), "" if left == right else "changed")
    for key in sorted(a.metrics.keys() | b.metrics.keys()):
        left_m, right_m = a.metrics.get(key), b.metrics.get(key)
        change = f"{right_m - left_m:+.6g}" if left_m is not None and right_m is not None else "added/removed"
        table.add_row(f"metric {key}", _value(left_m), _value(right_m), change)
    console.print(table)
    return 0


def run_lineage(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        chain = reg.lineage(args.id)
    table = _table(f"lineage of {_short(chain[0].model_id)} (newest first)",
                   ("gen", "id", "name", "created", "metrics", "change vs parent"))
    for i, m in enumerate(chain):
        parent = chain[i + 1] if i + 1 < len(chain) else None
        deltas = "" if parent is None else " ".join(
            f"{k}{m.metrics[k] - parent.metrics[k]:+.4g}" for k in sorted(m.metrics.keys() & parent.metrics.keys()))
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(m.metrics.items()))
        table.add_row(str(len(chain) - 1 - i), _short(m.model_id), m.name, _minute(m.created_at), metrics, deltas)
    console.print(table)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        count = len(reg.list_models())
        problems, strays = reg.verify(), reg.stray_artifacts()
    if problems:
        table = _table(f"{len(problems)} of {count} models failed verification", ("model", "problem"))
        for line in problems:
            mid, _, what = line.partition(": ")
            table.add_row(_short(mid), what)
        console.print(table)
    else:
        console.print(f"all {count} models verified: every artifact matches its content hash")
    for line in strays:
        console.print(f"note: {line}", markup=False)
    return 1 if problems else 0


def _changes_table(title: str, changes: list[ConfigChangeRecord]) -> Table:
    table = _table(title, ("seq", "when", "key", "old", "new", "by", "reason"))
    for c in changes:
        table.add_row(str(c.change_seq), _when(c.ts), c.key, _value(c.old_value), _value(c.new_value),
                      c.changed_by, c.reason)
    return table


def run_history(args: argparse.Namespace) -> int:
    with _open(args) as reg:
        if args.kind == "alias":
            moves = reg.alias_history(args.name)
            if not moves:
                raise RegistryError(f"alias {args.name!r} has never been set; see `huracan-obs registry list`")
            table = _table(f"alias {args.name}: {len(moves)} moves", ("seq", "when", "from", "to", "by", "reason"))
            for m in moves:
                table.add_row(str(m.seq), _when(m.changed_at), _short(m.previous_model_id) or "—",
                              _short(m.model_id), m.changed_by, m.reason)
            console.print(table)
            return 0
        if args.kind == "gate":
            changes = reg.threshold_history(args.name)
            known = ", ".join(reg.gates()) or "none recorded yet"
            hint = f"known gates: {known}"
        else:
            changes = reg.key_history(args.name)
            hint = "see `huracan-obs registry at now` for the keys"
    if not changes:
        raise RegistryError(f"no changes recorded for {args.kind} {args.name!r}; {hint}")
    console.print(_changes_table(f"{args.kind} {args.name}: {len(changes)} changes", changes))
    return 0


def run_at(args: argparse.Namespace) -> int:
    when = datetime.now(UTC) if args.timestamp == "now" else parse_timestamp(args.timestamp)
    with _open(args) as reg:
        live = reg.live_changes_at(when)
        aliases = reg.aliases_at(when)
        models = {a: reg.get_model(mid) for a, mid in aliases.items()}
    table = _table(f"live at {_when(when)}", ("key / alias", "value", "since", "by", "reason"))
    for key, c in live.items():
        table.add_row(key, _value(c.new_value), _when(c.ts), c.changed_by, c.reason)
    for alias, m in models.items():
        table.add_row(f"alias {alias}", f"{_short(m.model_id)} {m.name}", "", "", "")
    if not live and not models:
        console.print(f"nothing was recorded as live at {_when(when)}")
        return 0
    console.print(table)
    return 0


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def run_register(args: argparse.Namespace) -> int:
    snapshot = data_snapshot_id(args.data) if args.data else None
    with _open(args, write=True) as reg:
        rec = reg.register_model(
            args.path, name=args.name, metrics=_parse_metrics(args.metrics), created_by=_who(args.by),
            reason=args.reason, parent_model_id=args.parent, git_sha=args.git_sha, data_snapshot_id=snapshot)
    console.print(f"registered {rec.name} as {rec.model_id}", soft_wrap=True, markup=False)
    return 0


def run_alias(args: argparse.Namespace) -> int:
    with _open(args, write=True) as reg:
        move = reg.set_alias(args.alias, args.id, changed_by=_who(args.by), reason=args.reason)
    console.print(f"{move.alias}: {_short(move.previous_model_id) or '—'} → {_short(move.model_id)}", markup=False)
    return 0
