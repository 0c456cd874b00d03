"""Telegram delivery against a Bot-API-shaped server on 127.0.0.1."""

from __future__ import annotations

import html
import logging
import re
import socket
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observability.ai.secrets import Secret
from observability.config.ai_routing_config import TelegramConfig
from observability.config.observability_config import AlertConfig
from observability.core.queue_monitor import QueueMonitor
from observability.core.schemas import HealthSnapshot
from observability.errors import ConfigError
from observability.reporting.telegram_format import MAX_MESSAGE, markdown_to_html, split_html
from observability.reporting.telegram_sender import (
    TelegramAlertSink,
    TelegramError,
    TelegramSender,
    sender_from_config,
)
from tests.ai.fake_servers import Reply, serve, tg_429, tg_ok

TOKEN = "123456:AAE-secret-bot-token"


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def _balanced(text: str) -> bool:
    p = _Balance()
    p.feed(text)
    p.close()
    return p.ok and not p.stack


def _sender(url: str, **kw: float) -> TelegramSender:
    return TelegramSender(token=Secret(TOKEN), chat_id="42", base_url=url,
                          min_interval_seconds=kw.get("interval", 0.0), max_retries=int(kw.get("retries", 3)),
                          timeout_seconds=kw.get("timeout", 20.0))


def test_long_report_is_split_on_lines_with_balanced_tags() -> None:
    lines = [f"<b>section {i}</b> <code>T-{i:04d}</code> net &amp; gross" for i in range(400)]
    lines[200] = "<b>" + " ".join(["word"] * 1500)  # one line longer than a message, tag open across the split
    lines[201] = "still bold</b>"
    text = "\n".join(lines)
    with serve([tg_ok()]) as srv, _sender(srv.url) as sender:
        count = sender.send_long(text)
    sent = [r.body["text"] for r in srv.requests]
    assert count == len(sent) > 2
    assert all(len(m.encode("utf-16-le")) // 2 <= MAX_MESSAGE for m in sent)
    assert all(_balanced(m) for m in sent)
    assert {r.body["chat_id"] for r in srv.requests} == {"42"}
    assert {r.body["parse_mode"] for r in srv.requests} == {"HTML"}
    # numbered, so a delivery that stops half-way is visibly incomplete in the chat
    assert [m.split("\n", 1)[0] for m in sent] == [f"<i>({i}/{count})</i>" for i in range(1, count + 1)]
    joined = "\n".join(sent)
    for i in (0, 199, 202, 399):
        assert lines[i] in joined


def test_short_lines_are_never_broken() -> None:
    lines = [f"line {i} <i>x</i>" for i in range(2000)]
    parts = split_html("\n".join(lines))
    assert "\n".join(parts) == "\n".join(lines)


def test_429_waits_retry_after_then_succeeds() -> None:
    with serve([tg_429(retry_after=1), tg_ok()]) as srv, _sender(srv.url) as sender:
        sender.send_html("hello")
    assert len(srv.requests) == 2
    assert srv.requests[1].at - srv.requests[0].at >= 1.0


def test_messages_are_paced_per_chat() -> None:
    with serve([tg_ok()]) as srv, _sender(srv.url, interval=0.2) as sender:
        for i in range(3):
            sender.send_html(f"m{i}")
    gaps = [b.at - a.at for a, b in zip(srv.requests, srv.requests[1:], strict=False)]
    assert all(g >= 0.2 for g in gaps)


def test_engine_text_is_escaped_in_alerts() -> None:
    with serve([tg_ok()]) as srv, _sender(srv.url) as sender:
        sink = TelegramAlertSink(sender)
        sink("queue_fill", "reason <script> & co > 80%")
        sink.flush(timeout=10)
    text = srv.requests[0].body["text"]
    assert "reason &lt;script&gt; &amp; co &gt; 80%" in text
    assert _balanced(text)


def test_report_markdown_becomes_telegram_html() -> None:
    md = "# Daily\n\n| metric | value |\n|---|---|\n| win rate | 50.0% |\n- trade `T-1` “a<b & c”: x\n- **warn** y"
    html = markdown_to_html(md)
    assert "<b>Daily</b>" in html
    assert "win rate: 50.0%" in html and "metric" not in html
    assert "<code>T-1</code>" in html and "a&lt;b &amp; c" in html
    assert "• <b>warn</b> y" in html


def test_queue_monitor_alerts_reach_telegram_through_the_sink() -> None:
    snap = HealthSnapshot.model_validate({
        "ts": 0.0, "status": "critical", "queue_depth": 9_600, "queue_maxsize": 10_000, "fill_ratio": 0.96,
        "accepted_total": 1, "dropped_total": 0, "dropped_by_severity": {}, "dropped_by_type": {},
        "written_total": 1, "dead_letter_total": 0, "writer_lag_events": 0, "writer_lag_s": 0.0,
        "events_per_s": 0.0, "written_per_s": 0.0, "kill_switch": True, "kill_switch_fired_total": 1,
        "writer_alive": True, "writer_error": None, "pid": 1,
    })
    with serve([tg_ok()]) as srv, _sender(srv.url) as sender:
        sink = TelegramAlertSink(sender)
        monitor = QueueMonitor(AlertConfig(), sinks=[sink])
        monitor.notify(monitor.check(snap))
        monitor.notify(monitor.check(snap))  # inside the cooldown: nothing more is sent
        sink.flush(timeout=10)
    assert len(srv.requests) == 1
    assert "kill_switch" in srv.requests[0].body["text"]


def test_alert_sink_returns_at_once_and_logs_failures_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    with serve([Reply(hold=True)]) as srv, _sender(srv.url, timeout=0.2, retries=0) as sender:
        sink = TelegramAlertSink(sender)
        sink("writer_down", "writer process down")  # returns while the server is still holding the request
        assert len(srv.requests) <= 1
        sink.flush(timeout=10)
        sink.close()
    assert "telegram alert not delivered" in caplog.text
    assert TOKEN not in caplog.text


def test_token_never_appears_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve([Reply(400, {"ok": False, "description": f"Bad Request: token {TOKEN} chat not found"})]) as srv:
        with _sender(srv.url) as sender, pytest.raises(TelegramError) as refused:
            sender.send_html("x")
        text = str(refused.value) + repr(sender) + repr(TelegramAlertSink(sender))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with _sender(dead, retries=1) as sender, pytest.raises(TelegramError) as unreachable:
        sender.send_html("x")
    text += str(unreachable.value) + caplog.text
    assert "giving up after 2 attempts" in str(unreachable.value)
    assert "sendMessage" in caplog.text  # httpx did log the request URL ...
    assert TOKEN not in text  # ... but with the token redacted


def test_sender_from_config_reads_the_token_file_and_needs_a_chat(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HURACAN_TELEGRAM_TOKEN", raising=False)
    token_file = tmp_path / "bot.token"
    token_file.write_text(TOKEN)
    with serve([tg_ok()]) as srv:
        cfg = TelegramConfig(base_url=srv.url, chat_id=42, token_file=str(token_file), min_interval_seconds=0)
        with sender_from_config(cfg) as sender:
            sender.send_html("hi")
            assert TOKEN not in repr(sender)
    assert srv.requests[0].path == f"/bot{TOKEN}/sendMessage"
    with pytest.raises(ConfigError, match="no Telegram bot token: set HURACAN_TELEGRAM_TOKEN"):
        sender_from_config(TelegramConfig(chat_id=42))


def _visible(message: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", message)).strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "&amp;", "😀", "x" * 700, "<b>", "</b>", "<i></i>", "\n", " "]), max_size=60))
def test_no_message_is_only_tags_or_whitespace(tokens: list[str]) -> None:
    # Telegram refuses a message with no text ("message text is empty"): the rest of a report would be lost
    text = "".join(tokens).replace("<b>", "").replace("</b>", "")
    text = "<b>" + text + "</b>"
    for part in split_html(text, 1000):
        assert _visible(part), part


def test_a_split_leaving_only_empty_tags_sends_nothing_for_them() -> None:
    parts = split_html("x" * 9000 + " <i></i>  \n\n ", 4096)
    assert len(parts) == 3 and all(_visible(p) for p in parts)
    assert split_html("<b>\n </b>") == []
