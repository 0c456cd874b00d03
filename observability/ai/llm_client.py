"""One call to an OpenAI-compatible `/chat/completions` endpoint (Ollama, llama.cpp, vLLM, hosted APIs).

Errors come back as `LLMError` with a one-line reason that never contains the API key (the key is
only ever placed in the Authorization header, and messages are redacted anyway).
"""

from __future__ import annotations

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

    def estimate(self, messages: list[dict[str, str]]) -> tuple[int, float]:
        tokens = _estimate_tokens(messages) + self.config.max_tokens
        return tokens, self.cost(_estimate_tokens(messages), self.config.max_tokens)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        c = self.config
        prompt_cost = prompt_tokens * c.cost_per_1k_prompt_tokens
        return (prompt_cost + completion_tokens * c.cost_per_1k_completion_tokens) / 1000

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        c = self.config
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        body: dict[str, Any] = {"model": c.model, "messages": messages, "temperature": c.temperature,
                                "max_tokens": c.max_tokens, "stream": False}
        url = c.base_url.rstrip("/") + "/chat/completions"
        try:
            with httpx.Client(timeout=c.timeout_seconds) as client:
                resp = client.post(url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise LLMError(f"{self.name}: no answer within {c.timeout_seconds:g} s", retryable=True) from None
        except httpx.HTTPError as exc:
            raise LLMError(self._redact(f"{self.name}: {type(exc).__name__}: {exc}"), retryable=True) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise LLMError(f"{self.name}: HTTP {resp.status_code}", retryable=True)
        if resp.status_code >= 400:
            raise LLMError(self._redact(f"{self.name}: HTTP {resp.status_code}: {resp.text[:200]}"), retryable=False)
        try:
            data = resp.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self.name}: answer is not a chat completion", retryable=False) from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError(f"{self.name}: empty answer", retryable=False)
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or _estimate_tokens(messages))
        completion = int(usage.get("completion_tokens") or len(text) // 4 + 1)
        return Completion(text.strip(), prompt, completion)
