"""Where a Spark warehouse runs and lives: the master, the storage, the session's settings.

Warehouse URLs:

- `spark:///data/jingxin`: master from `JINGXIN_SPARK_MASTER` (default `local[2]`), a local folder;
- `spark://spark-master:7077/data/jingxin`: the standalone master `spark://spark-master:7077`
  (the URL's host wins over `JINGXIN_SPARK_MASTER`); the folder must be the same shared mount
  on every worker;
- `spark:///?master=yarn&storage=hdfs://namenode:8020/jingxin`, or
  `spark:///?master=k8s://https://api.cluster:6443&storage=s3a://bucket/jingxin`: any master
  Spark knows and storage given as a URI (`file://`, `hdfs://`, `s3a://`). YARN reads the
  cluster from `HADOOP_CONF_DIR`; Kubernetes needs `spark.kubernetes.container.image` and
  friends in `$SPARK_CONF_DIR/spark-defaults.conf` (see docs/deployment.md).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from jingxin.core.spark.storage import Storage, StorageError


class SparkConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SparkTarget:
    """A parsed `spark://` warehouse URL."""

    url: str
    master: str
    storage: Storage


def parse_spark_url(url: str) -> SparkTarget:
    from jingxin.core.settings import get_settings

    parsed = urlparse(url)
    if parsed.scheme != "spark":
        raise SparkConfigError(
            f"不是 Spark 仓库地址：{url!r}（应为 spark://主机:端口/目录 或 spark:///目录）"
        )
    query = parse_qs(parsed.query)
    master = query.get("master", [None])[0]
    if parsed.netloc:
        if master:
            raise SparkConfigError(f"{url}：主机与 ?master= 只能给一个")
        if not parsed.port:
            raise SparkConfigError(f"{url}：Spark 独立集群地址需要端口，如 spark://主机:7077/目录")
        master = f"spark://{parsed.netloc}"
    master = master or get_settings().spark_master
    location = query.get("storage", [None])[0] or parsed.path
    if not location or location == "/":
        raise SparkConfigError(f"{url}：缺少仓库目录，如 spark://主机:7077/data/jingxin 或 ?storage=hdfs://…")
    try:
        storage = Storage.at(location)
    except StorageError as exc:
        raise SparkConfigError(str(exc)) from exc
    return SparkTarget(url, master, storage)


def spark_session(master: str | None = None) -> Any:
    """The process's SparkSession for `master` (default: settings).

    One process has one SparkContext: a session for another master stops the old one first
    (Spark's `getOrCreate` would otherwise silently keep the old master).
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from jingxin.core.settings import get_settings

    s = get_settings()
    master = master or s.spark_master
    running = SparkContext._active_spark_context
    if running is not None and running.master != master:
        running.stop()
    # Bind the driver to loopback unless told otherwise: executors of a local master or a
    # cluster on this machine reach it there, and nothing listens on the public interface.
    os.environ["SPARK_LOCAL_IP"] = s.spark_local_ip
    # Executors run Python only for Python UDFs; where they do, the same interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(s.spark_app_name)
        .config("spark.driver.host", s.spark_local_ip)
        .config("spark.driver.bindAddress", s.spark_local_ip)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(s.spark_partitions))
        .config("spark.driver.memory", s.spark_memory)
        .config("spark.executor.memory", s.spark_executor_memory)
        .config("spark.sql.ansi.enabled", "false")
    )
    if s.spark_catalog is not None:
        from jingxin.core.spark.catalog import with_hive_catalog

        builder = with_hive_catalog(builder, s.spark_catalog)
    return builder.getOrCreate()
