"""Secrets (API keys, bot tokens) read from the environment or a file, and kept out of every output.

`Secret` never shows its value in repr/str/format; `redact` removes it from any text (exception
messages and URLs from httpx can embed a bot token, since Telegram puts it in the URL path).
"""

from __future__ import annotations

import os
from pathlib import Path

from observability.errors import ConfigError

REDACTED = "***"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        return text.replace(self._value, REDACTED) if self._value else text

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")


def load_secret(*, env_name: str | None, file_path: str | None, what: str) -> Secret | None:
    """The secret from `env_name` (preferred) or `file_path`; None when neither is configured or set."""
    if env_name:
        value = os.environ.get(env_name, "").strip()
        if value:
            return Secret(value)
    if file_path:
        p = Path(file_path).expanduser()
        try:
            value = p.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file {p} ({exc.strerror}); fix the path or its "
                              "permissions") from None
        if not value:
            raise ConfigError(f"{what}: secret file {p} is empty; put the key in it")
        return Secret(value)
    return None
