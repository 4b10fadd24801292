"""The warehouse (数据仓库): facts by source and period, with lineage, behind Ibis.

One URL picks the backend; the analytics are Ibis expressions that run unchanged on each:

- `duckdb:///path/file.duckdb`: the embedded default. DuckDB lets one process write a file;
  a second process that tries gets `WarehouseBusyError` at once, never a wait or a corrupt file.
- `postgresql://user@host:port/db[?schema=name]`: production; tables live in one schema.
- `spark:///path/folder` or `spark://master:7077/path` (see `core/spark/config.py` for YARN,
  Kubernetes, HDFS and object storage): scale-out analytics over published versions of the
  serving warehouse (`core/spark/publish.py`). Appends (evaluation runs) are written beside the
  versions as new Parquet files made visible by an atomic rename; in-place updates (batch
  supersession) are refused, so ingestion runs on DuckDB or PostgreSQL and is published.
"""

from __future__ import annotations

import collections
import contextvars
import io
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv

import jingxin.core.sqlglot_fixes  # noqa: F401  (PostgreSQL semi joins)
from jingxin.core.schema import all_schemas

if TYPE_CHECKING:
    from jingxin.core.spark.layer import SparkLayer

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(RuntimeError):
    pass


class WarehouseBusyError(WarehouseError):
    """Another process holds the DuckDB warehouse file for writing."""


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


# Writes made through this process, per DuckDB warehouse URL (see `Warehouse.local_writes`).
_local_writes: collections.Counter[str] = collections.Counter()

ReadObserver = Callable[["Warehouse", str, tuple, Any], None]
_READ_OBSERVER: contextvars.ContextVar[ReadObserver | None] = contextvars.ContextVar(
    "warehouse_read_observer", default=None
)


@contextmanager
def observing_reads(observer: ReadObserver) -> Iterator[None]:
    """Inside the block (in this context), every read through a `Warehouse` is reported to
    `observer(warehouse, method, args, answer)`: `table`, `has_table`, `execute`, `to_pyarrow`
    and `sql`. Why: an evaluation that keeps the expressions it built must know everything they
    were built on, so that it can ask again before reusing them (`evaluation.reuse`)."""
    token = _READ_OBSERVER.set(observer)
    try:
        yield
    finally:
        _READ_OBSERVER.reset(token)


def _report(wh: Warehouse, method: str, args: tuple, answer: Any) -> Any:
    observer = _READ_OBSERVER.get()
    if observer is not None:
        observer(wh, method, args, answer)
    return answer


class Warehouse:
    """A connection to the warehouse. `con` is the Ibis backend for analytics."""

    def __init__(
        self, url: str, kind: str, con: Any, spark: SparkLayer | None = None, store_key: str | None = None
    ):
        self.url = url
        # What names the stored data: the URL, or for an in-memory DuckDB one key per database
        # (all in-memory warehouses share the URL `duckdb://`); caches key on it.
        self.store_key = store_key or url
        self.kind = kind
        self.con = con
        self.spark = spark  # the published version and written rows of a Spark warehouse
        self._in_transaction = False
        # The web server pins the data version for the length of one request (see
        # `jingxin.core.cache.data_version`); a write through this object unpins it.
        self.pin_version = False
        self.pinned_version: tuple | None = None
        self._looked_up = threading.local()  # see `same_tables`

    # ---- reading -------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        tables = getattr(self._looked_up, "tables", None)
        if tables is None:
            return _report(self, "table", (name,), self.con.table(name))
        found = tables.get(name)
        if found is None:
            found = tables[name] = self.con.table(name)
        return _report(self, "table", (name,), found)

    def has_table(self, name: str) -> bool:
        names = getattr(self._looked_up, "names", None)
        if names is None:
            return _report(self, "has_table", (name,), name in self.con.list_tables())
        if not names:
            names.update(self.con.list_tables())
        return _report(self, "has_table", (name,), name in names)

    @contextmanager
    def same_tables(self) -> Iterator[Warehouse]:
        """Inside the block (on this thread), each table's columns are asked of the database
        once. Why: an evaluation refers to a dozen tables thirty times, and every lookup is a
        query for the columns and their types; nothing inside the block changes a table's
        columns (only its own temporary stages are made)."""
        if getattr(self._looked_up, "tables", None) is not None:
            yield self
            return
        self._looked_up.tables, self._looked_up.names = {}, set()
        try:
            yield self
        finally:
            self._looked_up.tables = self._looked_up.names = None

    def current(self, name: str) -> ibis.Table:
        """The fact table `name` without the rows of superseded batches (更正后的现行数据)."""
        facts = self.table(name)
        live = self.table("batches").filter(lambda b: b.superseded_by.isnull()).select("batch_id")
        return facts.semi_join(live, "batch_id")

    def execute(self, expr: ibis.Expr) -> Any:
        return _report(self, "execute", (expr,), self.con.execute(expr))

    def to_pyarrow(self, expr: ibis.Expr) -> pa.Table:
        return _report(self, "to_pyarrow", (expr,), self.con.to_pyarrow(expr))

    # ---- schema --------------------------------------------------------------------------
    @property
    def local_writes(self) -> int | None:
        """How many writes this process has made to this DuckDB warehouse since opening it
        (None for other backends). A process that has a DuckDB file open is its only writer,
        and opening counts as a write (another process may have written before), so this
        number changes exactly when the data may have: the read cache's version, for free."""
        return _local_writes[self.store_key] if self.kind == "duckdb" else None

    def _wrote(self) -> None:
        """Count a write; called after it is done (or committed), so that an answer read
        before it can never be kept under the new version."""
        if self.kind == "duckdb":
            _local_writes[self.store_key] += 1
        self.pinned_version = None

    def ensure_schema(self, schemas: dict[str, ibis.Schema] | None = None) -> None:
        """Create any missing table (idempotent)."""
        existing = set(self.con.list_tables())
        for name, schema in (schemas or all_schemas()).items():
            if name in existing:
                continue
            if self.kind == "spark":
                self._spark_create(name, schema)
            else:
                self.con.create_table(name, schema=schema)
            self._wrote()

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All writes inside the block commit together or not at all."""
        if self._in_transaction:
            yield self
            return
        self._in_transaction = True
        self._pending: list[tuple[str, str]] = []
        try:
            if self.kind == "duckdb":
                raw = self.con.con
                raw.begin()
                try:
                    yield self
                    raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
            elif self.kind == "postgres":
                with self.con.con.transaction():
                    yield self
            else:
                assert self.spark is not None
                try:
                    yield self
                except BaseException:
                    self.spark.discard(self._pending)
                    raise
                self.spark.commit(self._pending)
                self._refresh_spark_views()
        finally:
            self._in_transaction = False
            self._wrote()

    def insert_arrow(self, name: str, data: pa.Table, constants: dict[str, Any] | None = None) -> None:
        """Append rows; columns are matched by name. `constants` are columns with one value
        for every row (the batch id of an ingest): DuckDB takes them as query parameters, so a
        million-row column of one value is never built."""
        name = _ident(name)
        if data.num_rows == 0:
            return
        try:
            if not constants:
                self._insert_arrow(name, data)
            elif self.kind == "duckdb":
                self._insert_arrow(name, data, constants)
            else:
                self._insert_arrow(name, _with_constants(data, constants))
        finally:
            self._wrote()

    def _insert_arrow(self, name: str, data: pa.Table, constants: dict[str, Any] | None = None) -> None:
        constants = constants or {}
        if self.kind == "duckdb":
            # The Arrow table is scanned in place by the INSERT (no copy through Python), in
            # slices of one row group each: DuckDB then writes each slice as its own row group
            # on its threads. One big slice costs two to three times the CPU (measured on 1M
            # rows, docs/benchmarks.md).
            raw = self.con.con
            view = f"__in_{uuid.uuid4().hex}"
            data = _row_group_slices(data)
            raw.register(view, data)
            try:
                fixed = [_ident(c) for c in constants]
                names = ", ".join(f'"{c}"' for c in [*fixed, *data.column_names])
                values = ", ".join(["?"] * len(fixed) + [f'"{c}"' for c in data.column_names])
                raw.execute(
                    f'INSERT INTO "{name}" ({names}) SELECT {values} FROM "{view}"', list(constants.values())
                )
            finally:
                raw.unregister(view)
        elif self.kind == "postgres":
            buf = io.BytesIO()
            pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False))
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            with (
                self.con.con.cursor() as cur,
                cur.copy(f'COPY "{name}" ({cols}) FROM STDIN (FORMAT csv)') as copy,
            ):
                copy.write(buf.getvalue())
        else:
            self._spark_append(name, data)

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a statement with `?` placeholders on DuckDB or PostgreSQL; returns its rows."""
        if self.kind == "spark":
            raise WarehouseError("Spark 仓库只读（仅追加）：请在 DuckDB 或 PostgreSQL 上入库后发布")
        try:
            if self.kind == "duckdb":
                cur = self.con.con.execute(statement, list(params))
                rows = cur.fetchall() if cur.description else []
            else:
                with self.con.con.cursor() as cur:
                    cur.execute(statement.replace("?", "%s"), list(params))
                    rows = cur.fetchall() if cur.description else []
            return _report(self, "sql", (statement, tuple(params)), rows)
        finally:
            if not statement.lstrip()[:6].upper().startswith(("SELECT", "WITH")):
                self._wrote()

    def analyze(self, tables: Sequence[str], *, changed: bool = True) -> None:
        """Refresh PostgreSQL's planner statistics of `tables` (nothing on DuckDB and Spark).

        Why: right after a bulk write the planner's row estimates are off by orders of magnitude
        (a new run id is estimated at one row) and it picks nested-loop joins: minutes instead
        of a fraction of a second for reading back a run of 10,000 enterprises. A writer calls
        this with what it wrote (`changed=True`: always analysed, since PostgreSQL's change
        counters lag behind other sessions' commits by up to seconds); a reader with
        `changed=False` analyses only those the counters already show as changed.
        """
        if self.kind != "postgres" or not tables:
            return
        names = {_ident(t) for t in tables}
        with self.con.con.cursor() as cur:
            if not changed:
                cur.execute(
                    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
                    " AND (n_mod_since_analyze > 0 OR (last_analyze IS NULL AND last_autoanalyze IS NULL))"
                )
                names &= {row[0] for row in cur.fetchall()}
            if names:
                cur.execute("ANALYZE " + ", ".join(f'"{name}"' for name in sorted(names)))

    def close(self) -> None:
        if self.kind == "spark":
            assert self.spark is not None
            self.spark.release()  # the SparkSession itself is shared by the process
            return
        self.con.disconnect()

    # ---- Spark (published version + written rows, see core/spark) ------------------------
    def _spark_create(self, name: str, schema: ibis.Schema) -> None:
        assert self.spark is not None
        self.spark.create_empty(name, schema)
        self._refresh_spark_views()

    def _spark_append(self, name: str, data: pa.Table) -> None:
        assert self.spark is not None
        target_schema = self.table(name).schema().to_pyarrow()
        staged = self.spark.stage_append(name, data.select(target_schema.names).cast(target_schema))
        if self._in_transaction:
            self._pending.append(staged)
        else:
            self.spark.commit([staged])
            self._refresh_spark_views()

    def _refresh_spark_views(self) -> None:
        """Rebind the tables: rows just written, and the current published version."""
        assert self.spark is not None
        self.spark.refresh()


# Rows per DuckDB row group (its default, DEFAULT_ROW_GROUP_SIZE).
DUCKDB_ROW_GROUP_ROWS = 122_880


def _row_group_slices(data: pa.Table) -> pa.Table:
    """`data` as record batches of one DuckDB row group each (zero-copy slices of one chunk)."""
    if data.num_rows <= DUCKDB_ROW_GROUP_ROWS:
        return data
    if any(column.num_chunks > 1 for column in data.columns):
        data = data.combine_chunks()
    return pa.Table.from_batches(data.to_batches(max_chunksize=DUCKDB_ROW_GROUP_ROWS), data.schema)


def _with_constants(data: pa.Table, constants: dict[str, Any]) -> pa.Table:
    """`data` with each constant as a column of its value (for the stores that need one)."""
    for column, value in constants.items():
        data = data.append_column(column, pa.repeat(pa.scalar(value), data.num_rows))
    return data


def spark_session(master: str | None = None) -> Any:
    """The process's SparkSession (see `jingxin.core.spark.config.spark_session`)."""
    from jingxin.core.spark.config import spark_session as session

    return session(master)


def open_warehouse(url: str | None = None, create: bool = True) -> Warehouse:
    """Connect to the warehouse at `url` (default: settings) and make sure its tables exist."""
    if url is None:
        from jingxin.core.settings import get_settings

        url = get_settings().warehouse_url
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    local_path = "/" + parsed.path.lstrip("/") if parsed.path else ""
    if scheme == "duckdb":
        wh = _open_duckdb(url, local_path)
    elif scheme in ("postgresql", "postgres"):
        wh = _open_postgres(url, parsed, create)
    elif scheme == "spark":
        wh = _open_spark(url)
    else:
        raise WarehouseError(f"不支持的仓库地址 {url!r}：请使用 duckdb:///、postgresql:// 或 spark:///")
    if create and wh.kind != "postgres":  # PostgreSQL: under its lock in `_open_postgres`
        wh.ensure_schema()
    return wh


def schema_problems(wh: Warehouse, schemas: dict[str, ibis.Schema] | None = None) -> list[str]:
    """What the warehouse lacks against the platform's table definitions: missing tables and
    columns (empty when current). `/readyz` reports these."""
    problems = []
    existing = set(wh.con.list_tables())
    for name, schema in (schemas or all_schemas()).items():
        if name not in existing:
            problems.append(f"缺少表 {name}")
            continue
        have = set(wh.table(name).schema().names)
        missing = [c for c in schema.names if c not in have]
        if missing:
            problems.append(f"表 {name} 缺少列 {', '.join(missing)}")
    return problems


def _open_duckdb(url: str, path: str) -> Warehouse:
    import duckdb

    file = Path(path) if path not in ("", "/", "/:memory:") else None
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = ibis.duckdb.connect(str(file) if file else ":memory:")
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            holder = re.search(r"PID (\d+)", str(exc))
            who = f"进程 {holder.group(1)}" if holder else "另一个进程"
            raise WarehouseBusyError(
                f"仓库文件 {file} 正被{who}写入（DuckDB 同一时间只允许一个进程写）。"
                "请等它结束，或在运行中的服务里操作（网页上传），或停止该服务后重试。"
            ) from exc
        raise
    from jingxin.core.settings import get_settings

    # Why: a checkpoint at every 16MB of log (DuckDB's default) rewrites the last, partly filled
    # row groups of every table written since; fewer checkpoints rewrite them less often
    # (docs/benchmarks.md, `bench/bench_checkpoint.py`)
    con.con.execute(f"SET checkpoint_threshold = '{get_settings().duckdb_checkpoint}'")
    store_key = url if file is not None else f"duckdb-memory-{uuid.uuid4().hex}"
    _local_writes[store_key] += 1  # another process may have written the file while it was closed
    return Warehouse(url, "duckdb", con, store_key=store_key)


def _open_spark(url: str) -> Warehouse:
    from jingxin.core.spark.config import SparkConfigError, parse_spark_url
    from jingxin.core.spark.layer import SparkLayer

    try:
        target = parse_spark_url(url)
    except SparkConfigError as exc:
        raise WarehouseError(str(exc)) from exc
    target.storage.fs.create_dir(target.storage.root, recursive=True)
    session = spark_session(target.master)
    layer = SparkLayer(target.storage, session)
    layer.refresh()
    return Warehouse(url, "spark", ibis.pyspark.connect(session), layer)


def _open_postgres(url: str, parsed: Any, create: bool) -> Warehouse:
    """A connection to the PostgreSQL warehouse; with `create`, its schema and tables are
    made first under an advisory lock, so that any number of processes starting together on
    an empty database take turns (the first creates, the others find the tables there) instead
    of racing into `DuplicateTable`."""
    import psycopg

    from jingxin.core.db import WAREHOUSE_SCHEMA_LOCK
    from jingxin.core.settings import get_settings

    settings = get_settings()
    schema = _ident(parse_qs(parsed.query).get("schema", [settings.warehouse_schema])[0])

    def connect() -> Warehouse:
        con = ibis.postgres.connect(
            host=parsed.hostname or "localhost",
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database=parsed.path.lstrip("/") or None,
            options=f"-c search_path={schema}",
            connect_timeout=settings.connect_timeout,
        )
        return Warehouse(url, "postgres", con)

    if not create:
        return connect()
    dsn = url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=settings.connect_timeout) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (WAREHOUSE_SCHEMA_LOCK,))
        try:
            admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            wh = connect()
            wh.ensure_schema()
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (WAREHOUSE_SCHEMA_LOCK,))
    return wh


def publish_parquet(wh: Warehouse, folder: Path | str, tables: Sequence[str] | None = None) -> list[str]:
    """Publish the warehouse's tables to the Spark warehouse at `folder` as a new version
    (see `jingxin.core.spark.publish.publish`); returns the tables written."""
    from jingxin.core.spark.publish import publish

    return list(publish(wh, str(folder), tables).tables)
