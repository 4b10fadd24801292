"""What one Spark warehouse connection reads and writes: one published version plus the rows
written on Spark, registered as the session's table views (see storage.py for the layout)."""

from __future__ import annotations

import uuid
from typing import Any

import ibis
import pyarrow as pa

from jingxin.core.spark.catalog import has_catalog, register
from jingxin.core.spark.storage import VERSIONS, WRITTEN, Storage


class SparkLayer:
    def __init__(self, storage: Storage, session: Any):
        self.storage = storage
        self.session = session
        self.version: str | None = None
        self._lease: str | None = None
        self.views: list[str] = []
        self._registered: tuple | None = None

    def refresh(self) -> None:
        """Bind every table to the current version (read once) and the written rows."""
        version = self._bind(self.storage.current_version())
        storage, read = self.storage, self.session.read
        published = set(storage.version_tables(version))
        written = set(storage.written_tables())
        for name in sorted(published | written):
            pub = None
            if version is not None and name in published:
                pub = read.parquet(storage.spark_path(VERSIONS, version, name))
            own = read.parquet(storage.spark_path(WRITTEN, name)) if name in written else None
            if pub is not None and own is not None:
                if "run_id" in pub.columns and "run_id" in own.columns:
                    # A run collected into the serving store and published again is the run
                    # written here: read it once.
                    pub = pub.join(own.select("run_id").distinct(), "run_id", "left_anti").select(
                        *pub.columns
                    )
                frame = pub.unionByName(own, allowMissingColumns=True)
            else:
                frame = pub if pub is not None else own
            frame.createOrReplaceTempView(name)
        self.views = sorted(published | written)
        shape = (version, tuple(sorted(written)))
        if has_catalog(self.session) and shape != self._registered:
            # New files under a registered table need no registration (other sessions list
            # them when they read); a new version or a new written table does.
            register(self.session, storage, version)
            self._registered = shape

    def _bind(self, version: str | None) -> str | None:
        """Hold a lease on `version` before reading it, so a publish cannot prune it; a version
        pruned between reading `_current` and taking the lease is skipped for the newer one."""
        for _ in range(5):
            if version == self.version:
                return version
            lease = self.storage.take_lease(version) if version is not None else None
            if version is None or version in self.storage.versions():
                self.release()
                self.version, self._lease = version, lease
                return version
            self.storage.delete_file(lease)  # type: ignore[arg-type]
            version = self.storage.current_version()
        raise RuntimeError(f"Spark 仓库 {self.storage.uri} 的当前版本不断变化，无法读取")

    def release(self) -> None:
        if self._lease is not None:
            self.storage.delete_file(self._lease)
            self._lease = None

    # ---- writing (always to `written/`, never to a published version) ---------------------
    def create_empty(self, name: str, schema: ibis.Schema) -> None:
        self.storage.write_parquet(
            self.storage.path(WRITTEN, name, "part-00000-empty.parquet"), schema.to_pyarrow().empty_table()
        )

    def stage_append(self, name: str, data: pa.Table) -> tuple[str, str]:
        """Write `data` hidden; returns (temporary, final) names for the commit to rename."""
        final = self.storage.path(WRITTEN, name, f"part-{uuid.uuid4().hex}.parquet")
        tmp, _ = self.storage.stage_parquet(final, data)
        return tmp, final

    def commit(self, pending: list[tuple[str, str]]) -> None:
        for tmp, final in pending:
            self.storage.fs.move(tmp, final)

    def discard(self, pending: list[tuple[str, str]]) -> None:
        for tmp, _ in pending:
            self.storage.delete_file(tmp)
