"""`huracan-obs verify TEXT_FILE --facts FACTS_JSON`: check every number in a text against facts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Table

from observability.ai.facts import FactsError, facts_from_json
from observability.ai.number_verifier import verify_text
from observability.cli.common import console


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="verify every number in a text file against a facts JSON file",
                       description="verify every number in a text file against a facts JSON file; "
                                   "exit 1 when any number or id is unsupported")
    p.add_argument("text_file", help="text or markdown file to check")
    p.add_argument("--facts", required=True,
                   help="JSON: an object of name -> number, a list of {id, value, unit[, precision, label]}, "
                        "or a report's .verification.json (re-checks a saved report)")
    p.set_defaults(func=run)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FactsError(f"{path}: cannot read the {what} ({exc.strerror}); check the path") from None


def run(args: argparse.Namespace) -> int:
    text = _read(args.text_file, "text file").decode("utf-8", errors="replace")
    try:
        data = orjson.loads(_read(args.facts, "facts file"))
    except orjson.JSONDecodeError as exc:
        raise FactsError(f"{args.facts}: not valid JSON ({exc}); fix the file") from None
    report = verify_text(text, facts_from_json(data))
    table = Table(title=f"numbers in {args.text_file}")
    for col in ("number", "context", "verdict", "fact"):
        table.add_column(col)
    for n in report.numbers:
        verdict = "[green]matched[/]" if n.status == "matched" else f"[red]{n.status}[/]: {escape(n.detail)}"
        table.add_row(escape(n.text), escape(n.context), verdict, escape(n.fact_id or ""))
    for kind, items in (("(id)", report.ids), ("(quote)", report.quotes), ("(date/time)", report.dates)):
        for i in items:
            table.add_row(escape(i.id), kind,
                          "[green]found[/]" if i.found else "[red]unsupported[/]: not in the facts", "")
    console.print(table)
    bad = report.problems
    if report.verified:
        console.print(f"[green]verified[/]: all {len(report.numbers)} numbers and {len(report.ids)} ids supported")
        return 0
    total = len(report.numbers) + len(report.ids) + len(report.quotes) + len(report.dates)
    console.print(f"[red]not verified[/]: {bad} unsupported of {total}")
    return 1
