"""County index operations: read the county figures (Ibis, live batches), compute, and show
only what the user's `Scope` covers.

Normalising needs every place of a group, so the index is computed over the whole province;
what leaves this module is restricted by `Scope.allows_division`: a county analyst sees its own
county's scores, ranks and intervals and the group's summary (count, mean, best score), never
another county's figures; a city analyst its city and its counties; the province everything.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from jingxin import reference
from jingxin.core.cache import cached_read
from jingxin.core.scope import Scope
from jingxin.places.config import CountyConfig, load_county_config
from jingxin.places.county import (
    CountyIndex,
    evaluate_year,
    point_label,
    strengths_weaknesses,
    treatment_rows,
)

__all__ = [
    "NoCountyData",
    "county_frame",
    "county_years",
    "county_index",
    "visible_rows",
    "scorecard",
    "summary_json",
]


class NoCountyData(LookupError):
    """No county figures for the year in the warehouse."""


def county_years(wh: Any) -> list[int]:
    t = wh.current("county_stats")
    years = wh.execute(t.select("year").distinct())["year"]
    return sorted(int(y) for y in years)


def county_frame(wh: Any, year: int, cfg: CountyConfig | None = None) -> pd.DataFrame:
    """The year's figures, one row per division code (the province's, before any scope)."""
    cfg = cfg or load_county_config()
    t = wh.current("county_stats")
    cols = ["region_code", *[i.code for i in cfg.indicators]]
    df = wh.execute(t.filter(t.year == int(year)).select(*cols))
    if df.empty:
        raise NoCountyData(
            f"仓库中没有 {year} 年的县（市、区）年度指标（数据源 county-stats）；请先归集该年文件"
        )
    known = {d.code for d in reference.divisions()}
    unknown = sorted(set(df["region_code"]) - known)
    if unknown:
        raise ValueError(
            f"county-stats {year}: 行政区划代码 {unknown[:5]} 不是浙江省的设区市或县级代码；请更正后重新报送"
        )
    return df.set_index("region_code").astype(float)


@cached_read
def _county_index(wh: Any, year: int, cfg_json: str, draws: int | None, robustness: bool) -> CountyIndex:
    cfg = CountyConfig.model_validate_json(cfg_json)
    return evaluate_year(county_frame(wh, year, cfg), cfg, year, draws=draws, robustness=robustness)


def county_index(
    wh: Any, year: int, cfg: CountyConfig | None = None, draws: int | None = None, robustness: bool = True
) -> CountyIndex:
    """The whole province's index of `year`, kept by the warehouse's data version
    (`core/cache.cached_read`): a new county-stats batch is seen at once. `robustness=False`
    leaves out the Monte Carlo and the leave-one-out (scores and ranks only: a trend)."""
    cfg = cfg or load_county_config()
    return _county_index(wh, int(year), cfg.model_dump_json(), draws, robustness)


def visible_rows(ci: CountyIndex, scope: Scope) -> pd.DataFrame:
    """Rows of every group the scope covers, with names; sorted by group and rank."""
    names = {d.code: d.name for d in reference.divisions()}
    rows = ci.rows()
    rows = rows[[scope.allows_division(str(c)) for c in rows.index]]
    rows = rows.assign(code=rows.index, name=[names.get(c, c) for c in rows.index])
    return rows.reset_index(drop=True)


def group_summary(ci: CountyIndex) -> list[dict[str, Any]]:
    """Per group: size, mean and best score, awards count, the indicators treated for outliers
    (no place named)."""
    return [
        {
            "code": g.code,
            "name": g.name,
            "count": len(g.table),
            "mean": float(g.table["score"].mean()),
            "best": float(g.table["score"].max()),
            "awards": int(g.table["tiangongding"].sum()),
            "treated": treatment_rows(g),
        }
        for g in ci.groups
    ]


def scorecard(
    wh: Any, scope: Scope, code: str, years: list[int] | None = None, cfg: CountyConfig | None = None
) -> dict[str, Any]:
    """One place's scorecard: per group its indicators against the group, strengths and
    weaknesses, radar values, and its score and rank over the years. Outside scope: LookupError."""
    if not scope.allows_division(code):
        raise LookupError(code)
    cfg = cfg or load_county_config()
    years = years or county_years(wh)
    div = next((d for d in reference.divisions() if d.code == code), None)
    if div is None or div.level == "province":
        raise LookupError(code)
    latest = years[-1]
    ci = county_index(wh, latest, cfg)
    groups = []
    for g in ci.groups:
        if code not in g.table.index:
            continue
        r = g.result
        row = g.table.loc[code]
        indicators = []
        for i in r.spec.indicators:
            col = r.imputed[i.code]
            indicators.append(
                {
                    "code": i.code,
                    "name": i.name,
                    "unit": i.unit,
                    "group": i.parent,
                    "direction": i.direction,
                    "value": _f(col[code]),
                    "imputed": bool(r.imputed_mask.at[code, i.code]),
                    "treated": point_label(g, code, i.code),
                    "group_mean": _f(col.mean()),
                    "group_best": _f(col.max() if i.direction > 0 else col.min()),
                    "normalised": _f(r.normalised.at[code, i.code]),
                    "normalised_mean": _f(r.normalised[i.code].mean()),
                }
            )
        groups.append(
            {
                "code": g.code,
                "name": g.name,
                "size": len(g.table),
                "score": _f(row["score"]),
                "rank": int(row["rank"]),
                "rank_low": int(row["rank_low"]),
                "rank_high": int(row["rank_high"]),
                "mover": row["mover"],
                "mover_shift": int(row["mover_shift"]),
                "tiangongding": bool(row["tiangongding"]),
                "pillars": {n.code: _f(r.scores.at[code, n.code]) for n in r.spec.nodes},
                "pillars_mean": {n.code: _f(r.scores[n.code].mean()) for n in r.spec.nodes},
                "indicators": indicators,
                **strengths_weaknesses(g, code),
            }
        )
    trend = []
    for y in years:
        try:
            cy = county_index(wh, y, cfg, robustness=False) if y != latest else ci
        except NoCountyData:
            continue
        for g in cy.groups:
            if code in g.table.index:
                trend.append(
                    {
                        "year": y,
                        "group": g.code,
                        "score": _f(g.table.at[code, "score"]),
                        "rank": int(g.table.at[code, "rank"]),
                    }
                )
    return {
        "code": code,
        "name": div.name,
        "level": div.level,
        "year": latest,
        "groups": groups,
        "trend": trend,
        "group_names": {g.code: g.name for g in cfg.groups},
    }


def summary_json(ci: CountyIndex, scope: Scope) -> dict[str, Any]:
    """What the CLI and the API give: method, groups' summaries, visible rows."""
    rows = visible_rows(ci, scope)
    spec = ci.config.spec()
    return {
        "index": ci.config.code,
        "year": ci.year,
        "fingerprint": spec.fingerprint(),
        "method": {**asdict(spec.method), "uncertainty": ci.config.uncertainty.model_dump()},
        "groups": group_summary(ci),
        "rows": [
            {
                k: (
                    _f(v)
                    if isinstance(v, float | np.floating)
                    else (
                        bool(v) if isinstance(v, np.bool_) else (int(v) if isinstance(v, np.integer) else v)
                    )
                )
                for k, v in r.items()
            }
            for r in rows.to_dict(orient="records")
        ],
    }


def _f(v: object) -> float | None:
    x = float(v)  # type: ignore[arg-type]
    return None if np.isnan(x) else round(x, 6)
