"""制造业园区高质量发展星级评价: manufacturing parks (经开区, 高新区) starred by the composite-index
engine, with each park's 亩均 evaluation (the `zhejiang_parks` run of the year) as an input.

The 亩均 run is read only through `jingxin.evaluation.service` (latest run, park results);
the index is computed over the province's manufacturing parks and cut to the reader's scope.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.scope import Scope
from jingxin.places.engine import IndexSpec, Indicator, Method, Node, compute, rank_desc

__all__ = ["ManufacturingConfig", "load_manufacturing_config", "star_parks", "manufacturing_stars"]


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


class ManufacturingConfig(_Strict):
    code: str
    name: str
    kinds: list[str]
    mu_system: str = "zhejiang_parks"
    groups: list[MGroup]
    indicators: list[MIndicator]
    stars: dict[int, float]

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
                )
                for i in self.indicators
            ),
            nodes=(
                *(Node(code=g.code, name=g.name, parent="total", weight=g.weight) for g in self.groups),
                Node(code="total", name=self.name),
            ),
            method=Method(imputation="mean", normalisation="minmax", scale=(0.0, 100.0)),
        )


@cache
def load_manufacturing_config() -> ManufacturingConfig:
    text = (files("jingxin.parks") / "systems" / "manufacturing.yaml").read_text(encoding="utf-8")
    return ManufacturingConfig.model_validate(yaml.safe_load(text))


def star_parks(results: pd.DataFrame, cfg: ManufacturingConfig | None = None) -> pd.DataFrame:
    """Stars of the parks in `results` (one row per park, the 亩均 park results' columns)."""
    cfg = cfg or load_manufacturing_config()
    parks = results[results["kind"].isin(cfg.kinds)].copy()
    if len(parks) < 2:
        return pd.DataFrame()
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
    return out.sort_values("rank")


def manufacturing_stars(wh: Any, year: int, scope: Scope) -> dict[str, Any]:
    """The year's manufacturing park stars visible in `scope` (LookupError without a 亩均 park run)."""
    from jingxin.evaluation import service as evaluation

    cfg = load_manufacturing_config()
    if not wh.has_table("eval_park_results"):
        raise LookupError(
            f"还没有园区亩均评价（{cfg.mu_system}）；请先运行 jingxin evaluate --system {cfg.mu_system}"
        )
    run = evaluation.latest_run(wh, year, cfg.mu_system)
    if run is None:
        raise LookupError(
            f"{year} 年还没有园区亩均评价（{cfg.mu_system}）；"
            f"请先运行 jingxin evaluate --system {cfg.mu_system}"
        )
    results = wh.execute(evaluation.park_results(wh, run["run_id"]))
    table = star_parks(results, cfg)
    visible = (
        table[[scope.allows_division(str(c)) for c in table["county_code"]]] if not table.empty else table
    )
    return {
        "year": year,
        "mu_run": run["run_id"],
        "fingerprint": cfg.spec().fingerprint(),
        "parks": len(table),
        "rows": [
            {"park_id": pid, **{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}}
            for pid, r in visible.iterrows()
        ],
    }
