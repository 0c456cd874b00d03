"""Merge runs of small Parquet files of a partition into large ones, never showing a half state.

A merged file is named after the seq range and box of the run it replaces (`<first>-<last>[.<box>].parquet`) and
is written atomically before any source is removed. Readers and the exporter drop any file whose
range lies inside another file's range of the same partition (`dataset.split_files`), so between
"merged file visible" and "sources deleted" — even across a crash — nothing is counted twice.
Only runs of consecutive files are merged, so a merged range never hides a file it did not absorb.
A box compacts only its own files (in a shared dataset each box compacts what it exported).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from observability.core.io.columns import FILE_SCHEMA
from observability.core.io.dataset import DataFile, Target, file_name, list_files, open_target, split_files
from observability.core.io.exporter import dataset_lock, reconcile
from observability.core.io.files import delete_files, write_parquet
from observability.core.live_store import box_id, export_record, open_readonly
from observability.errors import DataDirError
from observability.paths import DataLayout

TARGET_ROWS: Final = 1_000_000
"""A file with fewer rows is "small"; merged files hold up to about this many rows (one row group)."""


@dataclass(frozen=True)
class MergePlan:
    partition: str
    sources: tuple[DataFile, ...]
    rows: int

    @property
    def name(self) -> str:
        return file_name(self.sources[0].first_seq, self.sources[-1].last_seq, self.sources[0].box)


@dataclass(frozen=True)
class CompactionResult:
    plans: int
    files_merged: int
    files_written: int
    rows: int
    bytes_before: int
    bytes_after: int
    dry_run: bool
    seconds: float


def _rows(target: Target, f: DataFile) -> int:
    with target.fs.open_input_file(f.path) as fh:
        return int(pq.read_metadata(fh).num_rows)


def plan_compaction(target: Target, visible: list[DataFile], *, target_rows: int = TARGET_ROWS) -> list[MergePlan]:
    """Runs of >= 2 consecutive small files per partition, each run up to ~target_rows."""
    plans: list[MergePlan] = []
    by_partition: dict[tuple[str, str], list[DataFile]] = {}
    for f in visible:
        by_partition.setdefault((f.partition, f.box), []).append(f)
    for (partition, _box), files in by_partition.items():
        runs: list[list[tuple[DataFile, int]]] = [[]]
        for f in sorted(files, key=lambda x: x.first_seq):
            n = _rows(target, f)
            if n >= target_rows:  # a large file ends the run: merging across it would hide it
                runs.append([])
                continue
            if sum(rows for _, rows in runs[-1]) + n > target_rows:
                runs.append([])
            runs[-1].append((f, n))
        plans.extend(MergePlan(partition, tuple(f for f, _ in run), sum(n for _, n in run))
                     for run in runs if len(run) >= 2)
    return plans


def conform(table: pa.Table) -> pa.Table:
    """Bring a file written by an older version to today's file schema (missing columns as NULL)."""
    if table.schema == FILE_SCHEMA:
        return table
    if "payload" in table.column_names and "payload_rest" not in table.column_names:
        # first-draft files kept the whole payload: as payload_rest it rebuilds to the same payload
        table = table.rename_columns(["payload_rest" if n == "payload" else n for n in table.column_names])
    cols = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in FILE_SCHEMA]
    return pa.Table.from_arrays(cols, schema=FILE_SCHEMA)


def _merge(target: Target, plan: MergePlan) -> int:
    tables = []
    for f in plan.sources:
        with target.fs.open_input_file(f.path) as fh:
            tables.append(conform(pq.read_table(fh, partitioning=None)))
    merged = pa.concat_tables(tables)
    size = write_parquet(target, f"{plan.partition}/{plan.name}", merged)
    delete_files(target, [f.path for f in plan.sources])
    return size


def _own_watermark(layout: DataLayout, target: Target) -> tuple[str, int | None]:
    """(this box's id, its exported seq); the seq is None without a live.db or without an export record
    for this target (then no file of ours can be judged unfinished, so none is deleted)."""
    try:
        conn = open_readonly(layout.live_db)
    except DataDirError:
        return "", None
    try:
        return target.box(box_id(conn)), export_record(conn, target.state_key)
    finally:
        conn.close()


def compact(
    layout: DataLayout, *, uri: str | None = None, dry_run: bool = False, target_rows: int = TARGET_ROWS,
    on_plans: Callable[[list[MergePlan]], None] | None = None, on_merged: Callable[[MergePlan], None] | None = None,
) -> CompactionResult:
    """Merge small files of every partition; with dry_run only report what would be merged."""
    started = time.perf_counter()
    target = open_target(layout, uri)
    with dataset_lock(layout):
        box, watermark = _own_watermark(layout, target)
        if not dry_run:
            reconcile(target, box, watermark)
        visible, _, _ = split_files([f for f in list_files(target) if f.box == box], {box: watermark})
        plans = plan_compaction(target, visible, target_rows=target_rows)
    if on_plans is not None:
        on_plans(plans)
    before = sum(f.size for p in plans for f in p.sources)
    after = written = 0
    for plan in ([] if dry_run else plans):
        with dataset_lock(layout):  # per merge, so a long compaction never holds the exporter back for long
            if all(target.fs.get_file_info(f.path).type == pafs.FileType.File for f in plan.sources):
                after += _merge(target, plan)
                written += 1
        if on_merged is not None:
            on_merged(plan)
    return CompactionResult(
        plans=len(plans), files_merged=sum(len(p.sources) for p in plans), files_written=written,
        rows=sum(p.rows for p in plans), bytes_before=before, bytes_after=after, dry_run=dry_run,
        seconds=time.perf_counter() - started,
    )
