"""The folder a Spark warehouse lives in: published versions, rows written on Spark, readers.

Layout (under the warehouse root, a local folder or an `hdfs://`, `s3a://`, `file://` URI):

    _current                      the name of the published version readers use (one line)
    versions/<version>/<table>/   Parquet of one published version; never changed once written
    versions/<version>/_manifest.json
    written/<table>/              rows appended on Spark (evaluation runs); a publish never
                                  touches this folder
    readers/<version>/<lease>     one file per open reader of that version

Why this shape: a publish writes a complete new version beside the old one, then switches
`_current` by one atomic rename (a single-object PUT on an object store). A reader reads
`_current` once and binds every table to that version's folders, so it sees the old or the new
version, never a mix. Old versions are pruned only when no live lease names them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

CURRENT = "_current"
VERSIONS = "versions"
WRITTEN = "written"
READERS = "readers"
LEASE_TTL_SECONDS = 24 * 3600
"""A lease from another host counts as live for a day after its last refresh (project default:
a reader on another machine cannot be asked whether it still runs; a day outlasts any query)."""


class StorageError(RuntimeError):
    pass


@dataclass(frozen=True)
class Storage:
    """A root folder on a filesystem pyarrow can write and Spark can read.

    `uri` is what Spark is given (`file:///…`, `hdfs://…`, `s3a://…`); `fs` and `root` are
    what this process writes through. Only local folders are exercised by the tests here.
    """

    uri: str
    fs: Any
    root: str

    @classmethod
    def at(cls, location: str) -> Storage:
        parsed = urlparse(location)
        if parsed.scheme in ("", "file"):
            path = os.path.abspath(parsed.path if parsed.scheme else location)
            return cls(f"file://{path}", pafs.LocalFileSystem(), path)
        if parsed.scheme in ("hdfs", "s3a", "s3", "gs", "abfs", "abfss"):
            # pyarrow names S3 `s3`; Spark's Hadoop connector names it `s3a`.
            arrow_uri = "s3" + location[3:] if parsed.scheme == "s3a" else location
            try:
                fs, root = pafs.FileSystem.from_uri(arrow_uri)
            except Exception as exc:  # pyarrow raises several types (missing libhdfs, credentials)
                raise StorageError(f"无法打开存储 {location}：{exc}") from exc
            return cls(location.rstrip("/"), fs, root.rstrip("/"))
        raise StorageError(f"不支持的存储地址 {location!r}：请使用本地目录、file://、hdfs:// 或 s3a:// 地址")

    # ---- paths ---------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def spark_path(self, *parts: str) -> str:
        return "/".join([self.uri, *parts])

    # ---- small file operations -----------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def listdir(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in infos)

    def read_text(self, path: str) -> str | None:
        try:
            with self.fs.open_input_stream(path) as f:
                return f.read().decode()
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        """Write `text` whole: to a hidden temporary name, then renamed over `path`."""
        folder, name = path.rsplit("/", 1)
        self.fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(tmp) as f:
            f.write(text.encode())
        self.fs.move(tmp, path)

    def write_parquet(
        self, path: str, table: pa.Table | None, batches: Any = None, schema: Any = None
    ) -> int:
        """Write a Parquet file under a hidden name (Spark skips names starting with '.'),
        then rename it into place; returns the rows written."""
        tmp, rows = self.stage_parquet(path, table, batches, schema)
        self.fs.move(tmp, path)
        return rows

    def stage_parquet(
        self, path: str, table: pa.Table | None, batches: Any = None, schema: Any = None
    ) -> tuple[str, int]:
        """Write a Parquet file for `path` under a hidden temporary name; returns that name
        and the rows written (the caller renames it into place to make it visible)."""
        folder, name = path.rsplit("/", 1)
        self.fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        rows = 0
        try:
            if table is not None:
                with self.fs.open_output_stream(tmp) as f:
                    pq.write_table(table, f)
                rows = table.num_rows
            else:
                with self.fs.open_output_stream(tmp) as f, pq.ParquetWriter(f, schema) as writer:
                    for batch in batches:
                        writer.write_batch(batch)
                        rows += batch.num_rows
        except BaseException:
            self.delete_file(tmp)
            raise
        return tmp, rows

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_file(path)

    def delete_dir(self, path: str) -> None:
        if self.exists(path):
            self.fs.delete_dir(path)

    # ---- versions ------------------------------------------------------------------------
    def current_version(self) -> str | None:
        text = self.read_text(self.path(CURRENT))
        return text.strip() or None if text else None

    def versions(self) -> list[str]:
        """Complete published versions, oldest first (names sort by time)."""
        return [
            v
            for v in self.listdir(self.path(VERSIONS))
            if self.exists(self.path(VERSIONS, v, "_manifest.json"))
        ]

    def version_tables(self, version: str | None) -> list[str]:
        if version is None:
            return []
        return [t for t in self.listdir(self.path(VERSIONS, version)) if not t.startswith(("_", "."))]

    def written_tables(self) -> list[str]:
        return [t for t in self.listdir(self.path(WRITTEN)) if not t.startswith(("_", "."))]

    def manifest(self, version: str) -> dict[str, Any]:
        text = self.read_text(self.path(VERSIONS, version, "_manifest.json"))
        return json.loads(text) if text else {}

    # ---- reader leases -------------------------------------------------------------------
    def take_lease(self, version: str) -> str:
        """Mark `version` as read by this process; returns the lease's path."""
        lease = self.path(READERS, version, f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        info = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": dt.datetime.now(dt.UTC).isoformat(),
        }
        self.write_text(lease, json.dumps(info))
        return lease

    def live_readers(self, version: str) -> list[str]:
        live = []
        for name in self.listdir(self.path(READERS, version)):
            if name.startswith("."):
                continue
            path = self.path(READERS, version, name)
            if _lease_is_live(self, path):
                live.append(name)
            else:
                self.delete_file(path)  # the reader's process is gone
        return live


def _lease_is_live(storage: Storage, path: str) -> bool:
    try:
        info = json.loads(storage.read_text(path) or "{}")
    except json.JSONDecodeError:
        return True  # being written right now
    if info.get("host") == socket.gethostname():
        try:
            os.kill(int(info["pid"]), 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    mtime = storage.fs.get_file_info(path).mtime
    return mtime is None or time.time() - mtime.timestamp() < LEASE_TTL_SECONDS


def new_version_name() -> str:
    """`v20261130T032500-1a2b3c`: sorts by publish time, unique across publishers."""
    return f"v{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
