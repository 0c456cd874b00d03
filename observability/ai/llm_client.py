"""One call to an OpenAI-compatible `/chat/completions` endpoint (Ollama, llama.cpp, vLLM, hosted APIs).

Errors come back as `LLMError` with a one-line reason that never contains the API key (the key is
only ever placed in the Authorization header, and messages are redacted anyway).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from observability.ai.secrets import Secret
from observability.config.ai_routing_config import ProviderConfig
from observability.errors import ObservabilityError


class LLMError(ObservabilityError):
    """A provider call failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int


def _estimate_tokens(messages: list[dict[str, str]]) -> int:
    """~4 characters per token: used when a server does not report usage."""
    return sum(len(m["content"]) for m in messages) // 4 + 1


class ChatClient:
    def __init__(self, name: str, config: ProviderConfig, key: Secret | None) -> None:
        self.name = name
        self.config = config
        self._key = key

    def __repr__(self) -> str:
        return f"ChatClient({self.name!r}, model={self.config.model!r})"

    def _redact(self, text: str) -> str:
        return self._key.redact(text) if self._key is not None else text

    def prompt_estimate(self, messages: list[dict[str, str]]) -> tuple[int, float]:
        """What a call costs when the prompt was sent but no answer came back (it may still be billed)."""
        tokens = _estimate_tokens(messages)
        return tokens, self.cost(tokens, 0)

    def estimate(self, messages: list[dict[str, str]]) -> tuple[int, float]:
        tokens = _estimate_tokens(messages) + self.config.max_tokens
        return tokens, self.cost(_estimate_tokens(messages), self.config.max_tokens)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        c = self.config
        prompt_cost = prompt_tokens * c.cost_per_1k_prompt_tokens
        return (prompt_cost + completion_tokens * c.cost_per_1k_completion_tokens) / 1000

    def _exchange(self, url: str, body: dict[str, Any], headers: dict[str, str], deadline: float,
                  box: list[tuple[int, bytes] | BaseException | None]) -> None:
        """The HTTP exchange, run on a worker thread: appends (status, body), an exception, or None when
        the deadline passed while the answer was still arriving (byte by byte it never trips httpx's
        per-read timeout)."""
        try:
            with (httpx.Client(timeout=self.config.timeout_seconds) as client,
                  client.stream("POST", url, json=body, headers=headers) as resp):
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if time.monotonic() > deadline:
                        box.append(None)
                        return
                box.append((resp.status_code, bytes(data)))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            box.append(exc)

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        """One chat completion within `timeout_seconds` in total (connect, wait and the whole body)."""
        c = self.config
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        body: dict[str, Any] = {"model": c.model, "messages": messages, "temperature": c.temperature,
                                "max_tokens": c.max_tokens, "stream": False}
        url = c.base_url.rstrip("/") + "/chat/completions"
        box: list[tuple[int, bytes] | BaseException | None] = []
        worker = threading.Thread(target=self._exchange, args=(url, body, headers,
                                                               time.monotonic() + c.timeout_seconds, box),
                                  name=f"llm-{self.name}", daemon=True)
        worker.start()
        worker.join(c.timeout_seconds)
        outcome = box[0] if box else None
        if outcome is None or isinstance(outcome, httpx.TimeoutException):
            raise LLMError(f"{self.name}: no answer within {c.timeout_seconds:g} s", retryable=True)
        if isinstance(outcome, httpx.HTTPError):
            raise LLMError(self._redact(f"{self.name}: {type(outcome).__name__}: {outcome}"), retryable=True)
        if isinstance(outcome, BaseException):
            raise LLMError(self._redact(f"{self.name}: {type(outcome).__name__}: {outcome}"), retryable=False)
        status, raw = outcome
        if status >= 500 or status == 429:
            raise LLMError(f"{self.name}: HTTP {status}", retryable=True)
        if status >= 400:
            text = raw[:200].decode("utf-8", errors="replace")
            raise LLMError(self._redact(f"{self.name}: HTTP {status}: {text}"), retryable=False)
        try:
            data = json.loads(raw)
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self.name}: answer is not a chat completion", retryable=False) from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError(f"{self.name}: empty answer", retryable=False)
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or _estimate_tokens(messages))
        completion = int(usage.get("completion_tokens") or len(text) // 4 + 1)
        return Completion(text.strip(), prompt, completion)
