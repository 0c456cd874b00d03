"""The read-only query layer: in-memory DuckDB over Parquet plus live rows not yet exported.

Each reader runs its own DuckDB in memory (a DuckDB file held by one process locks out all
others, see DESIGN.md). Live rows are read with sqlite3 (mode=ro) into Arrow because DuckDB's
sqlite extension cannot be downloaded here.

Exactly once: in one SQLite read transaction we take the exported watermark W and the live rows
with seq > W; Parquet contributes the files that count (`dataset.split_files`), listed after that
transaction: this box's files all end at or below W (a file above W is an unfinished export and
does not count), and other boxes' files count up to the watermark each one published.
Rows are cached between refreshes, so `refresh()` reads only what is new. `trades` and
`shadow_trades` are tables kept up to date at each refresh (trade_tables.py): connect() pays one
scan of the trade events; every query after it is a scan of a small table instead of a join over
the whole dataset.

Parquet files are listed at `refresh()`; a long-lived connection should call `refresh()` before
each analytics pass (compaction may replace files). `sql()` does that by itself when a listed
file has vanished.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from observability.core.io.columns import FILE_SCHEMA, WIDE_SCHEMA
from observability.core.io.dataset import (
    NULL_PARTITION,
    DataFile,
    Target,
    list_files,
    open_target,
    published_watermarks,
    split_files,
)
from observability.core.io.health_rows import HEALTH_SCHEMA, fetch_health
from observability.core.io.live_rows import new_duck
from observability.core.io.payload_sql import PAYLOAD_SQL
from observability.core.io.spool_live import read_live
from observability.core.io.trade_tables import TradeTables
from observability.core.io.views import VIEWS
from observability.core.live_store import box_id, export_record, open_readonly
from observability.errors import DataDirError, ObservabilityError
from observability.paths import DataLayout

_ALLOWED: Final = frozenset({duckdb.StatementType.SELECT})
OTHER_BOXES_VARIABLE: Final = "huracan_other_boxes"
"""DuckDB variable mirroring `QueryLayer.other_boxes`, for readers that only hold the connection."""
LIVE_FROM_VARIABLE: Final = "huracan_live_from"
"""DuckDB variable: every row of this box with a greater seq is in `_live` (its files stop there); NULL
without a live.db."""
NEW_FROM_VARIABLE: Final = "huracan_live_new_from"
"""DuckDB variable: `_live_new` (the live rows the last refresh read) holds every row of `_live` from this
seq up; NULL when that refresh read none. Incremental readers take their new rows from this small
table instead of scanning every live row."""
PARQUET_FILES_VARIABLE: Final = "huracan_pq_files"
"""DuckDB variable: the local files `_pq` reads, a list of {path, bound} in its order (rows with seq above
`bound` do not count; NULL: all do); NULL when `_pq` reads no file list (a dataset on S3). Set with `_pq`,
so a reader holding only the connection can read the files directly instead of binding the wide view."""
HIVE_OPTIONS: Final = "hive_partitioning = true, union_by_name = true, hive_types = {'date': DATE, 'symbol': VARCHAR}"
"""The options `_pq` reads its files with: `symbol` and `date` from the path, missing columns NULL."""
PARQUET_FILES_TYPE: Final = "STRUCT(path VARCHAR, bound BIGINT)[]"
NO_AUTO_CHECKPOINT: Final = "1000TB"
"""The query layer's DuckDB `checkpoint_threshold`: more changes than a reader ever makes (see `connect`)."""
_EXPLAIN = re.compile(r"^\s*explain\s+(analyze\s+)?", re.IGNORECASE)
_WIDE_COLUMNS: Final = ", ".join(f'"{n}"' for n in WIDE_SCHEMA.names)
_PARQUET_COLUMNS: Final = ", ".join(f'"{n}"' for n in FILE_SCHEMA.names) + f", {PAYLOAD_SQL} AS payload, date"
_PARTITIONING: Final = ds.HivePartitioning(
    pa.schema([("date", pa.date32()), ("symbol", pa.string())]),
    null_fallback=NULL_PARTITION, segment_encoding="uri",
)


class QueryError(ObservabilityError):
    """A query was refused (it writes) or DuckDB rejected it; the message is DuckDB's own."""


def check_read_only(sql: str) -> None:
    """Refuse anything but SELECT-like statements (and EXPLAIN of them), naming the statement type."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    if not statements:
        raise QueryError("empty query; pass a SELECT statement")
    for st in statements:
        kind = st.type
        if kind == duckdb.StatementType.EXPLAIN:
            check_read_only(_EXPLAIN.sub("", st.query, count=1))
            continue
        if kind not in _ALLOWED:
            name = str(kind).rsplit(".", 1)[-1]
            raise QueryError(
                f"refused: {name} statements are not allowed; the query layer is read-only (use SELECT)"
            )


def _watermark(conn: sqlite3.Connection, key: str) -> int | None:
    try:
        return export_record(conn, key)
    except sqlite3.OperationalError:
        return None


def sql_str(value: str) -> str:
    """A string as a SQL literal."""
    return "'" + value.replace("'", "''") + "'"


class QueryLayer:
    """Views `events`, `signals`, `gate_decisions`, `trades`, ... over Parquet ∪ unexported live rows."""

    def __init__(self, layout: DataLayout, s3_uri: str | None = None, *, materialize_trades: bool = True) -> None:
        """`materialize_trades=False` keeps `trades`/`shadow_trades` as plain joins: right for one-off
        queries (a CLI call that touches them once, or not at all), where building the tables at
        connect() would cost more than it saves."""
        self.layout = layout
        self.materialize_trades = materialize_trades
        self._target: Target = open_target(layout, s3_uri)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._scratch = new_duck()
        self._live: pa.Table = WIDE_SCHEMA.empty_table()
        self._live_max = 0
        self._live_new: pa.Table = WIDE_SCHEMA.empty_table()
        self._wide_defined = False
        self._pq_sql = ""
        self._live_min: int | None = None
        """Lowest seq in `_live`, None when it is empty."""
        self._health: pa.Table = HEALTH_SCHEMA.empty_table()
        self._health_max_id = 0
        self._trades = TradeTables()
        self.watermark: int | None = None
        """Exported seq taken with the live rows; None when this dataset was never exported from here."""
        self.box: str | None = None
        """This data directory's box id in the dataset; None without a live.db (a reader of others' data)."""
        self.other_boxes = False
        """True when files of other boxes count: seq is then no order over all rows (incremental readers
        keyed on seq must rebuild instead)."""

    def connect(self) -> duckdb.DuckDBPyConnection:
        """The in-memory connection with every view registered (created and refreshed on first call)."""
        if self._con is None:
            con = new_duck()
            con.execute("SET parquet_metadata_cache = true")  # files are immutable: footers parse once
            # DuckDB checkpoints an in-memory database too (compressing the changed row groups of its tables)
            # once ~16 MiB of changes pile up: the trade tables' updates set one off every few live refreshes,
            # stalling that refresh 0.5-1.1 s at 10 M events. Never automatically, then (the tables stay
            # uncompressed; rows deleted by their updates are not vacuumed, whole deleted row groups still go).
            con.execute(f"SET checkpoint_threshold = '{NO_AUTO_CHECKPOINT}'")
            con.register("_pq_empty", WIDE_SCHEMA.empty_table())
            con.execute("CREATE OR REPLACE VIEW _pq_none AS SELECT *, TRUE AS _own FROM _pq_empty")
            self._con, self._wide_defined, self._pq_sql = con, False, ""
            self.refresh()
            for name, body in VIEWS.items():
                con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
            con.execute("CREATE OR REPLACE VIEW health AS SELECT * FROM _health")
        return self._con

    def refresh(self) -> None:
        """Re-read new live rows and the Parquet file list (cheap: only rows newer than last time)."""
        con = self._con if self._con is not None else self.connect()
        self._read_live()
        files = self._define_parquet(con)
        con.register("_live", self._live)
        con.register("_live_new", self._live_new)
        new_from = self._live_new["seq"][0].as_py() if self._live_new.num_rows else None
        live_from = None if self.box is None else self._own_mark
        for name, value in ((LIVE_FROM_VARIABLE, live_from), (NEW_FROM_VARIABLE, new_from)):
            con.execute(f"SET VARIABLE {name} = {'NULL' if value is None else int(value)}")
        con.register("_health", self._health)
        if not self._wide_defined:  # by name: the relations under it are replaced, the view stays
            con.execute(
                f"CREATE OR REPLACE VIEW _events_wide AS SELECT {_WIDE_COLUMNS}, _own FROM _pq "
                f"UNION ALL SELECT {_WIDE_COLUMNS}, TRUE AS _own FROM _live"
            )
            self._wide_defined = True
        if not self.materialize_trades:
            self._trades.define_views(con)
            return
        own = [f for f in files if f.box == self.box]
        foreign = [f.path for f in files if f.box != self.box]
        mark = self._own_mark
        tops = [f.last_seq if mark is None else min(f.last_seq, mark) for f in own]
        live = [] if live_from is None else [("_live", live_from)]
        if new_from is not None and live_from is not None:
            live.insert(0, ("_live_new", max(live_from, new_from - 1)))
        self._trades.update(con, own, foreign, self.watermark, max([*tops, self._live_top()]), live)

    @property
    def _own_mark(self) -> int | None:
        """How far this box's files count: its watermark, 0 before its first export finished (its files are
        then all unfinished, as the exporter sees them: their rows are all live), None without a live.db."""
        return None if self.box is None else (self.watermark or 0)

    @property
    def trade_table_rebuilds(self) -> int:
        """How often `trades`/`shadow_trades` were built from scratch (else they are updated in place)."""
        return self._trades.rebuilds

    def sql(self, query: str, params: Any = None) -> pa.Table:
        """Run one read-only query and return Arrow; writes and DuckDB errors raise QueryError."""
        check_read_only(query)
        con = self.connect()
        for attempt in (0, 1):
            try:
                rel = con.sql(query, params=params)
                return rel.to_arrow_table() if rel is not None else pa.table({})
            except duckdb.IOException as exc:
                vanished = any(m in str(exc) for m in ("No such file", "does not exist", "No files found"))
                if attempt == 0 and vanished:
                    self.refresh()  # compaction replaced a listed file since the last refresh
                    continue
                raise QueryError(str(exc)) from None
            except duckdb.Error as exc:
                raise QueryError(str(exc)) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self._scratch.close()

    # ------------------------------------------------------------------ internals

    def _live_top(self) -> int:
        return -1 if self._live_min is None else self._live_max

    def _read_live(self) -> None:
        """New live rows and health rows; the watermark and the rows above it come from one read
        transaction, so no export or pruning can fall between them."""
        try:
            conn = open_readonly(self.layout.live_db)  # also refuses a live.db newer than this code
        except DataDirError:
            return
        try:
            conn.execute("BEGIN")
            watermark = _watermark(conn, self._target.state_key)
            self.box = self._target.box(box_id(conn))
            read = read_live(conn, self.layout.export_spool_dir, after_seq=max(watermark or 0, self._live_max))
            health, self._health_max_id = fetch_health(conn, after_id=self._health_max_id)
            conn.execute("COMMIT")
        finally:
            conn.close()
        self.watermark = watermark
        live = self._live
        # Only an export since the last refresh leaves rows to drop (filtering copies every live row).
        if self._live_min is not None and watermark is not None and self._live_min <= watermark:
            live = live.filter(pc.greater(live["seq"], watermark))
            self._live_min = None if watermark >= self._live_max else int(pc.min(live["seq"]).as_py())
        new = self._live_new = read.wide(self._scratch)
        if new.num_rows:
            live = pa.concat_tables([live, new])
            self._live_max = int(new["seq"][-1].as_py())
            if self._live_min is None:
                self._live_min = int(new["seq"][0].as_py())
        self._live = live
        if health.num_rows:
            self._health = pa.concat_tables([self._health, health])

    def _define_parquet(self, con: duckdb.DuckDBPyConnection) -> list[DataFile]:
        """Point `_pq` at the files that count now (with `_own`: written by this box); return them."""
        marks: dict[str, int | None] = dict(published_watermarks(self._target))
        if self.box is not None:
            marks[self.box] = self._own_mark
        visible, _, _ = split_files(list_files(self._target), marks)
        self.other_boxes = any(f.box != self.box for f in visible)
        con.execute(f"SET VARIABLE {OTHER_BOXES_VARIABLE} = {'true' if self.other_boxes else 'false'}")
        groups = [(own, [f for f in visible if (f.box == self.box) is own]) for own in (True, False)]
        parts = [self._parquet_source(con, files, own) for own, files in groups if files]
        sql = f"CREATE OR REPLACE VIEW _pq AS {' UNION ALL '.join(parts) or 'SELECT * FROM _pq_none'}"
        if sql != self._pq_sql:  # binding read_parquet reads every file's schema: only when the files changed
            con.execute(sql)
            self._publish_files(con, groups)
            self._pq_sql = sql
        return visible

    def _publish_files(self, con: duckdb.DuckDBPyConnection, groups: list[tuple[bool, list[DataFile]]]) -> None:
        """Set PARQUET_FILES_VARIABLE to what `_pq` now reads: each file with the bound `_parquet_source` gave it."""
        if not self._target.local:
            con.execute(f"SET VARIABLE {PARQUET_FILES_VARIABLE} = NULL")
            return
        files = [{"path": f.path, "bound": self._own_mark if own else None} for own, fs in groups for f in fs]
        con.execute(f"SET VARIABLE {PARQUET_FILES_VARIABLE} = $files::{PARQUET_FILES_TYPE}", {"files": files})

    def _parquet_source(self, con: duckdb.DuckDBPyConnection, files: list[DataFile], own: bool) -> str:
        """SELECT of the wide columns (and `_own`) over these files."""
        flag = "TRUE" if own else "FALSE"
        # This box's rows above W are the live rows read with W. A file can still reach past W: the listing
        # comes after that read, and compaction may meanwhile merge files of a newer export into it.
        bound = f" WHERE seq <= {self._own_mark}" if own and self._own_mark is not None else ""
        if self._target.local:
            paths = ", ".join(sql_str(f.path) for f in files)
            return f"SELECT {_PARQUET_COLUMNS}, {flag} AS _own FROM read_parquet([{paths}], {HIVE_OPTIONS})" + bound
        dataset = ds.dataset(
            [f.path for f in files], schema=FILE_SCHEMA.append(pa.field("date", pa.date32())), format="parquet",
            filesystem=self._target.fs, partitioning=_PARTITIONING, partition_base_dir=self._target.base,
        )
        name = "_pq_dataset_own" if own else "_pq_dataset_other"
        con.register(name, dataset)
        return f"SELECT {_PARQUET_COLUMNS}, {flag} AS _own FROM {name}{bound}"
