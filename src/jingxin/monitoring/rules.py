"""Warning rules (预警规则) read from YAML: the packaged `rules.yaml` or the file named by
JINGXIN_MONITOR_RULES. A bad file is refused with the key that is wrong and what is expected."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jingxin.monitoring.measures import LEVELS, MEASURES

COLOURS = ("green", "blue", "orange", "red")
COLOUR_LABELS = {"green": "绿", "blue": "蓝", "orange": "橙", "red": "红"}
RANK = {c: i for i, c in enumerate(COLOURS)}


def _known_measures(value: list[str]) -> list[str]:
    bad = [v for v in value if v not in MEASURES]
    if bad:
        raise ValueError(f"未知指标 {bad}，可用：{'、'.join(MEASURES)}")
    return value


class RulesError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionRule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["below", "fall", "run"]
    field: Literal["yoy_month", "yoy_ytd"] = "yoy_month"
    thresholds: dict[Literal["blue", "orange", "red"], float]

    @field_validator("thresholds")
    @classmethod
    def _ordered(cls, value: dict, info) -> dict:
        if not value:
            raise ValueError("至少给出一个颜色的阈值")
        return value


class RegionRules(_Strict):
    levels: list[str]
    measures: list[str]
    min_enterprises: int = Field(default=5, ge=1)
    rules: list[RegionRule]

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in LEVELS]
        if bad:
            raise ValueError(f"未知层级 {bad}，可用：{'、'.join(LEVELS)}")
        return value

    _measures = field_validator("measures")(_known_measures)


class EnterpriseRules(_Strict):
    who: Literal["above_scale", "key", "all"] = "key"
    measures: list[str]
    method: Literal["robust_z"] = "robust_z"
    history_months: int = Field(default=24, ge=6, le=60)
    min_history: int = Field(default=8, ge=4)
    mad_floor: float = Field(default=0.03, gt=0)
    min_drop_pct: float = Field(default=15, ge=0, lt=100)
    thresholds: dict[Literal["orange", "red"], float]

    _measures = field_validator("measures")(_known_measures)


class Rules(_Strict):
    version: int = 1
    regions: RegionRules
    enterprises: EnterpriseRules
    open_case_from: Literal["blue", "orange", "red"] = "orange"


PACKAGED = Path(__file__).with_name("rules.yaml")


def parse_rules(text: str, where: str = "rules.yaml") -> Rules:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{where}: 不是有效的 YAML（{exc}）") from None
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RulesError(f"{where}: {problems}") from None


@lru_cache(maxsize=4)
def _load(path: str) -> Rules:
    p = Path(path)
    return parse_rules(p.read_text(encoding="utf-8"), str(p))


def load_rules() -> Rules:
    return _load(os.environ.get("JINGXIN_MONITOR_RULES") or str(PACKAGED))
