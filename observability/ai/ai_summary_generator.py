"""facts → prompt → text → verification → one repair → deterministic fallback.

The deterministic writer is not only the fallback but the check on the pipeline: whatever the
route, the result is verified text, and it records who wrote it, with which prompt version, what
was tried, and the verifier's per-number report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from observability.ai import deterministic_writer
from observability.ai.ai_router import AIRouter, Attempt
from observability.ai.facts import FactSet
from observability.ai.number_verifier import NumberVerifier, VerificationReport
from observability.ai.prompts import PROMPT_VERSION, build_messages, build_repair
from observability.config.ai_routing_config import TaskName


@dataclass
class GeneratedText:
    text: str
    provider: str
    prompt_version: str | None
    verification: VerificationReport
    repaired: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        """The JSON-able provenance stored beside every report."""
        return {
            "provider": self.provider, "prompt_version": self.prompt_version, "repaired": self.repaired,
            "verified": self.verification.verified,
            "attempts": [{"provider": a.provider, "outcome": a.outcome, "detail": a.detail} for a in self.attempts],
        }


def _as_paragraphs(text: str) -> str:
    """A model's answer goes inside the report's Summary section: no headings, tables or fences of its own."""
    lines = [line.strip().lstrip("#>|").strip().replace("|", "/") for line in text.replace("```", "").splitlines()]
    return "\n".join(line for line in lines if not re.fullmatch(r"[-:/\s]*", line) or not line).strip()


def deterministic(task: TaskName, facts: FactSet, verifier: NumberVerifier,
                  attempts: list[Attempt] | None = None) -> GeneratedText:
    text = deterministic_writer.write(task, facts)
    return GeneratedText(text, deterministic_writer.NAME, None, verifier.verify(text), attempts=attempts or [])


def generate(task: TaskName, facts: FactSet, router: AIRouter | None) -> GeneratedText:
    """Verified text for `task`; falls back to the deterministic writer whenever a model's text is not."""
    verifier = NumberVerifier(facts)
    if router is None or not router.llm_route(task):
        return deterministic(task, facts, verifier)
    messages = build_messages(task, facts)
    routed = router.complete(task, messages)
    attempts = routed.attempts
    if routed.completion is None or routed.provider is None:
        return deterministic(task, facts, verifier, attempts)
    answer = _as_paragraphs(routed.completion.text)
    report = verifier.verify(answer)
    if report.verified:
        return GeneratedText(answer, routed.provider, PROMPT_VERSION, report, attempts=attempts)
    attempts.append(Attempt(routed.provider, "unverified", "; ".join(report.findings())[:500]))
    repaired = router.call(routed.provider, build_repair(messages, answer, report.findings()), attempts)
    if repaired is not None:
        fixed = _as_paragraphs(repaired.text)
        report = verifier.verify(fixed)
        if report.verified:
            return GeneratedText(fixed, routed.provider, PROMPT_VERSION, report, repaired=True,
                                 attempts=attempts)
        attempts.append(Attempt(routed.provider, "unverified after repair", "; ".join(report.findings())[:500]))
    return deterministic(task, facts, verifier, attempts)
