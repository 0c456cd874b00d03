"""A verified prose explanation of one trade/signal from the facts `huracan-obs explain` gathers.

The explain command already collects analytics facts (decision timeline, gate verdicts, journal
entry); this turns them into the `trade_explanation` task's text, through the same route, repair
and deterministic fallback as reports, so every number in the explanation is checked too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from observability.ai.ai_router import AIRouter
from observability.ai.ai_summary_generator import GeneratedText, generate
from observability.ai.facts import FactSet, from_analytics
from observability.config.ai_routing_config import AIRoutingConfig
from observability.paths import DataLayout


def explain_trade(facts: Iterable[Any], *, layout: DataLayout, config: AIRoutingConfig,
                  entity_ids: Iterable[str] = ()) -> GeneratedText:
    """`facts`: analytics `Fact`s (timeline, gate verdicts, journal entry) of one trace."""
    converted = [from_analytics(f) for f in facts]
    router = AIRouter(config, budget_path=layout.reports_dir / "ai_budget.json")
    return generate("trade_explanation", FactSet(converted, entity_ids), router)
