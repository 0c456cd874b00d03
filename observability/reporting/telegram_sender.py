"""Deliver reports and alerts through the Telegram Bot API (sendMessage, HTML parse mode).

Reliability: messages to the chat are paced (~1/s, Telegram's per-chat guidance); a 429 waits
the `retry_after` it names; network errors and 5xx are retried with exponential backoff.
Safety: the sender holds one chat id and has no way to send elsewhere; the bot token lives in the
URL path (Telegram's design), so it is redacted from every error message and from httpx's own
request log lines, and never appears in a repr.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

import httpx

from observability.ai.secrets import REDACTED, Secret, load_secret
from observability.config.ai_routing_config import TelegramConfig
from observability.errors import ConfigError, ObservabilityError
from observability.reporting.telegram_format import MAX_MESSAGE, escape, markdown_to_html, split_html

if TYPE_CHECKING:
    from observability.reporting.report_pipeline import ReportResult

log = logging.getLogger(__name__)
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER = 300.0
_PART_LABEL = 32
"""Room for the "<i>(12/34)</i>" label on each part of a long message."""


class TelegramError(ObservabilityError):
    """Telegram refused or could not be reached after retries (message never contains the token)."""


class _RedactFilter(logging.Filter):
    """Rewrites log records that would print the token (httpx logs every request URL at INFO)."""

    def __init__(self, secret: Secret) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._secret.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class TelegramSender:
    def __init__(self, *, token: Secret, chat_id: str | int, base_url: str = "https://api.telegram.org",
                 min_interval_seconds: float = 1.0, max_retries: int = 5, timeout_seconds: float = 20.0) -> None:
        self._token = token
        self.chat_id = str(chat_id)
        self.base_url = base_url.rstrip("/")
        self.min_interval = min_interval_seconds
        self.max_retries = max_retries
        self._client = httpx.Client(timeout=timeout_seconds)
        self._lock = threading.Lock()
        self._last_sent = float("-inf")
        self._filter = _RedactFilter(token)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(self._filter)
        self.sent = 0

    def __repr__(self) -> str:
        return f"TelegramSender(chat_id={self.chat_id!r}, base_url={self.base_url!r}, token={REDACTED!r})"

    def close(self) -> None:
        self._client.close()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).removeFilter(self._filter)

    def __enter__(self) -> TelegramSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self) -> None:
        wait = self._last_sent + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _post(self, text: str) -> httpx.Response:
        url = f"{self.base_url}/bot{self._token.reveal()}/sendMessage"
        body = {"chat_id": self.chat_id, "text": text, "parse_mode": "HTML", "disable_web_page_preview": True}
        return self._client.post(url, json=body)

    def send_html(self, text: str) -> None:
        """Send one message (≤ 4,096 characters of Telegram HTML), retrying as described above."""
        with self._lock:
            failures = 0
            while True:
                self._pace()
                try:
                    resp = self._post(text)
                except httpx.HTTPError as exc:
                    self._last_sent = time.monotonic()
                    reason = self._token.redact(f"{type(exc).__name__}: {exc}")
                    failures = self._retry_or_raise(failures, reason)
                    continue
                self._last_sent = time.monotonic()
                if resp.status_code == 429:
                    retry_after = self._retry_after(resp)
                    log.warning("telegram: rate limited, waiting %.0f s", retry_after)
                    failures = self._retry_or_raise(failures, "HTTP 429 (rate limited)", wait=retry_after)
                    continue
                if resp.status_code >= 500:
                    failures = self._retry_or_raise(failures, f"HTTP {resp.status_code}")
                    continue
                if resp.status_code >= 400:
                    detail = self._token.redact(self._description(resp))
                    raise TelegramError(f"telegram refused the message: HTTP {resp.status_code}: {detail}")
                self.sent += 1
                return

    def _retry_or_raise(self, failures: int, reason: str, *, wait: float | None = None) -> int:
        if failures >= self.max_retries:
            raise TelegramError(f"telegram: giving up after {failures + 1} attempts: {reason}")
        log.warning("telegram: %s; retrying", reason)
        time.sleep(wait if wait is not None else BACKOFF_SECONDS * 2**failures)
        return failures + 1

    @staticmethod
    def _retry_after(resp: httpx.Response) -> float:
        try:
            value = float(resp.json()["parameters"]["retry_after"])
        except (ValueError, KeyError, TypeError):
            value = float(resp.headers.get("Retry-After", 1) or 1)
        return min(max(value, 0.0), MAX_RETRY_AFTER)

    @staticmethod
    def _description(resp: httpx.Response) -> str:
        try:
            return str(resp.json().get("description", ""))[:200]
        except ValueError:
            return resp.text[:200]

    def send_long(self, html_text: str) -> int:
        """Split on line boundaries into ≤ 4,096-character messages and send them in order. Parts are
        numbered "(2/3)": if delivery stops half-way, the chat shows a report is incomplete."""
        parts = split_html(html_text)
        if len(parts) > 1:
            parts = split_html(html_text, MAX_MESSAGE - _PART_LABEL)
            parts = [f"<i>({i}/{len(parts)})</i>\n{p}" for i, p in enumerate(parts, start=1)]
        for part in parts:
            self.send_html(part)
        return len(parts)


class TelegramAlertSink:
    """A queue-monitor sink: `(alert_key, message)` → one escaped message (cooldown is the monitor's).

    The call only queues the message: a worker thread sends it, so a slow Telegram (a 429 can ask for
    minutes) never holds up the thread that evaluates health. Failures are logged (token-free).
    """

    def __init__(self, sender: TelegramSender) -> None:
        self.sender = sender
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-alerts")
        self._pending: list[Future[int]] = []

    def __repr__(self) -> str:
        return f"TelegramAlertSink({self.sender!r})"

    def __call__(self, alert_key: str, message: str) -> None:
        text = f"<b>huracan alert: {escape(alert_key)}</b>\n{escape(message)}"
        future = self._pool.submit(self.sender.send_long, text)
        future.add_done_callback(self._log_failure)
        self._pending = [f for f in self._pending if not f.done()] + [future]

    @staticmethod
    def _log_failure(future: Future[int]) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("telegram alert not delivered: %s", exc)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued alert was sent or failed (for shutdown and tests)."""
        wait(list(self._pending), timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def sender_from_config(config: TelegramConfig) -> TelegramSender:
    if config.chat_id is None or str(config.chat_id).strip() == "":
        raise ConfigError("telegram.chat_id is not set in ai_routing.yaml; set it to the chat to send reports to")
    token = load_secret(env_name=config.token_env, file_path=config.token_file, what="telegram")
    if token is None:
        raise ConfigError(f"no Telegram bot token: set {config.token_env} or telegram.token_file in ai_routing.yaml")
    return TelegramSender(token=token, chat_id=config.chat_id, base_url=config.base_url,
                          min_interval_seconds=config.min_interval_seconds, max_retries=config.max_retries,
                          timeout_seconds=config.timeout_seconds)


def report_html(result: ReportResult) -> str:
    body = markdown_to_html(result.markdown)
    if result.verified:
        return body
    bad = result.verification.problems
    return f"<b>UNVERIFIED REPORT: {bad} number(s), id(s) or date(s) are not supported by the data</b>\n{body}"


def send_report(config: TelegramConfig, result: ReportResult) -> int:
    """Send a saved report; returns the number of messages."""
    with sender_from_config(config) as sender:
        return sender.send_long(report_html(result))
