"""The project and cultivation files as 经信 sends them (项目与培育文件), cut from the generated
pipeline (`jingxin.synth.projects`): the register at year end, the monthly progress, the
cultivation profile and the 首台（套） recognitions, each in its department's habits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from jingxin.synth.frame import Frame, make_frame
from jingxin.synth.population import Population
from jingxin.synth.projects import STAGES, Projects


def _dates(values: np.ndarray) -> np.ndarray:
    return np.array([str(v) if not np.isnat(v) else "" for v in values], dtype=object)


def projects_frame(year: int, pop: Population, p: Projects) -> Frame:
    """The register as at the end of `year`: projects signed by then."""
    idx = np.flatnonzero(p.planned[:, 0] <= np.datetime64(f"{year}-12-31"))
    return make_frame(
        "projects",
        str(year),
        {
            "project_id": p.project_id[idx],
            "project_name": np.array(
                [f"{str(pop.name[p.enterprise[i]])[:20]}{_kind_word(p, int(i))}项目" for i in idx],
                dtype=object,
            ),
            "credit_code": pop.credit_code[p.enterprise[idx]],
            "county_code": pop.county_code[p.enterprise[idx]],
            "category": p.category[idx],
            "tech_type": _blank_as_null(p.tech_type[idx]),
            "chain": _blank_as_null(p.chain[idx]),
            "total_investment": p.total[idx],
            "responsible": _blank_as_null(p.responsible[idx]),
            "planned_signed_on": _dates(p.planned[idx, 0]),
            "planned_start_on": _dates(p.planned[idx, 1]),
            "planned_production_on": _dates(p.planned[idx, 2]),
            "planned_capacity_on": _dates(p.planned[idx, 3]),
            "year": np.full(idx.shape[0], str(year)),
        },
    )


def _blank_as_null(values: np.ndarray) -> np.ndarray:
    """Text with "" for "not applicable", as a column whose empty cells are nulls."""
    out = values.astype(object)
    out[values == ""] = None
    return out


def _kind_word(p: Projects, i: int) -> str:
    return {"技改项目": str(p.tech_type[i]), "招引项目": "新建", "重大项目": "扩能"}[str(p.category[i])]


def _stage_at(p: Projects, i: int, month_end: np.datetime64) -> tuple[str, str]:
    reached = [k for k in range(4) if not np.isnat(p.actual[i, k]) and p.actual[i, k] <= month_end]
    k = reached[-1]
    return STAGES[k], str(p.actual[i, k])


def progress_frame(year: int, pop: Population, p: Projects) -> Frame:
    """One row per project and month of `year`, from signing until the month 达产 is reached."""
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "project_id",
            "month",
            "county_code",
            "planned_investment",
            "actual_investment",
            "stage",
            "stage_on",
            "problem",
            "problem_department",
        )
    }
    for t, month in enumerate(p.months):
        if not month.startswith(str(year)):
            continue
        y, m = int(month[:4]), int(month[5:])
        end = np.datetime64(date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1))
        start = np.datetime64(f"{month}-01")
        for i in range(p.project_id.shape[0]):
            if p.actual[i, 0] > end:
                continue
            cap = p.actual[i, 3]
            if not np.isnat(cap) and cap < start:
                continue  # reported until the month 达产 is reached
            stage, on = _stage_at(p, i, end)
            problem = p.problems.get((i, t))
            rows["project_id"].append(p.project_id[i])
            rows["month"].append(month)
            rows["county_code"].append(pop.county_code[p.enterprise[i]])
            rows["planned_investment"].append(p.monthly_plan[i, t])
            rows["actual_investment"].append(p.monthly_actual[i, t])
            rows["stage"].append(stage)
            rows["stage_on"].append(on)
            rows["problem"].append(problem[0] if problem else None)
            rows["problem_department"].append(problem[1] if problem else None)
    values = {k: np.array(v, dtype=object) for k, v in rows.items()}
    for k in ("planned_investment", "actual_investment"):
        values[k] = np.array(rows[k], dtype=float)
    return make_frame("project-progress", str(year), values)


def profile_frame(year: int, pop: Population, p: Projects) -> Frame:
    cols = p.profile[year]
    idx = np.flatnonzero(cols["who"])
    rank = cols["market_rank"][idx].astype(float)
    return make_frame(
        "cultivation-profile",
        str(year),
        {
            "credit_code": pop.credit_code[idx],
            "year": np.full(idx.shape[0], str(year)),
            "total_assets": cols["total_assets"][idx],
            "total_liabilities": cols["total_liabilities"][idx],
            "net_profit": cols["net_profit"][idx],
            "main_products": cols["main_products"][idx].astype(float),
            "main_product_share": cols["main_product_share"][idx],
            "market_scope": cols["market_scope"][idx],
            "market_rank": np.where(rank > 0, rank, np.nan),
            "smart_level": cols["smart_level"][idx].astype(float),
            "output_value": cols["output_value"][idx],
        },
    )


def first_set_frame(year: int, pop: Population, p: Projects) -> Frame:
    """The year's recognition list as 经信 publishes it: dates written 2021年6月28日."""
    items = [i for i in p.first_set if i["year"] == year]

    def col(key: str) -> np.ndarray:
        return np.array([i[key] for i in items], dtype=object)

    days = [date.fromisoformat(i["recognised_on"]) for i in items]
    return make_frame(
        "first-set",
        str(year),
        {
            "item_code": col("item_code"),
            "product": col("product"),
            "credit_code": np.array([pop.credit_code[i["enterprise"]] for i in items], dtype=object),
            "county_code": np.array([pop.county_code[i["enterprise"]] for i in items], dtype=object),
            "category": col("category"),
            "level": col("level"),
            "recognised_on": np.array([f"{d.year}年{d.month}月{d.day}日" for d in days], dtype=object),
            "batch": col("batch"),
            "year": np.full(len(items), str(year)),
        },
    )


def build_frame(source: str, year: int, pop: Population, p: Projects) -> Frame:
    if source == "projects":
        return projects_frame(year, pop, p)
    if source == "project-progress":
        return progress_frame(year, pop, p)
    if source == "cultivation-profile":
        return profile_frame(year, pop, p)
    if source == "first-set":
        return first_set_frame(year, pop, p)
    raise ValueError(f"not a projects source: {source}")
