"""Data-directory resolution and layout (DESIGN.md, "Data directory").

Precedence: explicit argument (the `--data-dir` flag), then `HURACAN_DATA_DIR`, then `./data`.
The directory is created on first use with mode 0700 because it holds trading history.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from observability.errors import DataDirError

ENV_DATA_DIR = "HURACAN_DATA_DIR"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory chosen by flag, environment or default (not created)."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return Path("data")


@dataclass(frozen=True)
class DataLayout:
    """Every path of the data directory contract in one place."""

    root: Path

    @property
    def sqlite_dir(self) -> Path:
        return self.root / "sqlite"

    @property
    def live_db(self) -> Path:
        return self.sqlite_dir / "live.db"

    @property
    def journal_db(self) -> Path:
        return self.sqlite_dir / "journal.db"

    @property
    def learning_db(self) -> Path:
        return self.sqlite_dir / "learning.db"

    @property
    def parquet_events(self) -> Path:
        return self.root / "parquet" / "events"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def fallback_dir(self) -> Path:
        """Where CRITICAL events that could not reach live.db are kept until they can."""
        return self.root / "fallback"

    @property
    def spare_fallback_dir(self) -> Path:
        """Second place for them when the data directory's disk is full: the system temp directory
        (usually another filesystem), one owner-only folder per data directory."""
        key = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "huracan-unwritten" / key

    @property
    def fallback_dirs(self) -> tuple[Path, Path]:
        return self.fallback_dir, self.spare_fallback_dir

    def ensure(self) -> DataLayout:
        """Create the directory tree with owner-only permissions (0700); DataDirError when it cannot be."""
        try:
            for d in (self.root, self.sqlite_dir, self.parquet_events.parent, self.parquet_events,
                      self.models_dir, self.reports_dir, self.fallback_dir):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
        except OSError as exc:
            raise DataDirError(f"{self.root}: cannot create the data directory ({exc.strerror or exc}: "
                               f"{exc.filename or d}); pass --data-dir (or HURACAN_DATA_DIR) naming a "
                               "directory you can write") from None
        return self


def data_layout(explicit: str | os.PathLike[str] | None = None, *, create: bool = False) -> DataLayout:
    layout = DataLayout(resolve_data_dir(explicit))
    return layout.ensure() if create else layout
