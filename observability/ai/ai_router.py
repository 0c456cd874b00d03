"""Route a task's prompt to its providers in order, with retries and the daily budget.

The router only deals with LLM providers; the deterministic writer is the end of every route
and is run by the summary generator, which also owns verification and repair. A provider that
times out, fails or would exceed the budget is skipped and the reason recorded. Each call reserves
its worst case (prompt + max_tokens) before it is made and settles to the reported usage after; a
call that fails keeps its prompt charged, since a hosted API may bill a prompt it never answered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from observability.ai.budget import TokenBudget
from observability.ai.llm_client import ChatClient, Completion, LLMError
from observability.ai.secrets import load_secret
from observability.config.ai_routing_config import DETERMINISTIC, AIRoutingConfig, TaskName

log = logging.getLogger(__name__)
BACKOFF_SECONDS = 0.25


@dataclass
class Attempt:
    provider: str
    outcome: str
    detail: str = ""


@dataclass
class Routed:
    """A completion (or None when every LLM provider failed) and what was tried."""

    completion: Completion | None
    provider: str | None
    attempts: list[Attempt] = field(default_factory=list)


class AIRouter:
    def __init__(self, config: AIRoutingConfig, *, budget_path: Path) -> None:
        self.config = config
        path = Path(config.budget.state_file) if config.budget.state_file else budget_path
        self.budget = TokenBudget(path, daily_tokens=config.budget.daily_tokens,
                                  daily_cost_usd=config.budget.daily_cost_usd)
        self._clients: dict[str, ChatClient] = {}

    def client(self, name: str) -> ChatClient:
        if name not in self._clients:
            pc = self.config.providers[name]
            key = load_secret(env_name=pc.api_key_env, file_path=pc.api_key_file, what=f"provider {name}")
            self._clients[name] = ChatClient(name, pc, key)
        return self._clients[name]

    def llm_route(self, task: TaskName) -> list[str]:
        return [n for n in self.config.route(task) if n != DETERMINISTIC]

    def call(self, name: str, messages: list[dict[str, str]], attempts: list[Attempt]) -> Completion | None:
        """One provider with its retries; None (with the reason in `attempts`) when it cannot answer."""
        client = self.client(name)
        est_tokens, est_cost = client.estimate(messages)
        sent_tokens, sent_cost = client.prompt_estimate(messages)
        for attempt in range(client.config.retries + 1):
            if not self.budget.reserve(est_tokens, est_cost):
                attempts.append(Attempt(name, "budget", "daily token/cost budget exhausted"))
                return None
            try:
                done = client.complete(messages)
            except LLMError as exc:
                # the prompt may have been read (and billed) even though no answer came: it stays spent
                self.budget.charge(sent_tokens - est_tokens, sent_cost - est_cost)
                attempts.append(Attempt(name, "error", str(exc)))
                log.warning("AI provider failed: %s", exc)
                if not exc.retryable or attempt == client.config.retries:
                    return None
                time.sleep(BACKOFF_SECONDS * 2**attempt)
                continue
            self.budget.charge(done.prompt_tokens + done.completion_tokens - est_tokens,
                               client.cost(done.prompt_tokens, done.completion_tokens) - est_cost)
            attempts.append(Attempt(name, "answered"))
            return done
        return None

    def complete(self, task: TaskName, messages: list[dict[str, str]]) -> Routed:
        """The first LLM provider on the task's route that answers."""
        attempts: list[Attempt] = []
        for name in self.llm_route(task):
            done = self.call(name, messages, attempts)
            if done is not None:
                return Routed(done, name, attempts)
        return Routed(None, None, attempts)
