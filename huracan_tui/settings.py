"""configs/tui.yaml: key remapping and a few display settings, validated like every other config."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huracan_tui.commands import COMMANDS, known_ids
from observability.config.loader import load_yaml_model

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "configs" / "tui.yaml"


class TuiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: dict[str, str] = Field(default_factory=dict)
    """command id -> Textual key name(s), e.g. {show_gates: "G"} or {feed_follow: "end,F"}."""
    stale_after_s: float = Field(3.0, gt=0, le=600)
    """The engine is shown STALE when its newest health heartbeat is older than this."""
    feed_window: int = Field(2000, ge=100, le=50_000)
    """Rows the feed keeps in memory (older rows are paged from SQLite on scroll)."""
    feed_interval_s: float = Field(0.1, ge=0.02, le=5)
    refresh_interval_s: float = Field(2.0, ge=0.2, le=60)
    """How often the analytics panes (gates, trades, models, metrics) re-query, while visible."""

    @field_validator("keys")
    @classmethod
    def _known(cls, keys: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(keys) - set(known_ids()))
        if unknown:
            raise ValueError(f"unknown command id(s) {unknown}; known: {sorted(known_ids())}")
        for cid, key in keys.items():
            if not key.strip():
                raise ValueError(f"{cid}: key must not be empty")
        return keys

    @model_validator(mode="after")
    def _no_clash(self) -> TuiSettings:
        """Two commands may share a key only on different screens (an app-wide key clashes everywhere)."""
        seen: list[tuple[str, str, str]] = []  # (key, scope, id)
        for cmd in COMMANDS:
            for key in (k.strip() for k in self.keys.get(cmd.id, cmd.key).split(",")):
                for other_key, other_scope, other_id in seen:
                    if key == other_key and (cmd.scope == other_scope or "app" in (cmd.scope, other_scope)):
                        raise ValueError(f"key {key!r} is bound to both {other_id!r} and {cmd.id!r}; "
                                         "choose another key for one of them")
                seen.append((key, cmd.scope, cmd.id))
        return self


def load_settings(path: str | Path | None = None) -> TuiSettings:
    """Load configs/tui.yaml (defaults when the default file is absent); env: HURACAN_TUI__keys__show_gates=G."""
    if path is None:
        return load_yaml_model(DEFAULT_PATH, TuiSettings, env_prefix="TUI", missing_ok=True)
    return load_yaml_model(Path(path), TuiSettings, env_prefix="TUI")
