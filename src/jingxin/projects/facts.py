"""Project facts from the warehouse (项目事实): the register, the monthly progress and each
project's stage dates, with the batch every fact came from (lineage).

The register (`projects`, 工业投资项目库) is reported each year; a project's latest row wins.
Stage dates come from the monthly progress (`project_progress`): the date a project is reported
to have reached 开工, 投产 or 达产 (the earliest such report); 签约 is the register's 签约日期.
"""

from __future__ import annotations

import pandas as pd
from ibis import _

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse

STAGES = ("签约", "开工", "投产", "达产")
STAGE_COLUMNS = {"签约": "signed_on", "开工": "started_on", "投产": "production_on", "达产": "capacity_on"}


class ProjectsError(ValueError):
    """No project data, or a month outside it: the message says what to load."""


def has_projects(wh: Warehouse) -> bool:
    return wh.has_table("projects") and wh.has_table("project_progress")


def _check(wh: Warehouse) -> None:
    if not has_projects(wh):
        raise ProjectsError("仓库中还没有项目数据：请先导入“工业投资项目库”和“工业投资项目月度进展”")


def register(wh: Warehouse, scope: Scope | None = None) -> pd.DataFrame:
    """Every project as last registered, with its stage dates (NaT = not reached yet)."""
    _check(wh)
    t = wh.current("projects")
    if scope is not None:
        t = scope.restrict(t)
    latest = t.group_by("project_id").aggregate(year=_.year.max())
    rows = wh.execute(t.semi_join(latest, ["project_id", "year"]).rename(register_batch="batch_id"))
    rows = rows.drop_duplicates("project_id", keep="last").drop(columns=["source_row"], errors="ignore")
    dates = stage_dates(wh, scope)
    out = rows.merge(dates, on="project_id", how="left")
    out["signed_on"] = pd.to_datetime(out["planned_signed_on"])
    for col in ("planned_start_on", "planned_production_on", "planned_capacity_on"):
        out[col] = pd.to_datetime(out[col])
    out["stage"] = "签约"
    for stage in STAGES[1:]:
        out.loc[out[STAGE_COLUMNS[stage]].notna(), "stage"] = stage
    return out.sort_values("project_id").reset_index(drop=True)


def stage_dates(wh: Warehouse, scope: Scope | None = None) -> pd.DataFrame:
    """Per project: the first reported date of 开工, 投产, 达产 and the last month reported."""
    t = wh.current("project_progress")
    if scope is not None:
        t = scope.restrict(t, code_column=None)
    per_stage = t.group_by(["project_id", "stage"]).aggregate(
        first_on=_.stage_on.min(), last_month=_.month.max()
    )
    frame = wh.execute(per_stage)
    if frame.empty:
        return pd.DataFrame(columns=["project_id", *[STAGE_COLUMNS[s] for s in STAGES[1:]], "last_month"])
    wide = frame.pivot_table(index="project_id", columns="stage", values="first_on", aggfunc="min")
    out = pd.DataFrame(index=wide.index)
    for stage in STAGES[1:]:
        out[STAGE_COLUMNS[stage]] = pd.to_datetime(wide[stage]) if stage in wide else pd.NaT
    out["last_month"] = frame.groupby("project_id")["last_month"].max()
    return out.reset_index()


def progress(wh: Warehouse, scope: Scope | None = None, year: int | None = None) -> pd.DataFrame:
    """Monthly progress rows (one per project and month), optionally of one year and the one before."""
    _check(wh)
    t = wh.current("project_progress")
    if scope is not None:
        t = scope.restrict(t, code_column=None)
    if year is not None:
        t = t.filter((_.month.year() == year) | (_.month.year() == year - 1))
    rows = wh.execute(t.drop("source_row"))
    rows["month"] = pd.to_datetime(rows["month"]).dt.strftime("%Y-%m")
    return rows


def months(wh: Warehouse) -> list[str]:
    """Months with progress reports, oldest first."""
    _check(wh)
    t = wh.current("project_progress")
    values = wh.execute(t.select(m=_.month).distinct())["m"]
    return sorted(pd.to_datetime(values).dt.strftime("%Y-%m"))
