"""Ingest a folder of departmental files (批量归集), such as a generated province.

Files are taken in dependency order: the market registry (企业名录) first, because the other
sources refer to its enterprises, then land, then the yearly and monthly facts. The folder's
`manifest.json` (written by `jingxin.synth`) names each file's source; without one, the source
is read from the file name (`tax_2021.csv`, `power-daily_2021-03.xlsx`, `registry.csv`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jingxin.core.contracts import load_contracts
from jingxin.core.warehouse import Warehouse
from jingxin.ingest.errors import IngestError
from jingxin.ingest.readers import CSV_SUFFIXES, EXCEL_SUFFIXES
from jingxin.ingest.service import BatchResult, ingest_file

MANIFEST = "manifest.json"
# Registry and land first; the rest in contract order.
FIRST = ("registry", "land")


@dataclass(frozen=True)
class PlannedFile:
    source: str
    path: Path
    period: str | None = None


def source_order() -> list[str]:
    ids = list(load_contracts().sources)
    return [s for s in FIRST if s in ids] + [s for s in ids if s not in FIRST]


def _source_from_name(name: str) -> str | None:
    """The source id a file name starts with ("-" and "_" alike); the longest id wins, so
    power_daily.csv is power-daily, not power."""
    stem = name.lower().replace("-", "_")
    for source_id in sorted(load_contracts().sources, key=len, reverse=True):
        if re.match(rf"^{re.escape(source_id.replace('-', '_'))}(?:$|[_.\s])", stem):
            return source_id
    return None


def _manifest_files(manifest: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, relative path) of each file a manifest lists.

    Accepts `files` as a list of objects with `source` and `path`/`file`/`name`, or as a
    mapping from file name to such an object.
    """
    files = manifest.get("files", [])
    items = files.items() if isinstance(files, dict) else ((None, f) for f in files)
    for key, entry in items:
        if not isinstance(entry, dict):
            continue
        rel = entry.get("path") or entry.get("file") or entry.get("name") or key
        src = entry.get("source")
        if rel and src:
            yield str(src), str(rel)


def plan_directory(folder: Path) -> list[PlannedFile]:
    """The files of `folder` to ingest, in dependency order, with their sources."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(f"目录 {folder} 不存在。")
    order = {s: i for i, s in enumerate(source_order())}
    planned: list[PlannedFile] = []
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for src, rel in _manifest_files(manifest):
            if src in order:
                # Periods come from the data (or "current"), never from the manifest, so that a
                # later file of the same source and period supersedes this one.
                planned.append(PlannedFile(src, folder / rel))
    if not planned:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in CSV_SUFFIXES | EXCEL_SUFFIXES:
                named = _source_from_name(path.name)
                if named is not None:
                    planned.append(PlannedFile(named, path))
    if not planned:
        raise IngestError(
            f"目录 {folder} 中没有可识别的数据文件：需要 {MANIFEST}，"
            "或以数据源名开头的文件名（如 tax_2021.csv）。"
        )
    return sorted(planned, key=lambda p: (order[p.source], str(p.path)))


@dataclass
class DirectoryOutcome:
    planned: PlannedFile
    result: BatchResult | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.planned.source, "file": str(self.planned.path)}
        if self.result is not None:
            out["result"] = self.result.to_dict()
        if self.error is not None:
            out["error"] = self.error
        return out


def ingest_directory(
    warehouse: Warehouse,
    folder: Path,
    loaded_by: str = "cli",
    on_file: Callable[[PlannedFile, DirectoryOutcome], None] | None = None,
) -> list[DirectoryOutcome]:
    """Ingest every file of `folder` in dependency order. A refused file does not stop the
    others: its error is recorded in the outcome and the run goes on."""
    outcomes = []
    for planned in plan_directory(folder):
        outcome = DirectoryOutcome(planned)
        try:
            outcome.result = ingest_file(warehouse, planned.source, planned.path, loaded_by, planned.period)
        except IngestError as exc:
            outcome.error = str(exc)
        outcomes.append(outcome)
        if on_file is not None:
            on_file(planned, outcome)
    return outcomes
