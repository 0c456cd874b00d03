"""The prompt carries what a summary needs and nothing that bloats it past a small model's context."""

from __future__ import annotations

from datetime import date

import orjson

from observability.ai.prompts import CLOSE, OPEN, build_messages
from observability.paths import DataLayout
from observability.reporting.report_data import Period
from observability.reporting.report_facts import gather
from tests.reporting.dataset import populate


def test_report_prompt_offers_the_notable_ids_not_every_event_id(layout: DataLayout) -> None:
    populate(layout)
    facts = gather(layout, Period.daily(date(2026, 11, 26))).fact_set()
    user = build_messages("daily_summary", facts)[1]["content"]
    payload = orjson.loads(user.split(OPEN + "\n", 1)[1].split("\n" + CLOSE, 1)[0])
    assert "T-0003" in payload["ids"]  # a notable trade the summary may name
    assert all("evidence" not in f and "value" not in f for f in payload["facts"])
    event_ids = {e for f in facts for e in f.evidence} - set(payload["ids"])
    assert event_ids and not any(e in user for e in event_ids if len(e) > 8)
