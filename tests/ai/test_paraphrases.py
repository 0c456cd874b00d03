"""Prose a model would write about the fixed test day: faithful sentences verify, each planted slip fails."""

from __future__ import annotations

from datetime import date

import pytest

from observability.ai.facts import FactSet
from observability.ai.number_verifier import verify_text
from observability.config.ai_routing_config import AIRoutingConfig
from observability.paths import DataLayout
from observability.reporting.daily_report import daily_report
from tests.reporting.dataset import populate


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> FactSet:
    layout = DataLayout(tmp_path_factory.mktemp("p") / "data").ensure()
    populate(layout)
    return daily_report(layout, date(2026, 11, 26), AIRoutingConfig()).facts


FAITHFUL = [
    "Today the engine received 4 signals and closed 4 trades with a 50% win rate, netting 2.58 USDT "
    "(an average of 10.7 bps per trade).",
    "The spread gate blocked one signal; its shadow trade would have made 5.0 bps.",
    "The new model `m-7f3a9c01` improved AUC from 0.6185 to 0.641, and the Brier score fell from 0.2188 to 0.2105.",
    "The best trade was `T-0003` on BTCUSDT (+95.8 bps, 11.52 USDT) and the worst `T-0002` at -42.0 bps.",
    "Scalp trades lost 8.94 USDT across three trades while the runner trade made 11.52 USDT.",
    "Fees came to $1.32, and the average hold was 474 seconds (about 8 minutes).",
    "Spread's pass rate of 80% is below its 85% target.",
    "Mechanic tightened the spread threshold from 10 to 8.",
    "Two trades won and two lost.",
]

SLIPS = [
    "Today the engine closed 4 trades with a 55% win rate.",                  # changed digit
    "Scalp trades made 8.94 USDT.",                                           # sign (it was a loss)
    "The best trade was `T-0003` at +95.8%.",                                 # bps written as %
    "The best trade was `T-0005` at +95.8 bps.",                              # invented trade id
    "Spread's pass rate of 85% is below its 80% target.",                     # swapped metrics
    "The average hold was 474 minutes.",                                      # wrong unit
    "AUC improved by 0.03.",                                                  # computed, not a fact
]


@pytest.mark.parametrize("text", FAITHFUL)
def test_faithful_model_prose_verifies(text: str, facts: FactSet) -> None:
    report = verify_text(text, facts)
    assert report.verified, report.findings()


@pytest.mark.parametrize("text", SLIPS)
def test_each_planted_slip_is_rejected(text: str, facts: FactSet) -> None:
    assert not verify_text(text, facts).verified
