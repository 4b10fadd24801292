"""A small evaluated province for the policy tests: 400 enterprises in 西湖区 and 上城区 over
2020–2021, the 2021 规上 evaluation stored, and a few 经信 support rows (技改, 专精特新)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

XIHU, SHANGCHENG = "330106", "330102"
DAY = dt.date(2022, 6, 1)  # decisions read data year 2021


def build_province(folder: Path) -> str:
    from jingxin.core.warehouse import open_warehouse
    from jingxin.evaluation.runs import run_evaluation
    from jingxin.evaluation.sample import load_facts, province

    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        tables = province(400, years=(2020, 2021), seed=11, counties=[XIHU, SHANGCHENG])
        load_facts(wh, tables)
        run_evaluation(wh, "zhejiang_industry_above", 2021)
        res = wh.table("eval_results")
        picked = res.filter(res["class"].isin(["A", "B", "C"]) & (res.industry_code.substr(0, 2) >= "13"))
        codes = sorted(wh.execute(picked.credit_code).tolist())[:6]
        support = pa.table(
            {
                "credit_code": codes,
                "year": [2021] * 6,
                "tech_investment": [800.0, 120.0, None, None, 600.0, None],
                "first_set_premium": [None, None, 40.0, None, None, None],
                "specialized_level": ["无", "无", "无", "省级专精特新", "无", "国家级专精特新小巨人"],
            }
        )
        load_facts(wh, {"support": support}, first_batch=100)
    finally:
        wh.close()
    return url


@pytest.fixture(scope="session")
def policies_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The province built once per test process; modules copy it (`province_copy`)."""
    folder = tmp_path_factory.mktemp("policies_template")
    build_province(folder)
    return folder / "warehouse.duckdb"


def province_copy(template: Path, folder: Path) -> str:
    """A private copy of the built province in `folder`; returns its warehouse URL."""
    target = folder / "warehouse.duckdb"
    shutil.copyfile(template, target)
    return f"duckdb:///{target}"
