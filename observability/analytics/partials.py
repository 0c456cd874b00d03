"""Split a metric expression into per-bucket partial aggregates and a final expression over them.

Why: a live 24 h window over 10 M events cannot be re-aggregated row by row every few seconds.
For append-only views the window cache keeps, per minute bucket, the partial aggregates of every
metric (count, sum, min, max; avg as sum and count) and adds only the new rows' partials at each
refresh, so a refresh combines ~1440 buckets plus the rows of the two partial minutes at the
window's edges. That is exact for count/sum/min/max and for avg (up to floating-point addition
order). Anything else — quantiles, DISTINCT, window functions over aggregates, aggregates this
module does not know — is reported as not splittable and computed over the rows as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

_SPLITTABLE: Final = frozenset({"count", "sum", "avg", "min", "max"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILTER = re.compile(r"filter\s*\(", re.IGNORECASE)
_OVER = re.compile(r"over\b", re.IGNORECASE)
_UNSPLITTABLE_ARGS = re.compile(r"^\s*distinct\b|\border\s+by\b", re.IGNORECASE)


@dataclass(frozen=True)
class Partial:
    """One partial column: `expr` aggregates a bucket's rows, `combine` ('sum'|'min'|'max') merges buckets."""

    alias: str
    expr: str
    combine: str


@dataclass(frozen=True)
class Split:
    partials: tuple[Partial, ...]
    final: str
    """The metric over the combined partials (an aggregate of `combine`s of the partial columns)."""
    residue: str
    """`final` with each combined call replaced by its bare column: checked to hold no aggregate."""


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, char, paren depth after it) of every character outside quoted text, from `start`."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
            continue
        if c in "'\"":
            quote = c
            continue
        depth += 1 if c == "(" else -1 if c == ")" else 0
        yield i, c, depth


def _close(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start`, skipping quoted text; -1 if unbalanced."""
    return next((i for i, c, depth in _unquoted(text, start) if c == ")" and depth == 0), -1)


def _top_level_comma(args: str) -> bool:
    """`max(x, 3)` is a top-3 list, not a maximum: more than one argument is not splittable."""
    return any(c == "," and depth == 0 for _, c, depth in _unquoted(args))


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def split_expr(expr: str, prefix: str) -> Split | None:
    """Partials and final expression for `expr`, or None when it is not a plain combination of
    count/sum/avg/min/max calls (the caller then aggregates the rows themselves). A window function
    over such calls (`sum(count(*)) OVER (PARTITION BY scope)`, a share of the scope's total) runs
    over the combined groups exactly as over the row groups, so it is kept around the combined calls."""
    partials: list[Partial] = []
    done = _split(expr, prefix, partials)
    return None if done is None else Split(tuple(partials), done[0], done[1])


def _split(expr: str, prefix: str, partials: list[Partial]) -> tuple[str, str] | None:
    """(final, residue) of `expr`, appending its partials to `partials`."""
    out: list[str] = []
    residue: list[str] = []
    i, quote = 0, ""
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            residue.append(c)
            quote = "" if c == quote else quote
            i += 1
            continue
        if c in "'\"":
            quote = c
            out.append(c)
            residue.append(c)
            i += 1
            continue
        m = _NAME.match(expr, i)
        if m is None or (i > 0 and (expr[i - 1].isalnum() or expr[i - 1] in "_.")):
            out.append(c)
            residue.append(c)
            i += 1
            continue
        name, after = m.group(0), _skip_space(expr, m.end())
        if name.lower() not in _SPLITTABLE or after >= len(expr) or expr[after] != "(":
            out.append(name)
            residue.append(name)
            i = m.end()
            continue
        end = _close(expr, after)
        if end < 0:
            return None
        args = expr[after + 1:end].strip()
        nxt = _skip_space(expr, end + 1)
        filt = ""
        fm = _FILTER.match(expr, nxt)
        if fm is not None:
            fend = _close(expr, fm.end() - 1)
            if fend < 0:
                return None
            filt = " FILTER (" + expr[fm.end():fend].strip() + ")"
            nxt = _skip_space(expr, fend + 1)
        if _OVER.match(expr, nxt):
            window = _window(expr, nxt, name, args, filt, prefix, partials)
            if window is None:
                return None
            out.append(window[0])
            residue.append(window[1])
            i = window[2]
            continue
        if _UNSPLITTABLE_ARGS.search(args) or _top_level_comma(args):
            return None
        func = name.lower()
        k = len(partials)
        if func == "avg":
            s, n = f"{prefix}{k}", f"{prefix}{k + 1}"
            partials += [Partial(s, f"sum({args}){filt}", "sum"), Partial(n, f"count({args}){filt}", "sum")]
            out.append(f'(CAST(sum("{s}") AS DOUBLE) / nullif(sum("{n}"), 0))')
            residue.append(f'(CAST("{s}" AS DOUBLE) / nullif("{n}", 0))')
        elif func == "count":
            a = f"{prefix}{k}"
            partials.append(Partial(a, f"count({args}){filt}", "sum"))
            out.append(f'CAST(coalesce(sum("{a}"), 0) AS BIGINT)')
            residue.append(f'CAST("{a}" AS BIGINT)')
        else:
            a = f"{prefix}{k}"
            combine = "sum" if func == "sum" else func
            partials.append(Partial(a, f"{func}({args}){filt}", combine))
            out.append(f'{combine}("{a}")')
            residue.append(f'"{a}"')
        i = nxt
        out.append(" ")
        residue.append(" ")
    return "".join(out).strip(), "".join(residue).strip()


def _window(expr: str, at: int, name: str, args: str, filt: str, prefix: str,
            partials: list[Partial]) -> tuple[str, str, int] | None:
    """`name(args) OVER (...)` at `at` (the OVER): (final, residue without the window, end index)."""
    open_at = _skip_space(expr, at + 4)
    if filt or open_at >= len(expr) or expr[open_at] != "(":
        return None
    close = _close(expr, open_at)
    clause = expr[open_at + 1:close] if close > 0 else "("
    if "(" in clause:  # an aggregate or call inside the window clause: not split
        return None
    inner = _split(args, prefix, partials)
    if inner is None:
        return None
    return f"{name}({inner[0]}) OVER ({clause}) ", f"({inner[1]}) ", close + 1
