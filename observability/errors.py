"""Exception families for user-facing errors.

Each carries a one-line message that names what is wrong and how to fix it; the CLI and TUI
catch `ObservabilityError` once at their edge and print the message without a traceback.
"""

from __future__ import annotations


class ObservabilityError(Exception):
    """Base of every error meant to be shown to a user as one line."""


class ConfigError(ObservabilityError):
    """A config file (or environment override) is missing, unparsable or invalid."""


class SchemaVersionError(ObservabilityError):
    """A database was written by a newer (or unknown) schema version than this code understands."""


class LeakageError(ObservabilityError, ValueError):
    """Features or labels violate feature_ts <= decision_ts <= label_cutoff."""


class EventValidationError(ObservabilityError, ValueError):
    """An event failed validation (at the call for cheap checks, or in the writer)."""


class DataDirError(ObservabilityError):
    """The data directory or one of its databases is missing or unusable."""


class RegistryError(ObservabilityError):
    """A model or config registry operation failed (unknown id, corrupt artifact, ...)."""
