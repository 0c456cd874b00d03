"""Storage: Parquet export, compaction, retention, the DuckDB query layer and the trade journal.

Entry points (each safe to call at any time, from any process):
- `exporter.export_once(layout, max_rows=None, uri=None, wait=False) -> ExportResult`
  live_feed -> Parquet by seq watermark; by default skips (result.skipped) rather than wait for a
  running compaction, so the writer process can call it on its schedule without stalling.
- `journal.JournalProjector(layout).run_once() -> int` projects trade events into journal.db.
- `retention.prune(layout, hot_hours=..., ...) -> PruneResult` keeps live.db's hot window; it only
  deletes rows at or below both the exported and the journal watermark.
- `compaction.compact(layout, uri=None, dry_run=False) -> CompactionResult` merges small files.
- `query.QueryLayer(layout, s3_uri=None)`: in-memory DuckDB views over Parquet + unexported live rows;
  `trades` / `shadow_trades` are tables it keeps up to date at each `refresh()`.
"""
