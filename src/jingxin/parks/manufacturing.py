"""制造业园区高质量发展星级评价: manufacturing parks (经开区, 高新区) starred by the composite-index
engine, with each park's 亩均 evaluation (the `zhejiang_parks` run of the year) as an input.

The 亩均 run is read only through `jingxin.evaluation.service` (latest run, park results);
the index is computed over the province's manufacturing parks (min–max needs all of them) and
cut to the reader's `Scope` by the park's county on the way out: a county analyst sees its own
parks with their province rank, never another county's park.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from jingxin import reference
from jingxin.core.cache import cached_read
from jingxin.core.scope import Scope
from jingxin.places.config import TreatmentCfg
from jingxin.places.engine import IndexResult, IndexSpec, Indicator, Method, Node, compute, rank_desc

__all__ = [
    "ManufacturingConfig",
    "NoManufacturingRun",
    "load_manufacturing_config",
    "manufacturing_years",
    "star_parks",
    "province_stars",
    "manufacturing_stars",
    "visible_stars",
    "park_detail",
    "region_summary",
]


class NoManufacturingRun(LookupError):
    """No 亩均 park run for the year: the stars have no input yet."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MGroup(_Strict):
    code: str
    name: str
    weight: float = Field(default=1.0, ge=0)


class MIndicator(_Strict):
    code: str
    name: str
    group: str
    unit: str = ""
    direction: Literal[1, -1] = 1
    weight: float = Field(default=1.0, ge=0)
    denominator: str | None = None
    treat: bool = True
    winmax: int | None = Field(default=None, ge=0)


class ManufacturingConfig(_Strict):
    code: str
    name: str
    kinds: list[str]
    mu_system: str = "zhejiang_parks"
    groups: list[MGroup]
    indicators: list[MIndicator]
    stars: dict[int, float]
    treatment: TreatmentCfg = Field(default_factory=TreatmentCfg)

    def spec(self) -> IndexSpec:
        return IndexSpec(
            code=self.code,
            name=self.name,
            indicators=tuple(
                Indicator(
                    code=i.code,
                    name=i.name,
                    parent=i.group,
                    direction=i.direction,
                    weight=i.weight,
                    denominator=i.denominator,
                    unit=i.unit,
                    treat=i.treat,
                    winmax=i.winmax,
                )
                for i in self.indicators
            ),
            nodes=(
                *(Node(code=g.code, name=g.name, parent="total", weight=g.weight) for g in self.groups),
                Node(code="total", name=self.name),
            ),
            method=Method(
                imputation="mean",
                normalisation="minmax",
                scale=(0.0, 100.0),
                treatment=self.treatment.treatment(),
            ),
        )


@cache
def load_manufacturing_config() -> ManufacturingConfig:
    text = (files("jingxin.parks") / "systems" / "manufacturing.yaml").read_text(encoding="utf-8")
    return ManufacturingConfig.model_validate(yaml.safe_load(text))


def _compute(results: pd.DataFrame, cfg: ManufacturingConfig) -> tuple[pd.DataFrame, IndexResult | None]:
    parks = results[results["kind"].isin(cfg.kinds)].copy()
    if len(parks) < 2:
        return pd.DataFrame(), None
    parks["value_added_total"] = parks["value_added"]
    parks = parks.set_index("park_id")
    r = compute(cfg.spec(), parks)
    out = r.scores.rename(columns={"total": "score"})
    out["rank"] = rank_desc(out["score"]).astype(int)
    star = np.zeros(len(out), dtype=int)
    for s in range(1, 6):
        star = np.where(out["score"] >= cfg.stars[s], s, star)
    out["star"] = star
    for col in ("park_name", "kind", "county_code", "total_score"):
        out[col] = parks[col]
    if "class" in parks.columns:
        out["mu_class"] = parks["class"]
    return out.sort_values("rank"), r


def star_parks(results: pd.DataFrame, cfg: ManufacturingConfig | None = None) -> pd.DataFrame:
    """Stars of the parks in `results` (one row per park, the 亩均 park results' columns)."""
    return _compute(results, cfg or load_manufacturing_config())[0]


def manufacturing_years(wh: Any) -> list[int]:
    """Years with a 亩均 park run: the years the stars can be given for."""
    from jingxin.evaluation import service as evaluation

    cfg = load_manufacturing_config()
    return sorted({int(r["year"]) for r in evaluation.runs(wh, system=cfg.mu_system)})


@cached_read
def _province(wh: Any, year: int, cfg_json: str) -> tuple[pd.DataFrame, IndexResult | None, str]:
    from jingxin.evaluation import service as evaluation

    cfg = ManufacturingConfig.model_validate_json(cfg_json)
    run = evaluation.latest_run(wh, year, cfg.mu_system) if wh.has_table("eval_park_results") else None
    if run is None:
        raise NoManufacturingRun(
            f"{year} 年还没有园区亩均评价（{cfg.mu_system}）；"
            f"请先运行 jingxin evaluate --system {cfg.mu_system}"
        )
    results = wh.execute(evaluation.park_results(wh, run["run_id"]))
    table, result = _compute(results, cfg)
    return table, result, str(run["run_id"])


def province_stars(wh: Any, year: int) -> tuple[pd.DataFrame, IndexResult | None, str]:
    """The province's manufacturing parks of `year`, starred (before any scope), the engine's
    result and the 亩均 run used; kept by the warehouse's data version."""
    return _province(wh, int(year), load_manufacturing_config().model_dump_json())


def visible_stars(table: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    if table.empty:
        return table
    return table[[scope.allows_division(str(c)) for c in table["county_code"]]]


def _plain(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if np.isnan(v) else float(v)
    return v.item() if hasattr(v, "item") else v


def manufacturing_stars(wh: Any, year: int, scope: Scope) -> dict[str, Any]:
    """The year's manufacturing park stars visible in `scope` (LookupError without a 亩均 park run)."""
    cfg = load_manufacturing_config()
    table, _, run_id = province_stars(wh, year)
    visible = visible_stars(table, scope)
    return {
        "year": year,
        "mu_run": run_id,
        "fingerprint": cfg.spec().fingerprint(),
        "parks": len(table),
        "rows": [{"park_id": pid, **{k: _plain(v) for k, v in r.items()}} for pid, r in visible.iterrows()],
    }


def park_detail(wh: Any, year: int, scope: Scope, park_id: str) -> dict[str, Any]:
    """One manufacturing park: score, rank, stars, group scores and every indicator against the
    province's manufacturing parks. LookupError when absent or outside `scope` (alike)."""
    cfg = load_manufacturing_config()
    table, result, run_id = province_stars(wh, year)
    if result is None or park_id not in table.index:
        raise LookupError(park_id)
    row = table.loc[park_id]
    if not scope.allows_division(str(row["county_code"])):
        raise LookupError(park_id)
    names = {d.code: d.name for d in reference.divisions()}
    indicators = []
    for i in result.spec.indicators:
        col = result.raw[i.code]
        indicators.append(
            {
                "code": i.code,
                "name": i.name,
                "unit": i.unit,
                "group": i.parent,
                "value": _plain(col[park_id]),
                "mean": _plain(col.mean()),
                "best": _plain(col.max() if i.direction > 0 else col.min()),
                "normalised": _plain(result.normalised.at[park_id, i.code]),
                "normalised_mean": _plain(result.normalised[i.code].mean()),
                "imputed": bool(result.imputed_mask.at[park_id, i.code]),
            }
        )
    return {
        "year": year,
        "mu_run": run_id,
        "park_id": park_id,
        "park_name": str(row["park_name"]),
        "kind": str(row["kind"]),
        "county_code": str(row["county_code"]),
        "county_name": names.get(str(row["county_code"]), str(row["county_code"])),
        "score": _plain(row["score"]),
        "rank": int(row["rank"]),
        "parks": len(table),
        "star": int(row["star"]),
        "mu_score": _plain(row["total_score"]),
        "mu_class": _plain(row.get("mu_class")),
        "groups": [
            {
                "code": g.code,
                "name": g.name,
                "weight": g.weight,
                "score": _plain(row[g.code]),
                "mean": _plain(table[g.code].mean()),
            }
            for g in cfg.groups
        ],
        "indicators": indicators,
        "thresholds": {int(k): float(v) for k, v in cfg.stars.items()},
    }


def region_summary(table: pd.DataFrame, scope: Scope, region: str) -> list[dict[str, Any]]:
    """Per child of `region` (the cities of the province, the counties of a city) in scope:
    parks, mean score, parks of three stars or more, best star. Regions without a park are
    left out (the map shows them grey)."""
    visible = visible_stars(table, scope)
    if visible.empty:
        return []
    if region == "330000":
        key = visible["county_code"].str.slice(0, 4) + "00"
    else:
        visible = visible[visible["county_code"].str.startswith(region[:4])]
        key = visible["county_code"]
    names = {d.code: d.name for d in reference.divisions()}
    out = []
    for code, part in visible.groupby(key):
        out.append(
            {
                "code": str(code),
                "name": names.get(str(code), str(code)),
                "parks": int(len(part)),
                "score": round(float(part["score"].mean()), 2),
                "three_plus": int((part["star"] >= 3).sum()),
                "best_star": int(part["star"].max()),
            }
        )
    return out
