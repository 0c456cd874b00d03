"""Storage: Parquet export, compaction, retention, the DuckDB query layer and the trade journal."""
