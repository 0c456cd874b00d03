"""A daily token and cost budget for LLM calls, persisted so that every process shares it.

State is one small JSON file (`{"day": "YYYY-MM-DD", "tokens": n, "cost_usd": x}`) updated under an
exclusive `flock`, so a report job and an alert job on the same box cannot both spend the last
tokens. A new UTC day starts from zero.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class TokenBudget:
    def __init__(self, path: Path, *, daily_tokens: int, daily_cost_usd: float) -> None:
        self.path = path
        self.daily_tokens = daily_tokens
        self.daily_cost_usd = daily_cost_usd

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read()
            yield state
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(state))
            os.replace(tmp, self.path)

    def _read(self) -> dict[str, Any]:
        try:
            state = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            state = {}
        if not isinstance(state, dict) or state.get("day") != _today():
            state = {"day": _today(), "tokens": 0, "cost_usd": 0.0}
        return state

    def reserve(self, tokens: int, cost_usd: float) -> bool:
        """Charge an estimate up front if it fits, in one locked step: two processes checking and then
        charging separately could both spend the last of the budget."""
        with self._locked() as state:
            if (self.daily_tokens - int(state["tokens"]) < tokens
                    or self.daily_cost_usd - float(state["cost_usd"]) < cost_usd):
                return False
            state["tokens"] = max(int(state["tokens"]) + tokens, 0)
            state["cost_usd"] = max(float(state["cost_usd"]) + cost_usd, 0.0)
            return True

    def charge(self, tokens: int, cost_usd: float) -> None:
        """Add (or, with negative amounts, give back) spending; never below zero for the day."""
        with self._locked() as state:
            state["tokens"] = max(int(state["tokens"]) + tokens, 0)
            state["cost_usd"] = max(float(state["cost_usd"]) + cost_usd, 0.0)
