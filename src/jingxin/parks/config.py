"""The 小微企业园 evaluation system as configuration (``systems/small_micro.yaml``).

A county or province that changes dimensions, points, thresholds or the transition period edits
a copy and points JINGXIN_PARKS_CONFIG (or ``--config``) at it.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jingxin.places.config import TreatmentCfg, parse_yaml_model
from jingxin.places.engine import IndexSpec, Indicator, Method, Node

__all__ = ["ParkConfig", "ParkConfigError", "load_park_config"]

Grade = Literal["A", "B", "C", "D"]
Level = Literal["county", "city", "province"]


class ParkConfigError(ValueError):
    """The park system file is wrong: file, field, and what to change."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DimensionCfg(_Strict):
    code: str
    name: str
    weight: float = Field(ge=0)


class ParkIndicatorCfg(_Strict):
    code: str
    name: str
    dimension: str
    unit: str = ""
    direction: Literal[1, -1] = 1
    weight: float = Field(default=1.0, ge=0)
    denominator: str | None = None
    treat: bool = True
    winmax: int | None = Field(default=None, ge=0)


class PointsCfg(_Strict):
    leading_threshold: float = 50
    leading_step: float = Field(default=10, gt=0)
    leading_points: float = 10
    per_item: dict[str, float] = {}
    cap: float | None = None


class ParkMethodCfg(_Strict):
    normalisation: Literal["minmax", "zscore"] = "minmax"
    scale: tuple[float, float] = (0.0, 100.0)
    aggregation: Literal["arithmetic", "geometric"] = "arithmetic"
    imputation: Literal["none", "mean", "median"] = "mean"
    treatment: TreatmentCfg = Field(default_factory=TreatmentCfg)


class ParkConfig(_Strict):
    code: str
    name: str
    source: str = "park-reports"
    method: ParkMethodCfg = Field(default_factory=ParkMethodCfg)
    dimensions: list[DimensionCfg]
    indicators: list[ParkIndicatorCfg]
    points: PointsCfg = Field(default_factory=PointsCfg)
    transition_years: int = Field(default=3, ge=0)
    transition_floor: Grade = "C"
    grades: dict[Literal["A", "B", "C"], float]
    stars: dict[int, float]
    authority: dict[Level, list[int]]

    @model_validator(mode="after")
    def _consistent(self) -> ParkConfig:
        dims = {d.code for d in self.dimensions}
        for i in self.indicators:
            if i.dimension not in dims:
                raise ValueError(f"指标 {i.code} 的维度 {i.dimension!r} 未在 dimensions 中声明")
        if not (self.grades["A"] >= self.grades["B"] >= self.grades["C"]):
            raise ValueError("grades 的分数线应满足 A ≥ B ≥ C")
        if sorted(self.stars) != [1, 2, 3, 4, 5]:
            raise ValueError("stars 应为 1～5 星各一条分数线")
        if any(self.stars[s] < self.stars[s - 1] for s in range(2, 6)):
            raise ValueError("stars 的分数线应随星级递增")
        given = sorted(s for v in self.authority.values() for s in v)
        if given != [1, 2, 3, 4, 5]:
            raise ValueError("authority 应把 1～5 星各分给一个层级（县、市、省）")
        return self

    def spec(self) -> IndexSpec:
        m = self.method
        return IndexSpec(
            code=self.code,
            name=self.name,
            indicators=tuple(
                Indicator(
                    code=i.code,
                    name=i.name,
                    parent=i.dimension,
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
                *(Node(code=d.code, name=d.name, parent="total", weight=d.weight) for d in self.dimensions),
                Node(code="total", name=self.name),
            ),
            method=Method(
                imputation=m.imputation,
                normalisation=m.normalisation,
                scale=m.scale,
                aggregation=m.aggregation,
                treatment=m.treatment.treatment(),
            ),
        )

    def level_for_star(self, star: int) -> Level:
        """The level that decides `star` (0 = no star: the county)."""
        for level, stars in self.authority.items():
            if star in stars:
                return level
        return "county"


def parse_park_config(text: str, where: str) -> ParkConfig:
    return parse_yaml_model(text, where, ParkConfig, ParkConfigError)


@cache
def _packaged() -> ParkConfig:
    res = files("jingxin.parks") / "systems" / "small_micro.yaml"
    return parse_park_config(res.read_text(encoding="utf-8"), "small_micro.yaml")


def load_park_config(path: str | Path | None = None) -> ParkConfig:
    path = path or os.environ.get("JINGXIN_PARKS_CONFIG")
    if not path:
        return _packaged()
    p = Path(path)
    if not p.exists():
        raise ParkConfigError(f"{p}: 文件不存在；请给出小微企业园评价配置 YAML 的路径")
    return parse_park_config(p.read_text(encoding="utf-8"), str(p))
