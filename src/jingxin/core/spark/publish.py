"""Publish (发布) the serving warehouse to a Spark warehouse as a new version, switched atomically.

    publish(serving, "spark://spark-master:7077/data/jingxin")

1. every table is streamed into `versions/<new>/` (hidden temporary files, renamed when whole);
2. `_manifest.json` marks the version complete;
3. `_current` is replaced by one rename: readers that open or refresh from now on read the new
   version; readers bound to an older one keep it;
4. versions beyond the newest `keep` are deleted, except any a live reader still holds.

`written/` (runs evaluated on Spark) is never touched: a reader sees them with any version.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

from jingxin.core.spark.config import parse_spark_url
from jingxin.core.spark.storage import CURRENT, READERS, VERSIONS, Storage, new_version_name

_SKIP_PREFIXES = ("ibis_", "jingxin_stage_", "__")  # temporary tables of a connection, not data


@dataclass
class PublishResult:
    version: str
    previous: str | None
    tables: dict[str, int]
    seconds: float
    pruned: list[str] = field(default_factory=list)
    kept_for_readers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def storage_of(target: str) -> Storage:
    """The storage of a `spark://…` URL, or of a folder/URI given directly."""
    return parse_spark_url(target).storage if target.startswith("spark:") else Storage.at(target)


def publish(
    wh, target: str | Storage, tables: Sequence[str] | None = None, keep: int | None = None
) -> PublishResult:
    """Write `wh`'s tables (default: all) to `target` as a new version and switch to it."""
    from jingxin.core.settings import get_settings

    started = time.perf_counter()
    storage = target if isinstance(target, Storage) else storage_of(target)
    keep = keep or get_settings().spark_keep_versions
    names = list(tables or [t for t in wh.con.list_tables() if not t.startswith(_SKIP_PREFIXES)])
    version = new_version_name()
    counts: dict[str, int] = {}
    try:
        for name in names:
            reader = wh.con.to_pyarrow_batches(wh.table(name), chunk_size=256_000)
            counts[name] = storage.write_parquet(
                storage.path(VERSIONS, version, name, "part-00000.parquet"),
                None,
                batches=reader,
                schema=reader.schema,
            )
        manifest = {
            "version": version,
            "published_at": dt.datetime.now(dt.UTC).isoformat(),
            "source": _without_password(wh.url),
            "backend": wh.kind,
            "tables": counts,
        }
        storage.write_text(storage.path(VERSIONS, version, "_manifest.json"), json.dumps(manifest, indent=1))
    except BaseException:
        storage.delete_dir(storage.path(VERSIONS, version))  # never half a version
        raise
    previous = storage.current_version()
    storage.write_text(storage.path(CURRENT), version + "\n")
    pruned, held = prune(storage, keep)
    return PublishResult(version, previous, counts, round(time.perf_counter() - started, 3), pruned, held)


def prune(storage: Storage, keep: int) -> tuple[list[str], list[str]]:
    """Delete versions older than the newest `keep` that no live reader holds;
    returns (deleted, kept because a reader holds them)."""
    current = storage.current_version()
    versions = storage.versions()
    deleted, held = [], []
    for version in versions[: max(0, len(versions) - keep)]:
        if version == current:
            continue
        if storage.live_readers(version):
            held.append(version)
            continue
        storage.delete_dir(storage.path(VERSIONS, version))
        storage.delete_dir(storage.path(READERS, version))
        deleted.append(version)
    return deleted, held


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
