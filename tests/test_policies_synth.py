"""The generated 经信 support file (技改投资、首台（套）、专精特新): present, ingestible, with its
truth in the manifest, and every file that existed before it byte-identical for a fixed seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jingxin.synth.generator import generate_province

# sha256 (first 16 hex) of each file of generate_province(300, "2020-2021", seed=7,
# defects=0.02, daily_days=20) before the support source existed.
BEFORE = {
    "discharge_2020.csv": "7b13b6328d6efd7a",
    "discharge_2021.csv": "2e1a12227d40e7bf",
    "energy_2020.csv": "71decb0e0e1772e7",
    "energy_2021.csv": "b67c3e4e99e565e1",
    "invoices_2020.csv": "f60c80019fe32e75",
    "invoices_2021.csv": "1196da778948ed1b",
    "land.csv": "c59bddf316503f59",
    "monthly_2020.xlsx": "a3135399af7dc128",
    "monthly_2021.xlsx": "3229207f6d184b98",
    "park_members_2020.csv": "edb8a9b8c8c39c2c",
    "park_members_2021.csv": "f995f67ba6fb06af",
    "parks_2020.xlsx": "80853e30e0359cc5",
    "parks_2021.xlsx": "fb269098e40d779b",
    "power_2020.csv": "548c6d5e7eca3592",
    "power_2021.csv": "9f0fa7d3e3404fee",
    "power_daily.csv": "865e2454916033cc",
    "registry.xlsx": "b517d4530d5e636d",
    "statistics_2020.xlsx": "f630a6c81471c392",
    "statistics_2021.xlsx": "b609ace10f5457ea",
    "tax_2020.csv": "8f554b9da1669029",
    "tax_2021.csv": "e13e06926db88abe",
}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("support_synth")
    manifest = generate_province(out, 300, "2020-2021", seed=7, defects=0.02, daily_days=20)
    return out, manifest


def test_existing_files_are_byte_identical(province) -> None:
    out, _ = province
    now = {name: hashlib.sha256((out / name).read_bytes()).hexdigest()[:16] for name in BEFORE}
    assert now == BEFORE


def test_support_files_and_truth(province) -> None:
    out, manifest = province
    for year in (2020, 2021):
        entry = manifest.file(f"support_{year}.xlsx")
        truth = manifest.totals["support"][str(year)]
        assert entry.department == "经信"
        rows_with_any = entry.rows - sum(1 for d in entry.defects if d.kind == "duplicate_row")
        assert rows_with_any >= max(truth["tech_investing"], truth["specialized_provincial"])
        assert truth["tech_investing"] > 0 and truth["specialized_provincial"] > 0


def test_support_file_ingests(province, tmp_path: Path) -> None:
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.service import ingest_file

    out, manifest = province
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        result = ingest_file(wh, "support", out / "support_2021.xlsx")
        entry = manifest.file("support_2021.xlsx")
        assert result.accepted + result.rejected >= entry.rows - 1
        assert result.accepted >= entry.rows - len(entry.defects) - 1
    finally:
        wh.close()
