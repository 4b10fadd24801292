"""Effect of 技改 (技改成效): difference-in-differences on the enterprises' 亩均 output.

Outcome: log of 亩均工业总产值 (工业总产值 of the cultivation indicators ÷ the enterprise's land
area, 万元/亩), per enterprise and year. Treated: enterprises with a 技改 project that reached
投产; an enterprise-year is "after" from the first full year after the year of 投产. Comparison:
enterprises without any project in the register. Two-way fixed effects (enterprise and year),
estimated by ordinary least squares on the within-enterprise deviations with year dummies, errors
clustered by enterprise (statsmodels). Pooled and by type of 技改 (one indicator per type in one
regression). The effect in % is exp(b) − 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from ibis import _

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.projects import facts

TYPES = ("智能化改造", "绿色制造", "制造新模式", "产业基础再造", "新兴产业")


@dataclass
class Estimate:
    label: str
    effect: float  # log points
    low: float
    high: float
    treated: int  # enterprises with at least one year after
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "effect": round(self.effect, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "effect_pct": round(float(np.exp(self.effect) - 1) * 100, 2),
            "low_pct": round(float(np.exp(self.low) - 1) * 100, 2),
            "high_pct": round(float(np.exp(self.high) - 1) * 100, 2),
            "treated": self.treated,
            "p_value": round(self.p_value, 6),
        }


@dataclass
class DidResult:
    pooled: Estimate
    by_type: list[Estimate]
    observations: int
    enterprises: int
    controls: int
    years: list[int]
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": "log(亩均工业总产值)",
            "level": self.level,
            "pooled": self.pooled.to_dict(),
            "by_type": [e.to_dict() for e in self.by_type],
            "observations": self.observations,
            "enterprises": self.enterprises,
            "controls": self.controls,
            "years": self.years,
        }


def panel(wh: Warehouse, scope: Scope | None = None) -> pd.DataFrame:
    """Enterprise-years with the outcome, the treatment type and the year of 投产."""
    if not wh.has_table("cultivation_profile"):
        raise facts.ProjectsError("仓库中还没有“培育库企业经营与市场地位”数据（工业总产值）")
    prof = wh.current("cultivation_profile").select("credit_code", "year", "output_value")
    land = wh.current("land").group_by("credit_code").aggregate(area=_.area_mu.sum())
    rows = prof.join(land, "credit_code").filter((_.area > 0) & (_.output_value > 0))
    if scope is not None:
        rows = scope.restrict(rows, county_column=None, registry=wh.current("registry"))
    data = wh.execute(rows.select("credit_code", "year", "output_value", "area"))
    reg = facts.register(wh)
    tech = reg[(reg["category"] == "技改项目") & reg["production_on"].notna()]
    treated = dict(
        zip(
            tech["credit_code"],
            zip(tech["tech_type"], pd.to_datetime(tech["production_on"]).dt.year, strict=True),
            strict=True,
        )
    )
    other = set(reg["credit_code"]) - set(treated)
    data = data[~data["credit_code"].isin(other)].copy()
    data["year"] = data["year"].astype(int)
    data["y"] = np.log(data["output_value"] / data["area"])
    # The year of 投产 as a float column (NaN: never treated), whatever dtype the codes have.
    kind = data["credit_code"].map({c: t for c, (t, _) in treated.items()})
    when = data["credit_code"].map({c: float(y) for c, (_, y) in treated.items()}).astype("float64")
    data["type"] = kind
    data["after"] = (when.notna() & (data["year"] > when.fillna(9999))).astype(float)
    return data


def _within(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Enterprise-demeaned outcome and regressors, plus demeaned year dummies."""
    dummies = pd.get_dummies(data["year"], prefix="y", dtype=float).iloc[:, 1:]
    frame = pd.concat([data[["credit_code", "y", *columns]], dummies], axis=1)
    cols = ["y", *columns, *dummies.columns]
    frame[cols] = frame[cols] - frame.groupby("credit_code")[cols].transform("mean")
    return frame


def _fit(data: pd.DataFrame, columns: list[str], level: float) -> Any:
    frame = _within(data, columns)
    x = frame.drop(columns=["credit_code", "y"])
    groups = pd.factorize(frame["credit_code"])[0]
    model = sm.OLS(frame["y"].to_numpy(), x.to_numpy(), hasconst=False)
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    ci = fit.conf_int(alpha=1 - level)
    return fit, ci, list(x.columns)


def estimate(wh: Warehouse, scope: Scope | None = None, level: float = 0.95) -> DidResult:
    """The pooled and by-type effects with their `level` intervals."""
    data = panel(wh, scope)
    # Keep enterprises seen every year: a balanced panel, so year effects are common.
    n_years = data["year"].nunique()
    data = data[data.groupby("credit_code")["year"].transform("count") == n_years]
    treated_ids = data.loc[data["after"] > 0, "credit_code"].unique()
    if len(treated_ids) < 5:
        raise facts.ProjectsError("已投产满一年的技改企业不足 5 家，无法估计技改成效")
    fit, ci, names = _fit(data, ["after"], level)
    pooled = Estimate(
        "全部技改",
        float(fit.params[0]),
        float(ci[0, 0]),
        float(ci[0, 1]),
        len(treated_ids),
        float(fit.pvalues[0]),
    )
    cols = []
    for t in TYPES:
        col = f"after_{t}"
        data[col] = data["after"] * (data["type"] == t)
        if data[col].sum() > 0:
            cols.append(col)
    fit_t, ci_t, names_t = _fit(data, cols, level)
    by_type = []
    for k, col in enumerate(cols):
        n = data.loc[data[col] > 0, "credit_code"].nunique()
        by_type.append(
            Estimate(
                col.removeprefix("after_"),
                float(fit_t.params[k]),
                float(ci_t[k, 0]),
                float(ci_t[k, 1]),
                n,
                float(fit_t.pvalues[k]),
            )
        )
    has_project = data["type"].notna()
    return DidResult(
        pooled=pooled,
        by_type=by_type,
        observations=len(data),
        enterprises=int(data["credit_code"].nunique()),
        controls=int(data.loc[~has_project, "credit_code"].nunique()),
        years=sorted(int(y) for y in data["year"].unique()),
        level=level,
    )
