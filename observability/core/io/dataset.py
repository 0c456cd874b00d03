"""Where the Parquet event dataset lives (local directory or s3://bucket/prefix) and which files count.

Layout: `date=YYYY-MM-DD/symbol=SYMBOL/<first_seq>-<last_seq>.<box>.parquet`. The symbol is URL-encoded
(DuckDB, pyarrow, Spark and Trino all decode Hive values), so `BTC/USDT` round-trips exactly;
events without a symbol go under Hive's `__HIVE_DEFAULT_PARTITION__`, which every one of those
readers turns back into NULL.

Several trading boxes may export into one dataset (an `export.uri` such as one S3 prefix read by
DuckDB, Spark or Trino). seq is numbered per box, so there every file name carries its box id
(`<first_seq>-<last_seq>.<box>.parquet`, `live_store.box_id`, random per live.db) and all seq
reasoning below is per box: box A never names, merges or deletes a file of box B. A data directory's
own dataset belongs to its one box and keeps the plain contract name (box "").

Which files count (readers and the exporter agree on this, so a crash can never double count):
- a file whose first seq is above its box's exported watermark belongs to an export that did not
  finish; readers ignore it and that box's next export deletes it (its rows are still in live.db).
  A reader knows its own box's watermark from live.db and every other box's from the marker
  `_boxes/<box>.json` that box publishes after each export (a box without a marker: all its files count);
- a file whose seq range lies inside another file's range of the same partition and box was merged by
  compaction; the merged file is written before its sources are removed, so readers ignore the
  sources and compaction (or the next run) deletes them.
Files being written carry a hidden `.tmp-` name, and markers live under `_boxes/`: no reader globs either.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final
from urllib.parse import quote, unquote, urlparse

import orjson
import pyarrow.fs as pafs

from observability.errors import ConfigError
from observability.paths import DataLayout

NULL_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"
TMP_PREFIX: Final = ".tmp-"
_NAME = re.compile(r"^(\d+)-(\d+)(?:\.([a-z0-9]{1,32}))?\.parquet$")
BOX_ID = re.compile(r"^[a-z0-9]{0,32}$")
MARKER_DIR: Final = "_boxes"
"""Per-box export markers; a leading underscore hides the directory from pyarrow, Spark and Trino."""
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

    def box(self, box_id: str) -> str:
        """The box id this box's files carry here: its own in a shared dataset, "" in its data directory."""
        return "" if self.uri is None else box_id

    @property
    def state_key(self) -> str:
        """Key of this target's watermark in live.db `export_state`."""
        return "parquet" if self.uri is None else f"parquet:{self.uri.rstrip('/')}"

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


def file_name(first_seq: int, last_seq: int, box: str = "") -> str:
    return f"{first_seq}-{last_seq}.{box}.parquet" if box else f"{first_seq}-{last_seq}.parquet"


@dataclass(frozen=True)
class DataFile:
    path: str
    partition: str
    day: date
    symbol: str | None
    first_seq: int
    last_seq: int
    size: int
    box: str = ""


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
                    int(m_name.group(1)), int(m_name.group(2)), int(info.size or 0), m_name.group(3) or "")


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
    files: list[DataFile], watermarks: Mapping[str, int | None]
) -> tuple[list[DataFile], list[DataFile], list[DataFile]]:
    """(visible, orphans above their box's watermark, sources covered by a merged file of their box).

    `watermarks` maps box id -> exported seq; a box missing from it (or mapped to None) has no
    orphans (e.g. a box that never published a marker).
    """
    orphans: list[DataFile] = []
    rest: list[DataFile] = []
    for f in files:
        mark = watermarks.get(f.box)
        (orphans if mark is not None and f.first_seq > mark else rest).append(f)
    covered: list[DataFile] = []
    visible: list[DataFile] = []
    by_partition: dict[tuple[str, str], list[DataFile]] = {}
    for f in rest:
        by_partition.setdefault((f.partition, f.box), []).append(f)
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


def _marker_path(target: Target, box: str) -> str:
    return target.join(MARKER_DIR, f"{box or 'default'}.json")


def publish_watermark(target: Target, box: str, seq: int) -> None:
    """Tell readers on other machines how far this box's export is complete (atomic replace)."""
    body = orjson.dumps({"box": box, "exported_seq": seq})
    path = _marker_path(target, box)
    if not target.local:
        with target.fs.open_output_stream(path) as out:
            out.write(body)
        return
    final = Path(path)
    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    tmp.write_bytes(body)
    os.replace(tmp, final)


def published_watermark(target: Target, box: str) -> int | None:
    """This box's published exported seq (None: no readable marker)."""
    try:
        with target.fs.open_input_stream(_marker_path(target, box)) as fh:
            return int(orjson.loads(fh.read())["exported_seq"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def published_watermarks(target: Target) -> dict[str, int]:
    """Every box's published exported seq (unreadable markers are skipped: all that box's files count)."""
    try:
        infos = target.fs.get_file_info(pafs.FileSelector(target.join(MARKER_DIR), allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    out: dict[str, int] = {}
    for info in infos:
        if info.type != pafs.FileType.File or not info.base_name.endswith(".json"):
            continue
        try:
            with target.fs.open_input_stream(info.path) as fh:
                doc = orjson.loads(fh.read())
            out[str(doc["box"])] = int(doc["exported_seq"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return out
