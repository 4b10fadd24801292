"""Shared helpers of the data exchange tests: generated enterprises and template-filled files."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from jingxin.core import credit_code
from jingxin.core.contracts import source
from jingxin.core.warehouse import Warehouse
from jingxin.exchange import service
from jingxin.ingest.service import ingest_file

RNG = random.Random(10)
XIHU = [credit_code.generate("330106", RNG) for _ in range(3)]  # 杭州市西湖区
SHANGCHENG = [credit_code.generate("330102", RNG) for _ in range(2)]  # 杭州市上城区
LUCHENG = [credit_code.generate("330302", RNG) for _ in range(2)]  # 温州市鹿城区
ALL = [*XIHU, *SHANGCHENG, *LUCHENG]


def county_of(code: str) -> str:
    return "330106" if code in XIHU else "330102" if code in SHANGCHENG else "330302"


def filled(tmp: Path, source_id: str, rows: list[dict[str, Any]], name: str | None = None) -> Path:
    """A department's file made from the blank template, as a liaison fills it in."""
    src = source(source_id)
    path = tmp / (name or f"{source_id}-{len(list(tmp.iterdir()))}.xlsx")
    path.write_bytes(service.fill_template(src, service.blank_template(src), rows))
    return path


def registry_rows(names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    names = names or {}
    return [
        {
            "credit_code": c,
            "name": names.get(c, f"企业{i}"),
            "county_code": county_of(c),
            "industry_code": "13",
            "founded_on": "2015-06-01",
            "status": "存续",
        }
        for i, c in enumerate(ALL)
    ]


def tax_rows(year: int, bad: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"credit_code": c, "year": year, "tax_paid": 100.0 + i} for i, c in enumerate(ALL)
    ]
    for i in range(bad):
        rows[i] = {**rows[i], "tax_paid": "不详"}
    return rows


def load_world(wh: Warehouse, tmp: Path, names: dict[str, str] | None = None) -> None:
    """Registry of seven enterprises in three counties and their 2021 tax, ingested."""
    ingest_file(wh, "registry", filled(tmp, "registry", registry_rows(names)))
    ingest_file(wh, "tax", filled(tmp, "tax", tax_rows(2021)))
