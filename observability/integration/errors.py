"""Errors raised by the integration hooks when the engine calls them out of order or with bad values."""

from __future__ import annotations

from observability.errors import EventValidationError


class HookError(EventValidationError):
    """A hook call that cannot be right (unknown trace, close without open, negative size, ...).

    Raised at the call, before anything is logged, so the engine sees its bug at once and the
    feed never holds half a story.
    """


class UnknownGateError(HookError):
    """A gate name that is not in configs/gates.yaml."""
