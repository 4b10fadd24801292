"""Response models of the nowcast API (/api/v1/nowcast)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunOut(BaseModel):
    run_id: str = Field(description="预测批次编号")
    target_month: str = Field(description="目标月份 YYYY-MM")
    as_of: str = Field(description="数据截至日期")
    regions: int = Field(description="地区数")
    created_by: str = Field(description="发起人")


class EstimateOut(BaseModel):
    kind: str = Field(description="month 当月 | quarter 当季")
    period: str = Field(description="2021-06 或 2021Q2")
    model: str = Field(description="dfm | bridge | naive")
    model_label: str
    point: float | None = Field(description="预测的同比增速，%")
    lower: float | None = Field(description="90% 区间下限，%")
    upper: float | None = Field(description="90% 区间上限，%")
    official: float | None = Field(description="截至数据日期已发布的增速，%")


class NewsOut(BaseModel):
    variable: str = Field(description="指标名，revisions 修订，reestimation 模型重新估计")
    label: str
    impact: float | None = Field(description="对预测的影响，百分点")
    observed: float | None = Field(description="新数据的值，%")
    expected: float | None = Field(description="此前模型对它的预期，%")


class HistoryOut(BaseModel):
    month: str
    value: float | None


class NowcastOut(BaseModel):
    run_id: str
    target_month: str
    as_of: str
    region_code: str
    region_name: str
    estimates: list[EstimateOut]
    news: list[NewsOut]
    news_previous: float | None = Field(description="比较的上次预测，%")
    news_current: float | None = Field(description="本次预测（动态因子模型），%")
    news_compared_as_of: str | None = Field(description="比较的数据日期")
    history: list[HistoryOut] = Field(description="已发布的当月同比（截至数据日期）")
