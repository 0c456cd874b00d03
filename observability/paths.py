"""Data-directory resolution and layout (DESIGN.md, "Data directory").

Precedence: explicit argument (the `--data-dir` flag), then `HURACAN_DATA_DIR`, then `./data`.
The directory is created on first use with mode 0700 because it holds trading history.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
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
    def export_spool_dir(self) -> Path:
        """Typed copies of committed live_feed rows the writer keeps for the exporter (`core.io.spool`)."""
        return self.sqlite_dir / "export-spool"

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
        return Path(tempfile.gettempdir()) / f"huracan-unwritten-{os.getuid()}" / key

    def spare_fallback_ready(self, *, create: bool) -> bool:
        """Whether the spare folder and its parent are real folders of this user nobody else can enter
        (with `create`, made so: 0700). Why: every user shares the system temp dir, and one could make
        the folder first, or a link to theirs, to read trading events or plant some for our next writer."""
        spare = self.spare_fallback_dir
        return all(_owner_only(d, create=create) for d in (spare.parent, spare))

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


def _owner_only(path: Path, *, create: bool) -> bool:
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    try:
        st = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return True


def data_layout(explicit: str | os.PathLike[str] | None = None, *, create: bool = False) -> DataLayout:
    layout = DataLayout(resolve_data_dir(explicit))
    return layout.ensure() if create else layout
