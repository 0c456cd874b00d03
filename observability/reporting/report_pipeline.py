"""Build one report: gather facts, write the summary (LLM or deterministic), render, verify, save.

The whole markdown is verified, not just the summary: if a model's summary passes alone but the
assembled report does not, the report is rebuilt with the deterministic summary. Files are written
atomically (`write_atomic`): `<kind>-<date>.md` and `<kind>-<date>.verification.json` under data/reports/.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from observability.ai import deterministic_writer
from observability.ai.ai_router import AIRouter
from observability.ai.ai_summary_generator import GeneratedText, deterministic, generate
from observability.ai.facts import FactSet
from observability.ai.number_verifier import NumberVerifier, VerificationReport
from observability.config.ai_routing_config import AIRoutingConfig, TaskName
from observability.paths import DataLayout
from observability.reporting.markdown_report import quote, render
from observability.reporting.report_data import Period, ReportData
from observability.reporting.report_facts import gather


@dataclass
class ReportResult:
    period: Period
    markdown: str
    markdown_path: Path
    verification_path: Path
    verification: VerificationReport
    summary: GeneratedText
    facts: FactSet

    @property
    def verified(self) -> bool:
        return self.verification.verified


def _assemble(data: ReportData, summary: GeneratedText) -> tuple[str, VerificationReport]:
    footer = (f"Summary written by {quote(summary.provider, data)}; every number in this report is checked "
              f"against the recorded data (details in {data.period.slug}.verification.json).")
    data.entity_ids.add(data.period.slug)
    md = render(data, summary.text, footer=footer)
    return md, NumberVerifier(data.fact_set()).verify(md)


def write_atomic(path: Path, content: bytes) -> None:
    """Replace `path` whole, durably: a unique temporary file (two report jobs at once must not share
    one: the second truncates the first's and its rename fails), fsync, rename, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _verification_doc(data: ReportData, summary: GeneratedText, report: VerificationReport) -> dict[str, Any]:
    return {
        "period": {"kind": data.period.kind, "start": data.period.start.isoformat(),
                   "end": data.period.end.isoformat()},
        "verified": report.verified,
        "summary": {**summary.record(), "text_verified": summary.verification.verified},
        "checked_numbers": len(report.numbers),
        "unsupported": [n.model_dump() for n in report.unsupported],
        "numbers": [n.model_dump() for n in report.numbers],
        "ids": [i.model_dump() for i in report.ids],
        "quotes": [q.model_dump() for q in report.quotes],
        "dates": [d.model_dump() for d in report.dates],
        "ignored": report.ignored,
        "facts": data.fact_set().to_json(),
        "entity_ids": sorted(data.entity_ids),
    }


def build_report(layout: DataLayout, period: Period, config: AIRoutingConfig) -> ReportResult:
    """Produce and save the report for `period`; the result says whether it verified."""
    data = gather(layout, period)
    layout.reports_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    task: TaskName = "daily_summary" if period.kind == "daily" else "weekly_report"
    router = AIRouter(config, budget_path=layout.reports_dir / "ai_budget.json")
    summary = generate(task, data.fact_set(), router)
    md, report = _assemble(data, summary)
    if not report.verified and summary.provider != deterministic_writer.NAME:
        summary = deterministic(task, data.fact_set(), NumberVerifier(data.fact_set()), summary.attempts)
        md, report = _assemble(data, summary)
    md_path = layout.reports_dir / f"{period.slug}.md"
    ver_path = layout.reports_dir / f"{period.slug}.verification.json"
    write_atomic(md_path, md.encode())
    write_atomic(ver_path, orjson.dumps(_verification_doc(data, summary, report), option=orjson.OPT_INDENT_2))
    return ReportResult(period, md, md_path, ver_path, report, summary, data.fact_set())
