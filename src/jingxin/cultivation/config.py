"""Cultivation ladders and 首台(套) rules as configuration (培育梯队与首台套配置).

`cultivation/config/ladders.yaml` (or `JINGXIN_CULTIVATION_LADDERS`) declares each ladder's rungs
and their criteria; `first_set.yaml` the catalogue's validity and the tiered compensation. Both
are validated here; a problem names the file and the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_DIR = Path(__file__).parent / "config"
ENV_LADDERS = "JINGXIN_CULTIVATION_LADDERS"
ENV_FIRST_SET = "JINGXIN_FIRST_SET_RULES"
METRICS = {
    "years_operating": "从业年限（年）",
    "revenue": "营业收入（万元）",
    "rd_share": "研发经费占营业收入（%）",
    "profit_growth": "净利润年均增长（%）",
    "debt_ratio": "资产负债率（%）",
    "main_products": "主导产品数（个）",
    "main_product_share": "主导产品收入占比（%）",
    "global_rank": "细分市场全球排名",
    "national_rank": "细分市场全国排名",
    "smart_level": "智能制造能力成熟度（级）",
    "in_chain": "属于标志性产业链",
}
Op = Literal[">=", "<=", ">", "<", "=="]


class ConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Criterion(_Strict):
    id: str
    label: str
    metric: str | None = None
    op: Op | None = None
    value: float | None = None
    any_of: list[Criterion] = []

    @model_validator(mode="after")
    def _shape(self) -> Criterion:
        if self.any_of:
            if self.metric is not None:
                raise ValueError(f"条件 {self.id}：any_of 与 metric 不能同时给出")
        elif self.metric is None or self.op is None or self.value is None:
            raise ValueError(f"条件 {self.id}：须给出 metric、op、value 或 any_of")
        elif not self.metric.startswith("rung:") and self.metric not in METRICS:
            raise ValueError(f"条件 {self.id}：未知指标 {self.metric!r}（可用：{'、'.join(METRICS)}）")
        return self

    def leaves(self) -> list[Criterion]:
        return [leaf for c in self.any_of for leaf in c.leaves()] if self.any_of else [self]


class Rung(_Strict):
    id: str
    label: str
    source: str
    criteria: list[Criterion] = Field(min_length=1)


class Ladder(_Strict):
    label: str
    rungs: list[Rung] = Field(min_length=1)


class LaddersConfig(_Strict):
    version: int
    year_metric_note: str = ""
    ladders: dict[str, Ladder]

    @model_validator(mode="after")
    def _references(self) -> LaddersConfig:
        seen: set[str] = set()
        for ladder in self.ladders.values():
            for rung in ladder.rungs:
                for c in rung.criteria:
                    for leaf in c.leaves():
                        if leaf.metric and leaf.metric.startswith("rung:") and leaf.metric[5:] not in seen:
                            raise ValueError(f"梯队 {rung.id} 引用的 {leaf.metric} 须在其之前定义")
                if rung.id in seen:
                    raise ValueError(f"梯队标识 {rung.id} 重复")
                seen.add(rung.id)
        return self

    def rungs(self) -> list[tuple[str, Rung]]:
        return [(name, r) for name, ladder in self.ladders.items() for r in ladder.rungs]

    def rung(self, rung_id: str) -> Rung:
        for _name, r in self.rungs():
            if r.id == rung_id:
                return r
        raise KeyError(rung_id)


class Tier(_Strict):
    rate: float = Field(gt=0, le=1)
    cap: float = Field(gt=0)


class FirstSetRules(_Strict):
    version: int
    validity_years: int = Field(ge=1, le=10)
    target_per_year: int = Field(ge=0)
    categories: dict[str, str]
    levels: dict[str, str]
    insurance: dict[str, Tier]
    rewards: dict[str, float]

    @model_validator(mode="after")
    def _tiers(self) -> FirstSetRules:
        missing = [lv for lv in self.levels if lv not in self.insurance or lv not in self.rewards]
        if missing:
            raise ValueError(f"等级 {'、'.join(missing)} 缺少保险补偿或奖励配置")
        return self


def _read(path: Path, model: type[BaseModel], what: str) -> BaseModel:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{what} {path} 无法读取：{exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '文件'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{what} {path} 有误（{where}）") from exc


def load_ladders(path: str | Path | None = None) -> LaddersConfig:
    file = Path(path or os.environ.get(ENV_LADDERS) or CONFIG_DIR / "ladders.yaml")
    return _read(file, LaddersConfig, "培育梯队配置")  # type: ignore[return-value]


def load_first_set(path: str | Path | None = None) -> FirstSetRules:
    file = Path(path or os.environ.get(ENV_FIRST_SET) or CONFIG_DIR / "first_set.yaml")
    return _read(file, FirstSetRules, "首台（套）规则")  # type: ignore[return-value]
