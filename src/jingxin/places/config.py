"""The county index as configuration (YAML validated by pydantic), turned into an `IndexSpec`.

A bureau that changes weights, groups or the 天工鼎 rule edits a copy of
``systems/county_quality.yaml`` and points ``--config`` (or JINGXIN_PLACES_CONFIG) at it.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jingxin.places.engine import IndexSpec, Indicator, Method, Node
from jingxin.places.robust import Uncertainty
from jingxin.places.treat import Treatment

__all__ = ["CountyConfig", "ConfigError", "TreatmentCfg", "load_county_config"]


class ConfigError(ValueError):
    """A configuration file is wrong; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TreatmentCfg(_Strict):
    """Outlier treatment (异常值处理, `places/treat.py`); COINr's defaults when enabled."""

    enabled: bool = False
    winmax: int | None = Field(default=5, ge=0)  # null: no limit
    skew: float = Field(default=2.0, gt=0)
    kurt: float = 3.5
    transform: Literal["log_ct", "log_ct_plus", "log_ct_orig", "log", "none"] = "log_ct"
    combine: bool = False

    def treatment(self) -> Treatment:
        return Treatment(**self.model_dump())


class IndicatorCfg(_Strict):
    code: str
    name: str
    group: str
    unit: str = ""
    direction: Literal[1, -1] = 1
    weight: float = Field(default=1.0, ge=0)
    target: float | None = None
    treat: bool = True  # false: never treated for outliers
    winmax: int | None = Field(default=None, ge=0)  # this indicator's winsorisation limit


class GroupCfg(_Strict):
    code: str
    name: str
    weight: float = Field(default=1.0, ge=0)


class MethodCfg(_Strict):
    imputation: Literal["none", "mean", "median", "group_mean"] = "group_mean"
    impute_group: str | None = "city"
    normalisation: Literal["minmax", "zscore", "target", "best"] = "minmax"
    scale: tuple[float, float] = (0.0, 100.0)
    aggregation: Literal["arithmetic", "geometric"] = "arithmetic"
    treatment: TreatmentCfg = Field(default_factory=TreatmentCfg)


class EvalGroupCfg(_Strict):
    code: str
    name: str
    level: Literal["city", "county"]
    mountain26: bool | None = None
    top_by: str | None = None
    count: int | None = Field(None, ge=1)
    codes: list[str] | None = None  # an explicit published list overrides the rule


class TiangongdingCfg(_Strict):
    groups: dict[str, int]
    robust: bool = False


class UncertaintyCfg(_Strict):
    draws: int = Field(default=1000, ge=10, le=100_000)
    weight_noise: float = Field(default=0.25, ge=0, lt=1)
    normalisations: tuple[Literal["minmax", "zscore"], ...] = ("minmax", "zscore")
    aggregations: tuple[Literal["arithmetic", "geometric"], ...] = ("arithmetic", "geometric")
    seed: int = 1
    vary_treatment: bool = False  # each draw with the outlier treatment on or off


class CountyConfig(_Strict):
    code: str
    name: str
    source: str = "county-stats"
    method: MethodCfg = Field(default_factory=MethodCfg)
    groups: list[GroupCfg]
    indicators: list[IndicatorCfg]
    evaluation_groups: list[EvalGroupCfg]
    tiangongding: TiangongdingCfg
    uncertainty: UncertaintyCfg = Field(default_factory=UncertaintyCfg)

    @model_validator(mode="after")
    def _consistent(self) -> CountyConfig:
        groups = {g.code for g in self.groups}
        for ind in self.indicators:
            if ind.group not in groups:
                raise ValueError(f"指标 {ind.code} 的分组 {ind.group!r} 未在 groups 中声明")
        evals = {g.code for g in self.evaluation_groups}
        for name in self.tiangongding.groups:
            if name not in evals:
                raise ValueError(f"tiangongding.groups 中的 {name!r} 不是评价分组（可选 {sorted(evals)}）")
        for eg in self.evaluation_groups:
            if eg.top_by is not None and eg.top_by not in {i.code for i in self.indicators}:
                raise ValueError(f"评价分组 {eg.code} 的 top_by {eg.top_by!r} 不是指标代码")
        return self

    def spec(self) -> IndexSpec:
        """The engine's immutable spec of this configuration."""
        m = self.method
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
                    target=i.target,
                    unit=i.unit,
                    treat=i.treat,
                    winmax=i.winmax,
                )
                for i in self.indicators
            ),
            nodes=(
                *(Node(code=g.code, name=g.name, parent="index", weight=g.weight) for g in self.groups),
                Node(code="index", name=self.name),
            ),
            method=Method(
                imputation=m.imputation,
                impute_group=m.impute_group,
                normalisation=m.normalisation,
                scale=m.scale,
                aggregation=m.aggregation,
                treatment=m.treatment.treatment(),
            ),
        )

    def uncertainty_assumptions(self, draws: int | None = None) -> Uncertainty:
        u = self.uncertainty
        return Uncertainty(
            draws=draws or u.draws,
            weight_noise=u.weight_noise,
            normalisations=u.normalisations,
            aggregations=u.aggregations,
            seed=u.seed,
            vary_treatment=u.vary_treatment,
        )


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(text: str, where: str, model: type[M], error: type[ValueError]) -> M:
    """A configuration file's text as `model`; `error` names the file, the field and the fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{where}: YAML 格式错误：{exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise error(f"{where}, {loc or '(顶层)'}: {first['msg']}；请按 docs/places.md 修改该项") from None


def parse_county_config(text: str, where: str) -> CountyConfig:
    return parse_yaml_model(text, where, CountyConfig, ConfigError)


@cache
def _packaged() -> CountyConfig:
    res = files("jingxin.places") / "systems" / "county_quality.yaml"
    return parse_county_config(res.read_text(encoding="utf-8"), "county_quality.yaml")


def load_county_config(path: str | Path | None = None) -> CountyConfig:
    """The packaged default, or the file at `path` (or JINGXIN_PLACES_CONFIG)."""
    path = path or os.environ.get("JINGXIN_PLACES_CONFIG")
    if not path:
        return _packaged()
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: 文件不存在；请给出县域评价配置 YAML 的路径")
    return parse_county_config(p.read_text(encoding="utf-8"), str(p))
