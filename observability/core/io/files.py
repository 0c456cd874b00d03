"""Atomic, durable Parquet file writes and removals on a dataset target.

Local: write `<dir>/.tmp-<name>-<random>` (no `.parquet` suffix and a leading dot, so neither a
DuckDB `**/*.parquet` glob nor pyarrow.dataset ever sees it), fsync it, rename it into place,
fsync the directory (and every directory created for it). A crash leaves at most a temp file,
which the next export removes. S3: a PUT is atomic (the object appears only when complete).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from observability.core.io.columns import FILE_SCHEMA, RAW_FIELDS
from observability.core.io.dataset import TMP_PREFIX, Target

ROW_GROUP_ROWS: Final = 1_000_000
"""Large row groups: DuckDB parallelises and skips by row group; small ones cost per-group overhead."""
_DELTA: Final = [f.name for f in FILE_SCHEMA if f.name == "seq" or pa.types.is_timestamp(f.type)]
_SPLIT: Final = [f.name for f in FILE_SCHEMA if pa.types.is_float64(f.type)]
_ENVELOPE: Final = frozenset(n for n, _ in RAW_FIELDS)
WRITE_OPTIONS: Final[dict[str, object]] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": [f.name for f in FILE_SCHEMA if f.name not in _DELTA and f.name not in _SPLIT],
    "dictionary_pagesize_limit": 64 * 1024,
    "column_encoding": {**dict.fromkeys(_DELTA, "DELTA_BINARY_PACKED"), **dict.fromkeys(_SPLIT, "BYTE_STREAM_SPLIT")},
    "write_statistics": [f.name for f in FILE_SCHEMA if f.name in _ENVELOPE or f.name.endswith("_id")],
    "write_page_index": True,
}
"""seq and timestamps grow almost monotonically: delta-packed they shrink ~3x; doubles split by byte
plane compress ~25% better under zstd. Both are standard Parquet encodings (DuckDB, Spark, Trino).
A 64 KiB dictionary page (default 1 MiB) makes unique ids and JSON (event_id, trace_id, payload_rest)
fall back to plain encoding after a few thousand values instead of hashing ~30k into a dictionary
that is then thrown away; gate, symbol, regime, ... stay far below it. With zstd level 1 (was 3)
that cut the write's CPU ~30% on simulator data, and the files got smaller (46.9 vs 48.9 B/event).
Min/max statistics only for the envelope (seq, timestamps, symbol, event_type, trace_id, ...) and the
payload's ids: those are what filters and lookups prune row groups by, while a payload column holds
several event types' values (or nulls) in every row group, so its min/max skips nothing. Computing
them for all ~95 columns was ~13% of the write. The page index (each data page's min/max and offset) lets a
lookup by seq or trace_id decode only the pages that may hold it instead of the whole row group: one trace's rows
from a compacted 835k-row file, 34 -> 12 ms, for +0.3% bytes. These are the options of files that stay (compaction's);
`write_parquet` adds the bloom filters (BLOOM_COLUMNS)."""

EXPORT_WRITE_OPTIONS: Final[dict[str, object]] = {**WRITE_OPTIONS, "compression_level": -1}
"""The exporter's files: zstd's fast level -1 cuts the write's CPU ~9% (the export runs beside the engine and
must keep up) for ~10% more bytes (52 vs 47 B/event on simulator data), until compaction merges a partition's
export files into one written with WRITE_OPTIONS (levels below -1 saved no more CPU, and bytes grew on)."""

BLOOM_COLUMNS: Final = ("trace_id",)
"""Columns every written file has a bloom filter on. It lets a trace lookup skip the files that do not hold
the trace where min/max cannot (random ids span every file's range): 390 -> 84 ms for a history timeline
over 10 M events with md5 ids. pyarrow sizes the filter by the distinct values written (~32 KiB for 22k
ids; +0.3% bytes); the `ndv` given is what it allocates first, so it is the table's row count: 1 M cost
~0.9 ms more per file, ~20% of writing a 1,000-row export file, where the row count costs ~2% (0.2% at 200k)."""
BLOOM_FPP: Final = 0.01


def _with_bloom_filters(options: dict[str, object], rows: int) -> dict[str, object]:
    return {**options, "bloom_filter_options": {c: {"ndv": max(1, rows), "fpp": BLOOM_FPP} for c in BLOOM_COLUMNS}}


_TEMP_NAME: Final = re.compile(
    rf"^{re.escape(TMP_PREFIX)}(?:\d+-\d+(?:\.([a-z0-9]+))?|([a-z0-9]+)\.json)-[0-9a-f]+$"
)
"""Temp names of `write_parquet` (`.tmp-<first>-<last>[.<box>]-<hex>`) and of `dataset.publish_watermark`
(`.tmp-<box or default>.json-<hex>`)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create missing directories (0700) and fsync each new one's parent, so the entry survives a crash."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        _fsync_dir(d.parent)


def write_parquet(target: Target, rel_path: str, table: pa.Table, *, row_group_rows: int = ROW_GROUP_ROWS,
                  options: dict[str, object] = WRITE_OPTIONS) -> int:
    """Write `table` at `<base>/<rel_path>` atomically and durably; return the file size in bytes."""
    final = target.join(rel_path)
    options = _with_bloom_filters(options, min(table.num_rows, row_group_rows))
    if not target.local:
        with target.fs.open_output_stream(final) as out:
            pq.write_table(table, out, row_group_size=row_group_rows, **options)
        return int(target.fs.get_file_info(final).size or 0)
    dest = Path(final)
    _make_dirs(dest.parent)
    tmp = dest.parent / f"{TMP_PREFIX}{dest.stem}-{secrets.token_hex(4)}"
    try:
        pq.write_table(table, tmp, row_group_size=row_group_rows, **options)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    return dest.stat().st_size


def delete_files(target: Target, paths: list[str]) -> None:
    """Remove files (already-gone ones are fine); local removals are made durable per directory."""
    dirs: set[Path] = set()
    for path in paths:
        try:
            target.fs.delete_file(path)
        except FileNotFoundError:
            continue
        if target.local:
            dirs.add(Path(path).parent)
    for d in dirs:
        _fsync_dir(d)


def _temp_box(name: str) -> str | None:
    """The box whose file or marker a temp file will become (None: a name neither function writes)."""
    m = _TEMP_NAME.match(name)
    if m is None:
        return None
    if m.group(2) is not None:
        return "" if m.group(2) == "default" else m.group(2)
    return m.group(1) or ""


def remove_temp_files(target: Target, box: str) -> int:
    """Delete temp files a crashed export or compaction of this box left (local targets only; S3 has none).

    In a shared dataset other boxes write at the same time: their temp files are theirs to finish or
    remove, so only temp files named for this box's files and marker go.
    """
    if not target.local:
        return 0
    base = Path(target.base)
    if not base.exists():
        return 0
    stale = [p for p in base.rglob(f"{TMP_PREFIX}*")
             if p.is_file() and (target.uri is None or _temp_box(p.name) == box)]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)
