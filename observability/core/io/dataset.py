"""Where the Parquet event dataset lives (local directory or s3://bucket/prefix) and which files count.

Layout: `date=YYYY-MM-DD/symbol=SYMBOL/<first_seq>-<last_seq>.parquet`. The symbol is URL-encoded
(DuckDB, pyarrow, Spark and Trino all decode Hive values), so `BTC/USDT` round-trips exactly;
events without a symbol go under Hive's `__HIVE_DEFAULT_PARTITION__`, which every one of those
readers turns back into NULL.

Which files count (readers and the exporter agree on this, so a crash can never double count):
- a file whose first seq is above the exported watermark belongs to an export that did not
  finish; readers ignore it and the next export deletes it (its rows are still in live.db);
- a file whose seq range lies inside another file's range in the same partition was merged by
  compaction; the merged file is written before its sources are removed, so readers ignore the
  sources and compaction (or the next run) deletes them.
Files being written carry a hidden `.tmp-` name, which no reader globs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final
from urllib.parse import quote, unquote, urlparse

import pyarrow.fs as pafs

from observability.errors import ConfigError
from observability.paths import DataLayout

NULL_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"
TMP_PREFIX: Final = ".tmp-"
_NAME = re.compile(r"^(\d+)-(\d+)\.parquet$")
_DATE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")

ENV_S3_ENDPOINT: Final = "HURACAN_S3_ENDPOINT"


@dataclass(frozen=True)
class Target:
    """A dataset root on a pyarrow filesystem. `local` targets get fsync + rename; S3 puts are atomic."""

    fs: pafs.FileSystem
    base: str
    uri: str | None

    @property
    def local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def state_key(self) -> str:
        """Key of this target's watermark in live.db `export_state`."""
        return "parquet" if self.uri is None else f"parquet:{self.uri}"

    def join(self, *parts: str) -> str:
        return "/".join((self.base.rstrip("/"), *parts))


def s3_filesystem(endpoint: str | None = None) -> pafs.S3FileSystem:
    """S3FileSystem from the environment: HURACAN_S3_ENDPOINT, AWS_ACCESS_KEY_ID/SECRET, AWS_REGION.

    allow_delayed_open makes a file smaller than one upload part a single PUT (one request, not
    three); it also sidesteps moto 5.2.1's broken CompleteMultipartUpload (getmoto/moto#10055).
    """
    endpoint = endpoint or os.environ.get(ENV_S3_ENDPOINT)
    kwargs: dict[str, object] = {"allow_bucket_creation": True, "allow_delayed_open": True}
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs["endpoint_override"] = parsed.netloc
        kwargs["scheme"] = parsed.scheme or "https"
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        kwargs["access_key"] = key
        kwargs["secret_key"] = secret
    kwargs["region"] = os.environ.get("AWS_REGION", "us-east-1")
    return pafs.S3FileSystem(**kwargs)


def open_target(layout: DataLayout, uri: str | None = None) -> Target:
    """The local dataset of `layout`, or the dataset at `uri` (s3://bucket/prefix or file:///path)."""
    if uri is None:
        return Target(pafs.LocalFileSystem(), str(layout.parquet_events), None)
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"export uri {uri!r}: name a bucket, e.g. s3://my-bucket/huracan/events")
        return Target(s3_filesystem(), f"{parsed.netloc}{parsed.path}".rstrip("/"), uri)
    if parsed.scheme in ("", "file"):
        return Target(pafs.LocalFileSystem(), str(Path(parsed.path).expanduser()), uri)
    raise ConfigError(f"export uri {uri!r}: unsupported scheme {parsed.scheme!r}; use s3://bucket/prefix or a path")


def encode_symbol(symbol: str | None) -> str:
    """Path-safe, reversible Hive value; a leading '.' or '_' is escaped so no reader hides it."""
    if symbol is None:
        return NULL_PARTITION
    encoded = quote(symbol, safe="-")
    if encoded[:1] in (".", "_"):
        encoded = f"%{ord(encoded[0]):02X}{encoded[1:]}"
    return encoded


def partition_path(day: date, symbol: str | None) -> str:
    return f"date={day.isoformat()}/symbol={encode_symbol(symbol)}"


def file_name(first_seq: int, last_seq: int) -> str:
    return f"{first_seq}-{last_seq}.parquet"


@dataclass(frozen=True)
class DataFile:
    path: str
    partition: str
    day: date
    symbol: str | None
    first_seq: int
    last_seq: int
    size: int


def _parse(target: Target, info: pafs.FileInfo) -> DataFile | None:
    rel = info.path[len(target.base.rstrip("/")) + 1:] if info.path.startswith(target.base) else info.path
    parts = rel.split("/")
    if len(parts) != 3 or not parts[1].startswith("symbol="):
        return None
    m_date, m_name = _DATE.match(parts[0]), _NAME.match(parts[2])
    if m_date is None or m_name is None:
        return None
    raw_symbol = parts[1][len("symbol="):]
    symbol = None if raw_symbol == NULL_PARTITION else unquote(raw_symbol)
    return DataFile(info.path, f"{parts[0]}/{parts[1]}", date.fromisoformat(m_date.group(1)), symbol,
                    int(m_name.group(1)), int(m_name.group(2)), int(info.size or 0))


def list_files(target: Target) -> list[DataFile]:
    """Every finished data file of the dataset (temp files and foreign files are skipped)."""
    try:
        infos = target.fs.get_file_info(pafs.FileSelector(target.base, recursive=True, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = [f for i in infos if i.type == pafs.FileType.File and (f := _parse(target, i)) is not None]
    out.sort(key=lambda f: (f.partition, f.first_seq, -f.last_seq))
    return out


def split_files(
    files: list[DataFile], watermark: int | None
) -> tuple[list[DataFile], list[DataFile], list[DataFile]]:
    """(visible, orphans above the watermark, sources covered by a merged file).

    With no watermark (a reader without this dataset's live.db, e.g. another box's S3 data) no
    file can be called an orphan.
    """
    orphans = [] if watermark is None else [f for f in files if f.first_seq > watermark]
    rest = files if watermark is None else [f for f in files if f.first_seq <= watermark]
    covered: list[DataFile] = []
    visible: list[DataFile] = []
    by_partition: dict[str, list[DataFile]] = {}
    for f in rest:
        by_partition.setdefault(f.partition, []).append(f)
    for group in by_partition.values():
        # sorted by first_seq asc, last_seq desc: a file is covered iff an earlier one reaches past its end
        reach = -1
        for f in group:
            if f.last_seq <= reach:
                covered.append(f)
            else:
                visible.append(f)
                reach = f.last_seq
    return visible, orphans, covered
