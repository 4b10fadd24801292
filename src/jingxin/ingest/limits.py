"""Limits on what one file may cost to read (读取限额), checked before the cost is paid.

A departmental file is untrusted input: a 2 KB workbook can declare a sheet of 17 billion
cells, an 800 KB zip can expand to gigabytes, a 10 MB CSV can be one line. Every limit here is
checked on what the file *declares* and on what it *really* holds, before any cell becomes a
Python or Arrow value, and a file over a limit is refused whole (`IngestError`) with a Chinese
message that names the limit and how to get under it.

The defaults come from `jingxin.core.settings.Settings` (environment `JINGXIN_INGEST_*`); see
docs/security.md for what each one bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from jingxin.ingest.errors import IngestError

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestLimits:
    """The limits of one ingest (see the matching `ingest_*` settings)."""

    max_rows: int = 1_048_576
    max_columns: int = 256
    max_cells: int = 5_000_000
    max_line_bytes: int = 1 * MIB
    max_sheets: int = 64
    max_expanded_bytes: int = 512 * MIB
    max_zip_ratio: float = 100.0
    max_text_bytes: int = 128 * MIB
    max_rejected_share: float = 0.5
    rejected_floor: int = 1000

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> IngestLimits:
        """The limits configured in `settings` (default: the environment's)."""
        if settings is None:
            from jingxin.core.settings import get_settings

            settings = get_settings()
        values = {f.name: getattr(settings, f"ingest_{f.name}") for f in fields(cls)}
        return cls(**values)


def mib(n: float) -> str:
    """A byte count for a message: "512 MB", "1.5 MB", "800 KB"."""
    if n >= MIB:
        value = n / MIB
        return f"{value:.0f} MB" if value >= 10 or value.is_integer() else f"{value:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def check_table_shape(
    label: str, where: str, rows: int, columns: int, limits: IngestLimits, kind: str
) -> None:
    """Refuse a table whose rows, columns or cells (`kind`: 声明/实际) exceed the limits."""
    if rows > limits.max_rows:
        raise IngestError(
            f"文件 {label} 的{where}{kind}有 {rows:,} 行，超过每个文件 {limits.max_rows:,} 行的上限"
            "（ingest_max_rows）。请拆分为多个文件分批提交。"
        )
    if columns > limits.max_columns:
        raise IngestError(
            f"文件 {label} 的{where}{kind}有 {columns:,} 列，超过 {limits.max_columns:,} 列的上限"
            "（ingest_max_columns）。请删除表格右侧多余的列（包括只设了格式的空白列）后重新提交。"
        )
    if rows * columns > limits.max_cells:
        raise IngestError(
            f"文件 {label} 的{where}{kind}为 {rows:,} 行 × {columns:,} 列，超过 {limits.max_cells:,} 个"
            "单元格的上限（ingest_max_cells）。请删除多余的行列或拆分文件后重新提交。"
        )
