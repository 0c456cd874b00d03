"""The verifier accepts faithful paraphrases and catches each kind of planted error."""

from __future__ import annotations

import pytest

from observability.ai.facts import Fact, FactSet, render_value
from observability.ai.number_verifier import verify_text

FACTS = FactSet(
    [
        Fact(id="trades.win_rate", label="win rate", value=0.6148, unit="ratio", precision=3),
        Fact(id="trades.loss_rate", label="loss rate", value=0.3852, unit="ratio", precision=3),
        Fact(id="trades.closed", label="trades closed", value=1187, unit="count"),
        Fact(id="trades.pnl_net_total", label="net PnL", value=-40.123, unit="USDT", precision=2),
        Fact(id="trades.pnl_bps_avg", label="average net PnL per trade", value=12.46, unit="bps", precision=1),
        Fact(id="trades.hold_avg", label="average hold", value=45, unit="s"),
        Fact(id="latency.p99", label="p99 entry latency", value=250, unit="ms"),
        Fact(id="signals.count", label="signals", value=3, unit="count"),
        Fact(id="gate.spread.pass_rate", label="spread pass rate", value=71.25, unit="pct", precision=1),
        Fact(id="trade.T-0042.pnl_bps", label="trade net PnL", value=95.8, unit="bps", precision=1,
             evidence=["T-0042", "tr-0042"]),
        Fact(id="kill_switch.at", label="kill switch tripped at", value="2026-11-26T14:05:31Z"),
    ],
)


@pytest.mark.parametrize("text", [
    "Win rate was 61.5% across 1,187 trades closed.",
    "About 1.2k trades closed, with a win rate of 61.48%.",
    "61.5% of trades were winners.",
    "Net PnL was -$40.12 and the average net PnL per trade was 12.5 bps.",
    "We lost 40.12 USDT overall.",
    "Net PnL: −40.1 USDT.",
    "Average hold 45 s, p99 entry latency 250 ms (0.25 s).",
    "Average hold of 45 seconds.",
    "There were three signals.",
    "Win rate 61.5%, loss rate 38.5%.",
    "Spread passed 71.2% of checks.",
    "More than 1,000 trades closed.",
    "Trade `T-0042` (trace `tr-0042`) made 95.8 bps.",
    "Report for 2026-11-26 at 14:05 UTC on Nov 26: win rate 61.5%.",  # the kill switch's timestamp is data
    "Trades closed on BTCUSDT and 1000PEPEUSDT: 1,187.",
])
def test_correct_paraphrases_verify(text: str) -> None:
    report = verify_text(text, FACTS)
    assert report.verified, report.findings()


@pytest.mark.parametrize(("text", "status"), [
    ("Win rate was 61.6%.", "unsupported"),                       # changed digit
    ("1,186 trades closed.", "unsupported"),                      # changed digit in a count
    ("Average hold was 45 minutes.", "unsupported"),              # wrong unit
    ("Net PnL was -40.12 bps.", "unsupported"),                   # wrong unit (money as bps)
    ("Average net PnL per trade was 12.5%.", "unsupported"),      # % vs bps
    ("Win rate was 61.5 bps.", "unsupported"),                    # bps vs %
    ("Net PnL was +40.12 USDT.", "sign"),                         # wrong sign
    ("Net PnL was 40.12 USDT.", "sign"),                          # sign dropped
    ("Win rate 38.5% and loss rate 61.5%.", "swapped"),           # swapped metrics
    ("Win rate was 0.6148.", "matched"),                          # ratio as a plain number is fine ...
])
def test_planted_errors_are_caught(text: str, status: str) -> None:
    report = verify_text(text, FACTS)
    statuses = {n.status for n in report.numbers}
    assert status in statuses
    assert report.verified == (status == "matched")


def test_invented_trade_id_fails_even_with_correct_numbers() -> None:
    report = verify_text("Trade `T-0043` made 95.8 bps; see trade T-0099.", FACTS)
    assert not report.verified
    assert {i.id for i in report.ids if not i.found} == {"T-0043", "T-0099"}
    assert all(n.status == "matched" for n in report.numbers)


def test_approximation_respects_the_precision_shown() -> None:
    assert verify_text("about 1.2k trades closed", FACTS).verified
    assert not verify_text("about 1.3k trades closed", FACTS).verified
    assert verify_text("about 1,200 trades closed", FACTS).verified
    assert not verify_text("1,200 trades closed", FACTS).verified


def test_ranges_check_both_ends() -> None:
    facts = FactSet([Fact(id="hold.min", label="shortest hold", value=3, unit="s"),
                     Fact(id="hold.max", label="longest hold", value=5, unit="s")])
    assert verify_text("Holds ranged 3–5 s.", facts).verified
    assert not verify_text("Holds ranged 3–6 s.", facts).verified


def test_quoted_engine_text_must_be_verbatim() -> None:
    facts = FactSet([Fact(id="x", label="blocked", value=1, unit="count")], entity_ids=["spread 12.5 > 8 bps"])
    assert verify_text("Blocked 1 because “spread 12.5 > 8 bps”.", facts).verified
    assert not verify_text("Blocked 1 because “spread 99 > 8 bps”.", facts).verified


def test_every_rendered_fact_verifies_after_its_label() -> None:
    text = " ".join(f"{f.label}: {render_value(f)}." for f in FACTS)
    report = verify_text(text, FACTS)
    assert report.verified, report.findings()
    assert len(report.numbers) == len(FACTS.numeric())


def test_findings_name_the_problem_for_a_repair_prompt() -> None:
    report = verify_text("Win rate was 61.6% on trade `T-9`.", FACTS)
    findings = report.findings()
    assert any("61.6%" in f for f in findings)
    assert any("'T-9'" in f for f in findings)


def test_urls_are_references_not_numbers() -> None:
    # a link in a model's text (e.g. planted by engine text) is not in the data, so the text is not sent
    url = "http://127.0.0.1:8080/trace/abc123def4"
    report = verify_text(f"Dashboard at {url} shows 1,187 trades closed.", FACTS)
    assert [n.text for n in report.numbers] == ["1,187"]
    assert not report.verified and [i.id for i in report.ids] == [url]
    known = FactSet(list(FACTS), entity_ids=[url])
    assert verify_text(f"Dashboard at {url}. It shows 1,187 trades closed.", known).verified


@pytest.mark.parametrize("text", [
    "The win rate was 1.",                 # 0.6148 rounded past its leading digit
    "Win rate 0%.",                        # idem, as a percentage
    "About 2k trades closed.",             # "about" is rounding, not a 1,000-wide window
    "Roughly 1,300 trades closed.",
    "Slippage 12.46 bps per trade.",       # value of a bps fact under another name: still a bps value, so ...
])
def test_rounding_cannot_stretch_a_fact(text: str) -> None:
    report = verify_text(text, FACTS)
    if "Slippage" in text:
        assert report.verified  # ... a bare rename is the swap detector's job; rounding rules pass it
    else:
        assert not report.verified, report.numbers


def test_rounding_to_the_leading_digit_is_still_a_paraphrase() -> None:
    for text in ("About 1k trades closed.", "Win rate roughly 60%.", "Win rate 61%.", "Trades closed: 1.2k."):
        assert verify_text(text, FACTS).verified, text


def test_hyphenated_range_of_counts_checks_both_ends() -> None:
    facts = FactSet([Fact(id="open.min", label="fewest open trades", value=3, unit="count"),
                     Fact(id="open.max", label="most open trades", value=5, unit="count")])
    assert verify_text("Between 3-5 open trades.", facts).verified
    assert not verify_text("Between 3-6 open trades.", facts).verified


def test_dates_and_times_must_be_in_the_data() -> None:
    assert verify_text("The kill switch tripped at 14:05 UTC on 2026-11-26 (Nov 26).", FACTS).verified
    invented = verify_text("The kill switch tripped at 03:12 UTC on 2026-11-26.", FACTS)
    assert not invented.verified
    assert [d.id for d in invented.dates if not d.found] == ["03:12 UTC"]
    assert any("03:12" in f for f in invented.findings())
    assert not verify_text("Win rate 61.5% on 2026-11-27.", FACTS).verified


def test_a_change_in_a_percentage_is_in_percentage_points() -> None:
    facts = FactSet([Fact(id="win_rate.delta", label="win rate change", value=0.03, unit="ratio", precision=4),
                     Fact(id="win_rate", label="win rate", value=0.53, unit="ratio", precision=4)])
    assert verify_text("Win rate rose 3 percentage points to 53%.", facts).verified
    assert verify_text("Win rate change: +3.0 pp.", facts).verified
    wrong = verify_text("Win rate rose 3% to 53%.", facts)  # reads as a relative rise (it was 5.7%)
    assert not wrong.verified and wrong.numbers[0].status == "unsupported"


def test_a_number_after_and_is_named_by_the_words_after_it() -> None:
    facts = FactSet([Fact(id="models.updated", label="model updates", value=5, unit="count"),
                     Fact(id="config.changes", label="config changes", value=12, unit="count")])
    assert verify_text("5 model updates and 12 config changes.", facts).verified
    assert not verify_text("12 model updates and 5 config changes.", facts).verified


def test_over_right_after_a_number_means_across_not_more_than() -> None:
    assert verify_text("Win rate 61.5% over 1,187 trades closed.", FACTS).verified
    assert not verify_text("Win rate 61.5% over 50 trades closed.", FACTS).verified
    assert verify_text("More than 1,000 trades closed.", FACTS).verified


def test_a_bound_far_below_the_value_is_refused() -> None:
    assert not verify_text("More than 10 trades closed.", FACTS).verified
    assert verify_text("Over 1,100 trades closed.", FACTS).verified
