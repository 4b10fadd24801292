"""The Spark warehouse in a persistent catalog: Spark's Hive support with its built-in metastore.

With `JINGXIN_SPARK_CATALOG=/folder` the session keeps its metastore (an embedded Derby
database) and its managed-table folder there, so every later Spark session (ours, `spark-sql`,
a notebook given the same settings) finds the tables without knowing our folder layout:

- `jingxin_<version>.<table>`: the tables of one published version (external Parquet tables,
  never changed; a consistent cut);
- `jingxin_written.<table>`: the rows written on Spark (evaluation runs);
- `jingxin.<table>`: views of what the warehouse reads now: the current version plus the rows
  written on Spark. They are replaced one by one after a switch, so a query that must not mix
  versions names a `jingxin_<version>` database.

Embedded Derby admits one JVM at a time: a second Spark driver using the same folder fails to
open the metastore. Several drivers need a shared metastore database (docs/deployment.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jingxin.core.spark.storage import VERSIONS, WRITTEN, Storage

CURRENT_DB = "jingxin"
WRITTEN_DB = "jingxin_written"


def with_hive_catalog(builder: Any, folder: Path) -> Any:
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return (
        builder.enableHiveSupport()
        .config("spark.sql.catalogImplementation", "hive")
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true",
        )
        .config("spark.sql.warehouse.dir", str(folder / "spark-warehouse"))
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={folder} -Dderby.stream.error.file={folder / 'derby.log'}",
        )
    )


def has_catalog(session: Any) -> bool:
    return session.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


def version_database(version: str) -> str:
    return "jingxin_" + re.sub(r"[^a-z0-9]", "_", version.lower())


def register(session: Any, storage: Storage, version: str | None) -> None:
    """Make the catalog match the folder: the version's tables, the written tables, the views;
    drop the entries of versions that were pruned (external tables: data is not touched)."""
    sql = session.sql
    sql(f"CREATE DATABASE IF NOT EXISTS {WRITTEN_DB}")
    sql(f"CREATE DATABASE IF NOT EXISTS {CURRENT_DB}")
    written = storage.written_tables()
    for t in written:
        _external(session, f"{WRITTEN_DB}.{t}", storage.spark_path(WRITTEN, t))
    published: list[str] = []
    if version is not None:
        db = version_database(version)
        sql(f"CREATE DATABASE IF NOT EXISTS {db}")
        published = storage.version_tables(version)
        for t in published:
            _external(session, f"{db}.{t}", storage.spark_path(VERSIONS, version, t))
        for t in sorted(set(published) | set(written)):
            query = _combined_sql(session, db, t, t in written, t in published)
            sql(f"CREATE OR REPLACE VIEW {CURRENT_DB}.{t} AS {query}")
    else:
        for t in written:
            sql(f"CREATE OR REPLACE VIEW {CURRENT_DB}.{t} AS SELECT * FROM {WRITTEN_DB}.{t}")
    kept = {version_database(v) for v in storage.versions()}
    for row in sql("SHOW DATABASES").collect():
        name = row[0]
        if name.startswith("jingxin_v") and name not in kept:
            sql(f"DROP DATABASE {name} CASCADE")


def _external(session: Any, name: str, location: str) -> None:
    if not session.catalog.tableExists(name):
        session.sql(f"CREATE TABLE {name} USING parquet LOCATION '{location}'")
    else:
        session.sql(f"REFRESH TABLE {name}")


def _combined_sql(session: Any, db: str, table: str, in_written: bool, in_published: bool) -> str:
    """The same rows `SparkLayer` reads: written rows, and published rows of runs not
    written on Spark (a run collected into the serving store and published again is one run)."""
    if not in_written:
        return f"SELECT * FROM {db}.{table}"
    if not in_published:
        return f"SELECT * FROM {WRITTEN_DB}.{table}"
    cols = session.table(f"{db}.{table}").columns
    have = set(session.table(f"{WRITTEN_DB}.{table}").columns)
    written_cols = ", ".join(f"`{c}`" if c in have else f"NULL AS `{c}`" for c in cols)
    published_cols = ", ".join(f"p.`{c}`" for c in cols)
    anti = (
        f" LEFT ANTI JOIN (SELECT DISTINCT run_id FROM {WRITTEN_DB}.{table}) w ON p.run_id = w.run_id"
        if "run_id" in cols and "run_id" in have
        else ""
    )
    return (
        f"SELECT {written_cols} FROM {WRITTEN_DB}.{table} "
        f"UNION ALL SELECT {published_cols} FROM {db}.{table} p{anti}"
    )
