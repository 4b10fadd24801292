"""Response models of the evaluation API (亩均评价接口的响应结构).

A figure that a role without clearance may not see (`jingxin.core.visibility`) is typed
`Masked…`: the number for cleared roles, "****" otherwise, so the schema says which fields
can be withheld.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class RunOut(_Out):
    """An evaluation run (评价批次)."""

    run_id: str
    system: str
    system_version: str | None = None
    title: str
    level: str | None = None
    year: int
    scope: str | None = Field(None, description="评价范围的区划代码")
    config_hash: str | None = None
    created_at: datetime | None = None
    enterprise_count: int | None = None
    unit_count: int | None = None
    backend: str | None = Field(None, description="计算该批次的仓库后端：duckdb、postgres 或 spark")


MaskedNumber = float | str | None
"""A figure derived from a sensitive input: the number for cleared roles, "****" otherwise."""
MaskedInt = int | str | None
"""A rank derived from a sensitive input: the number for cleared roles, "****" otherwise."""


class ResultOut(_Out):
    """One enterprise's result in a run. Sensitive fields are "****" without clearance."""

    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    city_code: str | None = None
    industry_code: str | None = None
    division_code: str | None = None
    above_scale: bool | None = None
    unit_id: str | None = None
    member_count: int | None = None
    land_mu: float | None = None
    tax_paid: MaskedNumber = Field(None, description="实缴税收（万元），敏感字段")
    tax_per_mu: MaskedNumber = Field(None, description="亩均税收（万元/亩），敏感字段")
    value_added: float | None = None
    value_added_per_mu: float | None = None
    total_score: MaskedNumber = None
    rank_in_county: MaskedInt = None
    county_count: int | None = None
    rank_in_industry: MaskedInt = None
    industry_count: int | None = None
    cls: str | None = Field(None, alias="class", description="分类")
    veto_reason: str | None = None
    prev_score: MaskedNumber = None
    prev_class: str | None = None
    score_change: MaskedNumber = None
    class_change: int | None = None
    consecutive_d_years: int | None = None
    land_tax_relief_pct: float | None = None
    power_surcharge_yuan_per_kwh: float | None = None
    energy_quota_change_pct: float | None = None
    priority_land: bool | None = None
    priority_funds: bool | None = None


class ResultPageOut(_Out):
    run: RunOut
    items: list[ResultOut]
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)


class IndicatorLineOut(_Out):
    """One indicator of the score breakdown: value, reference, weight, score, points lost."""

    indicator: str
    name: str
    unit: str
    value: MaskedNumber
    reference: MaskedNumber
    weight: float
    score: MaskedNumber
    lost: MaskedNumber
    missing: bool | str = Field(description="是否缺数据；无权查看的指标为 ****")
    text: str


class LiftOptionOut(_Out):
    indicator: str
    name: str
    unit: str
    value: float
    needed_value: float
    relative_change: float
    text: str


class ExplanationOut(_Out):
    """The plain-language explanation (评价结果解读) and the smallest change that lifts a class."""

    summary: str
    total_score: MaskedNumber
    cls: str = Field(alias="class")
    class_label: str
    indicators: list[IndicatorLineOut]
    notes: list[str]
    target_class: str | None = None
    gap: MaskedNumber = None
    options: list[LiftOptionOut] = []
    advice: str = ""


class MasterOut(_Out):
    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    city_name: str | None = None
    industry_code: str | None = None
    industry_name: str | None = None
    founded_on: date | None = None
    status: str | None = None


class ParcelOut(_Out):
    parcel_id: str | None = None
    area_mu: float | None = None
    land_use: str | None = None
    acquisition: str | None = None


class HistoryOut(_Out):
    run_id: str
    year: int
    system: str
    title: str
    total_score: MaskedNumber = None
    cls: str | None = Field(None, alias="class")
    rank_in_county: MaskedInt = None
    county_count: int | None = None
    rank_in_industry: MaskedInt = None
    industry_count: int | None = None
    score_change: MaskedNumber = None
    class_change: int | None = None


class IndicatorYearOut(_Out):
    run_id: str
    year: int
    indicator: str
    name: str
    unit: str
    value: MaskedNumber
    score: MaskedNumber
    weight: float | None = None


class PolicyLineOut(_Out):
    item: str
    effect: str
    applies: bool


class ProfileOut(_Out):
    """企业画像: master data, land, the chosen run's result and explanation, history, policies."""

    credit_code: str
    master: MasterOut | None
    land: list[ParcelOut]
    run: RunOut | None
    result: ResultOut | None
    explanation: ExplanationOut | None
    history: list[HistoryOut]
    indicators: list[IndicatorYearOut]
    policies: list[PolicyLineOut]
    masked: bool = Field(description="敏感字段是否已按角色遮蔽")


class CountyRankOut(_Out):
    rank: MaskedInt = None
    county_code: str
    county_name: str | None = None
    city_code: str | None = None
    city_name: str | None = None
    enterprises: int | None = None
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: MaskedNumber = None
    value_added_per_mu: float | None = None
    mean_score: MaskedNumber = None
    a_share: float | None = None
    classes: dict[str, int] = {}


class RankingOut(_Out):
    run: RunOut
    by: str
    items: list[CountyRankOut]


class LeaderOut(_Out):
    leader_rank: MaskedInt
    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    industry_code: str | None = None
    total_score: MaskedNumber = None
    cls: str | None = Field(None, alias="class")
    land_mu: float | None = None
    value_added: float | None = None


class LeaderGroupOut(_Out):
    industry: str
    items: list[LeaderOut]


class ParkOut(_Out):
    park_id: str
    park_name: str | None = None
    kind: str | None = None
    county_code: str | None = None
    total_score: MaskedNumber = None
    cls: str | None = Field(None, alias="class")
    rank_in_province: MaskedInt = None
    tax_per_mu: MaskedNumber = None
    value_added_per_mu: float | None = None


class LeadersOut(_Out):
    run: RunOut
    industries: list[LeaderGroupOut]
    parks: list[ParkOut]


class RegionOut(_Out):
    code: str
    name: str
    level: str
    parent: str | None = None
    children: str | None = Field(None, description="地图显示的下级：city 或 county；区县为空")


class RegionValueOut(_Out):
    code: str
    name: str
    enterprises: int
    tax_per_mu: MaskedNumber = None
    value_added_per_mu: float | None = None
    a_share: float | None = None


class YearPointOut(_Out):
    year: int
    run_id: str
    enterprises: int
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: MaskedNumber = None
    value_added_per_mu: float | None = None
    classes: dict[str, int]


class HeadlineOut(_Out):
    year: int
    enterprises: int
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: MaskedNumber = None
    value_added_per_mu: float | None = None
    prev_year: int | None = None
    prev_tax_per_mu: MaskedNumber = None
    prev_value_added_per_mu: float | None = None
    tax_per_mu_change: MaskedNumber = Field(None, description="较上年变化（比率，0.05 即 5%）")
    value_added_per_mu_change: float | None = None


class ClassCountOut(_Out):
    cls: str = Field(alias="class")
    label: str
    count: int
    share: float | None = None


class DashboardOut(_Out):
    """The home dashboard of a region: headline, classes, map values, trend."""

    region: RegionOut
    run: RunOut | None
    headline: HeadlineOut | None
    classes: list[ClassCountOut]
    regions: list[RegionValueOut]
    trend: list[YearPointOut]
    geo_url: str


class GeoProperties(_Out):
    code: str
    name: str


class GeoFeature(_Out):
    type: Literal["Feature"]
    properties: GeoProperties
    geometry: dict[str, Any]


class GeoCollection(_Out):
    """GeoJSON of the divisions under a region (properties: code, name)."""

    type: Literal["FeatureCollection"]
    features: list[GeoFeature]
