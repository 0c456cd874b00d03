"""configs/ai_routing.yaml: report writers per task, LLM providers, the daily budget, Telegram delivery.

Secrets are never in this file: a provider names the environment variable (or file) that holds its
key, and Telegram reads HURACAN_TELEGRAM_TOKEN (or a token file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from observability.config.loader import load_yaml_model

TaskName = Literal["daily_summary", "weekly_report", "trade_explanation", "alert_text"]
TASKS: tuple[TaskName, ...] = ("daily_summary", "weekly_report", "trade_explanation", "alert_text")
DETERMINISTIC = "deterministic"


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Cfg):
    """An OpenAI-compatible chat-completions endpoint."""

    base_url: str = Field(pattern=r"^https?://")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    api_key_file: str | None = None
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    retries: int = Field(1, ge=0, le=5)
    max_tokens: int = Field(800, ge=16, le=32_000)
    temperature: float = Field(0.0, ge=0, le=2)
    cost_per_1k_prompt_tokens: float = Field(0.0, ge=0)
    cost_per_1k_completion_tokens: float = Field(0.0, ge=0)


class BudgetConfig(_Cfg):
    daily_tokens: int = Field(200_000, ge=0)
    daily_cost_usd: float = Field(1.0, ge=0)
    state_file: str | None = None


class TelegramConfig(_Cfg):
    base_url: str = Field("https://api.telegram.org", pattern=r"^https?://")
    chat_id: str | int | None = None
    token_env: str = Field("HURACAN_TELEGRAM_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    token_file: str | None = None
    min_interval_seconds: float = Field(1.0, ge=0, le=60)
    max_retries: int = Field(5, ge=0, le=20)
    timeout_seconds: float = Field(20.0, gt=0, le=300)


def _default_tasks() -> dict[TaskName, list[str]]:
    return {t: [DETERMINISTIC] for t in TASKS}


class AIRoutingConfig(_Cfg):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    tasks: dict[TaskName, list[str]] = Field(default_factory=_default_tasks)
    budget: BudgetConfig = BudgetConfig()
    telegram: TelegramConfig = TelegramConfig()

    @field_validator("providers")
    @classmethod
    def _not_builtin(cls, providers: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        if DETERMINISTIC in providers:
            raise ValueError(f"'{DETERMINISTIC}' is the built-in writer; name your provider differently")
        return providers

    @field_validator("tasks")
    @classmethod
    def _known_providers(cls, tasks: dict[TaskName, list[str]], info: ValidationInfo) -> dict[TaskName, list[str]]:
        providers = info.data.get("providers") or {}
        for task, names in tasks.items():
            for name in names:
                if name != DETERMINISTIC and name not in providers:
                    raise ValueError(f"{task} routes to unknown provider {name!r}; define it under providers")
        return {**_default_tasks(), **tasks}

    def route(self, task: TaskName) -> list[str]:
        """Providers to try in order; the deterministic writer always ends the list."""
        names = [n for n in self.tasks.get(task, []) if n != DETERMINISTIC]
        return [*names, DETERMINISTIC]


DEFAULT_PATH = Path("configs/ai_routing.yaml")


def load_ai_routing_config(path: str | Path | None = None) -> AIRoutingConfig:
    """Load configs/ai_routing.yaml (defaults when the default file is absent) with HURACAN_AI__ overrides."""
    if path is None:
        return load_yaml_model(DEFAULT_PATH, AIRoutingConfig, env_prefix="AI", missing_ok=True)
    return load_yaml_model(path, AIRoutingConfig, env_prefix="AI")
