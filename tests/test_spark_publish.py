"""The publish cycle to a Spark warehouse: new versions switched atomically, readers never see a
mix, versions in use are never pruned, rows written on Spark survive; and the cluster URLs.

Each published version `k` holds two tables of `k` rows each, so a reader that ever counts two
different numbers has seen a mix of versions.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jingxin.core.spark.config import SparkConfigError, parse_spark_url
from jingxin.core.spark.publish import prune, publish
from jingxin.core.spark.storage import VERSIONS, WRITTEN, Storage
from jingxin.core.warehouse import Warehouse, open_warehouse

VERSIONS_PUBLISHED = 12


def _source(k: int) -> Warehouse:
    """An in-memory DuckDB warehouse whose tables `left` and `right` hold `k` rows each."""
    wh = open_warehouse("duckdb://", create=False)
    for name in ("left", "right"):
        wh.con.create_table(name, pa.table({"version": [k] * k, "row": list(range(k))}))
    return wh


@pytest.fixture(scope="module")
def sources():
    whs = [_source(k) for k in range(1, VERSIONS_PUBLISHED + 1)]
    yield whs
    for wh in whs:
        wh.close()


def _read_version(storage: Storage) -> tuple[int, int]:
    """What a reader without Spark does: read `_current` once, then each table of it."""
    version = storage.current_version()
    lease = storage.take_lease(version)
    try:
        counts = [
            pq.read_table(storage.path(VERSIONS, version, t), filesystem=storage.fs).num_rows
            for t in ("left", "right")
        ]
    finally:
        storage.delete_file(lease)
    return counts[0], counts[1]


def test_reader_sees_old_or_new_version_never_a_mix(sources, tmp_path: Path) -> None:
    storage = Storage.at(str(tmp_path / "spark"))
    publish(sources[0], storage, ["left", "right"])
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(_read_version(storage))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for wh in sources[1:]:
            publish(wh, storage, ["left", "right"], keep=2)
    finally:
        done.set()
        thread.join()
    assert not errors, errors
    assert len(seen) > 5
    assert all(a == b for a, b in seen), [s for s in seen if s[0] != s[1]]
    prune(storage, 2)  # the last publish may have run while the reader held an older version
    assert len(storage.versions()) == 2  # the rest pruned once nobody read them
    assert _read_version(storage) == (VERSIONS_PUBLISHED, VERSIONS_PUBLISHED)


def test_failed_publish_leaves_the_current_version(sources, tmp_path: Path) -> None:
    storage = Storage.at(str(tmp_path / "spark"))
    first = publish(sources[2], storage, ["left", "right"])
    with pytest.raises(Exception):  # noqa: B017 (the table does not exist; which error is DuckDB's)
        publish(sources[3], storage, ["left", "missing"])
    assert storage.current_version() == first.version
    assert storage.versions() == [first.version]  # no half-written version left behind
    assert _read_version(storage) == (3, 3)


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_reader_under_concurrent_publish(sources, tmp_path: Path) -> None:
    """A Spark warehouse bound to a version keeps reading it while newer ones are published
    and pruned around it; each refresh binds all tables to one version; runs written on Spark
    are kept by every publish."""
    url = f"spark://{tmp_path / 'spark'}"
    storage = parse_spark_url(url).storage
    publish(sources[0], storage, ["left", "right"])
    wh = open_warehouse(url, create=False)
    # Append through the warehouse as an evaluation run does: into a table created on Spark.
    wh.ensure_schema({"spark_notes": ibis.schema({"run_id": "string", "note": "string"})})
    wh.insert_arrow("spark_notes", pa.table({"run_id": ["r1"], "note": ["written on Spark"]}))
    held = wh.spark.version
    mixes: list[tuple[int, int]] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def publisher() -> None:
        try:
            for src in sources[1:6]:
                publish(src, storage, ["left", "right"], keep=1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        # The held version stays readable although keep=1 would prune it.
        while not done.is_set():
            counts = (wh.execute(wh.table("left").count()), wh.execute(wh.table("right").count()))
            assert counts == (1, 1)
        thread.join()
        assert not errors, errors
        assert held in storage.versions()
        # Refreshing binds to the newest version, all tables at once, and lets the old one go.
        for _ in range(3):
            wh.spark.refresh()
            left, right = wh.execute(wh.table("left").count()), wh.execute(wh.table("right").count())
            if left != right:
                mixes.append((left, right))
        assert not mixes
        assert (left, right) == (6, 6)
        assert wh.execute(wh.table("spark_notes").count()) == 1
        assert storage.exists(storage.path(WRITTEN, "spark_notes"))
    finally:
        wh.close()
    publish(sources[6], storage, ["left", "right"], keep=1)
    assert held not in storage.versions()  # pruned once its reader closed


@pytest.mark.parametrize(
    ("url", "master", "uri"),
    [
        ("spark:///data/jx", "local[2]", "file:///data/jx"),
        ("spark://10.1.2.3:7077/data/jx", "spark://10.1.2.3:7077", "file:///data/jx"),
        ("spark:///?master=yarn&storage=hdfs://nn:8020/jx", "yarn", "hdfs://nn:8020/jx"),
        (
            "spark:///?master=k8s://https://api:6443&storage=file:///mnt/jx",
            "k8s://https://api:6443",
            "file:///mnt/jx",
        ),
    ],
)
def test_spark_url_names_master_and_storage(url: str, master: str, uri: str, monkeypatch) -> None:
    if uri.startswith("hdfs"):
        # pyarrow needs libhdfs to connect; the URL is still passed to Spark unchanged.
        import jingxin.core.spark.storage as st

        fake = SimpleNamespace(FileSystem=SimpleNamespace(from_uri=lambda u: (None, "/jx")))
        monkeypatch.setattr(st, "pafs", fake)
    target = parse_spark_url(url)
    assert target.master == master
    assert target.storage.uri == uri


@pytest.mark.parametrize(
    "url",
    [
        "spark://10.1.2.3/data",
        "spark://10.1.2.3:7077",
        "spark:///?storage=ftp://x/y",
        "spark://h:1/a?master=yarn",
    ],
)
def test_bad_spark_urls_say_what_is_wrong(url: str) -> None:
    with pytest.raises(SparkConfigError):
        parse_spark_url(url)
