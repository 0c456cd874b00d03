"""A fast first check of wire events, derived from the Pydantic schemas and never looser than them.

Why: Pydantic builds a Python model for every event only to throw it away, and that was ~75 % of
the writer's CPU (17 µs of ~23 µs per event on the simulator's mix). msgspec checks the same JSON
against Structs derived here from the very same Pydantic models in ~2 µs, and hands back the
payload's exact bytes (`msgspec.Raw`), so the writer stores them without a parse-and-dump.

The contract that keeps Pydantic the single source of truth: this check may only be *stricter*.
Whatever it does not accept (a string where a number is expected, a timestamp outside
[0, 2e10) seconds, a feature newer than its decision, a schema construct it cannot express)
goes to the Pydantic path, which accepts it or dead-letters it with Pydantic's own message.
`tests/core/test_wire_check.py` proves "fast accepts ⇒ Pydantic accepts" on mutated events.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic import AwareDatetime, BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from observability.core.schemas import MAX_EVENT_BYTES, PAYLOAD_CLASSES, EventEnvelope, _LeakageChecked

Row = tuple[Any, ...]

MAX_TS: Final = 2e10
"""Wire timestamps are unix seconds below this; Pydantic reads larger numbers as milliseconds."""
_FINITE: Final = sys.float_info.max


class NotExpressible(Exception):
    """A schema construct the fast check cannot express exactly-or-stricter: that type goes to Pydantic."""


def _general(meta: Any) -> dict[str, Any]:
    """Constraint attributes of pydantic's private general-metadata holder (e.g. allow_inf_nan)."""
    if type(meta).__name__ != "_PydanticGeneralMetadata":
        return {}
    return {k: v for k, v in vars(meta).items() if v is not None}


def _bounds(metadata: Sequence[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, FieldInfo):
            out.update(_bounds(m.metadata))
        elif isinstance(m, at.Ge | at.Gt | at.Le | at.Lt):
            key = type(m).__name__.lower()
            out[key] = getattr(m, key)
        elif isinstance(m, at.MinLen):
            out["min_length"] = m.min_length
        elif isinstance(m, at.MaxLen):
            out["max_length"] = m.max_length
        elif isinstance(m, StringConstraints):
            extra = {k for k, v in vars(m).items() if v is not None} - {"min_length", "max_length"}
            if extra:
                raise NotExpressible(f"string constraints {sorted(extra)}")
            out.update({k: v for k in ("min_length", "max_length") if (v := getattr(m, k)) is not None})
        elif general := _general(m):
            if set(general) - {"allow_inf_nan"}:
                raise NotExpressible(f"constraints {sorted(general)}")
        else:
            raise NotExpressible(f"metadata {m!r}")
    return out


def _number(base: type, bounds: dict[str, Any]) -> Any:
    if set(bounds) - {"ge", "gt", "le", "lt"}:
        raise NotExpressible(f"number constraints {sorted(bounds)}")
    if base is float:  # every model forbids inf/nan: finite bounds unless tighter ones are given
        if "ge" not in bounds and "gt" not in bounds:
            bounds["ge"] = -_FINITE
        if "le" not in bounds and "lt" not in bounds:
            bounds["le"] = _FINITE
    return Annotated[base, msgspec.Meta(**bounds)] if bounds else base


def fast_type(tp: Any, metadata: Sequence[Any] = (), structs: dict[type, Any] | None = None) -> Any:
    """The msgspec type that accepts a subset of what Pydantic accepts for `tp` with `metadata`."""
    structs = {} if structs is None else structs
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        return fast_type(base, [*metadata, *meta], structs)
    bounds = _bounds(metadata)
    if origin in (Union, types.UnionType):
        if bounds:
            raise NotExpressible("constraints on a union")
        return Union[tuple(fast_type(a, (), structs) for a in get_args(tp))]  # noqa: UP007 - built at runtime
    if bounds and tp not in (str, int, float):
        raise NotExpressible(f"constraints on {tp!r}")
    if tp is type(None) or tp is bool or tp is Any:
        return tp
    if origin is Literal:
        if not all(type(v) in (str, int) for v in get_args(tp)):
            raise NotExpressible(f"{tp!r}")
        return tp
    if origin is list:
        return list[fast_type(get_args(tp)[0], (), structs)]  # type: ignore[misc]
    if origin is dict:
        key, value = get_args(tp)
        return dict[fast_type(key, (), structs), fast_type(value, (), structs)]  # type: ignore[misc]
    if tp is AwareDatetime:
        return Annotated[float, msgspec.Meta(ge=0, lt=MAX_TS)]
    if isinstance(tp, type) and issubclass(tp, Enum):
        if not all(isinstance(m.value, str) for m in tp):
            raise NotExpressible(f"{tp!r}")
        return Literal[tuple(m.value for m in tp)]
    if tp is str:
        if set(bounds) - {"min_length", "max_length"}:
            raise NotExpressible(f"string constraints {sorted(bounds)}")
        return Annotated[str, msgspec.Meta(**bounds)] if bounds else str
    if tp is int or tp is float:
        return _number(tp, bounds)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_struct(tp, structs)
    raise NotExpressible(f"type {tp!r}")


_NEUTRAL_CONFIG: Final = frozenset({"extra", "allow_inf_nan", "frozen", "defer_build", "title"})
"""Model settings that cannot make Pydantic accept less than the derived Struct (inf/nan is always refused here)."""


def _check_model(model: type[BaseModel]) -> None:
    if model.model_config.get("extra") != "forbid":
        raise NotExpressible(f"{model.__name__} allows extra fields")
    if other := set(model.model_config) - _NEUTRAL_CONFIG:
        raise NotExpressible(f"{model.__name__} sets {sorted(other)}")
    decorators = model.__pydantic_decorators__
    own = {name for kind in ("validators", "field_validators", "root_validators", "model_validators",
                             "field_serializers", "model_serializers", "computed_fields")
           for name in getattr(decorators, kind)}
    if own - ({"_no_leakage"} if issubclass(model, _LeakageChecked) else set()):
        raise NotExpressible(f"{model.__name__} has validators {sorted(own)}")


def model_struct(model: type[BaseModel], structs: dict[type, Any] | None = None) -> Any:
    """A Struct with the model's fields, constraints and defaults (rejects unknown fields, like extra="forbid")."""
    structs = {} if structs is None else structs
    if model in structs:
        return structs[model]
    struct = msgspec.defstruct(f"Fast{model.__name__}", _fields(model, structs), kw_only=True,
                               forbid_unknown_fields=True)
    structs[model] = struct
    return struct


def _fields(model: type[BaseModel], structs: dict[type, Any]) -> list[tuple[str, Any] | tuple[str, Any, Any]]:
    """(name, type[, default]) of each field, as `msgspec.defstruct` takes them."""
    _check_model(model)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias is not None:
            raise NotExpressible(f"{model.__name__}.{name} has an alias")
        ftype = fast_type(info.annotation, info.metadata, structs)
        if info.is_required():
            fields.append((name, ftype))
        elif info.default_factory is not None:
            fields.append((name, ftype, msgspec.field(default_factory=info.default_factory)))  # type: ignore[arg-type]
        else:
            default = info.default.value if isinstance(info.default, Enum) else info.default
            fields.append((name, ftype, default))
    return fields


def _envelope_struct() -> Any:
    """The envelope with `event_type` required and the payload kept as its raw JSON bytes."""
    fields = [("event_type", str), ("payload", msgspec.Raw), *_fields(EventEnvelope, {})]
    return msgspec.defstruct("FastEnvelope", fields, kw_only=True, forbid_unknown_fields=True)


def _no_leakage(p: Any) -> bool:
    """True only when the payload is certainly free of leakage; anything else is Pydantic's to judge."""
    if not p.feature_ts and p.label_cutoff is None:
        return True
    d = p.decision_timestamp
    if d is None or (p.feature_ts and max(p.feature_ts.values()) > d):
        return False
    return p.label_cutoff is None or d <= p.label_cutoff


def _payload_checks() -> dict[str, tuple[msgspec.json.Decoder[Any], Callable[[Any], bool] | None]]:
    out: dict[str, tuple[msgspec.json.Decoder[Any], Callable[[Any], bool] | None]] = {}
    structs: dict[type, Any] = {}
    for event_type, model in PAYLOAD_CLASSES.items():
        try:
            out[event_type] = (msgspec.json.Decoder(model_struct(model, structs)),
                               _no_leakage if issubclass(model, _LeakageChecked) else None)
        except NotExpressible:
            continue
    return out


_ENVELOPE: Final = _envelope_struct()
_ONE: Final = msgspec.json.Decoder(_ENVELOPE)
_BATCH: Final = msgspec.json.Decoder(list[_ENVELOPE])  # type: ignore[valid-type]
_PAYLOADS: Final = _payload_checks()
FAST_EVENT_TYPES: Final = frozenset(_PAYLOADS)


def _envelopes(lines: Sequence[bytes]) -> list[Any]:
    """Decoded envelopes, None where a line fails (one bad line must not send the batch to Pydantic)."""
    if all(len(line) <= MAX_EVENT_BYTES for line in lines):
        try:
            return list(_BATCH.decode(b"[" + b",".join(lines) + b"]"))
        except msgspec.MsgspecError:
            pass
    out: list[Any] = []
    for line in lines:
        try:
            out.append(_ONE.decode(line) if len(line) <= MAX_EVENT_BYTES else None)
        except msgspec.MsgspecError:
            out.append(None)
    return out


def fast_rows(lines: Sequence[bytes], ts_stored: int, decoded: list[Any] | None = None) -> list[Row | None]:
    """live_feed rows for the lines this check accepts; None marks a line for the Pydantic path.

    `decoded`, when given, receives each line's payload Struct (None for the Pydantic path's lines):
    the export spool reads the typed values off them.
    """
    out: list[Row | None] = []
    payloads = _PAYLOADS
    keep = decoded.append if decoded is not None else None
    for e in _envelopes(lines):
        check = payloads.get(e.event_type) if e is not None else None
        p = None
        if check is not None:
            try:
                p = check[0].decode(e.payload)
            except msgspec.MsgspecError:
                p = None
            if p is not None and check[1] is not None and not check[1](p):
                p = None
        if keep is not None:
            keep(p)
        if p is None:
            out.append(None)
            continue
        ts_logged = e.ts_logged
        out.append((
            e.event_id, e.event_version, e.severity, int(e.ts_event * 1_000_000),
            None if ts_logged is None else int(ts_logged * 1_000_000), e.source, e.symbol, e.mode,
            e.trace_id, e.event_type, str(e.payload, "utf-8"), ts_stored,
        ))
    return out


__all__ = ["FAST_EVENT_TYPES", "NotExpressible", "fast_rows", "fast_type", "model_struct"]
