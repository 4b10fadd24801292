"""Risk configuration (风险分级配置): rules, scorecard scaling, grades, contagion, warnings.

Loaded from `config/default.yaml` or a file given with JINGXIN_RISK_CONFIG / `path`, validated
by pydantic: a bad file is refused with the field that is wrong, never half used.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jingxin.risk.features import CHARACTERISTICS

KEY, GENERAL, NORMAL = "重点关注", "一般关注", "正常"
GRADES = (KEY, GENERAL, NORMAL)
GRADE_RANK = {NORMAL: 0, GENERAL: 1, KEY: 2}
RULE_FEATURES = set(CHARACTERISTICS) | {"enforcements", "seizures", "lawsuits"}
DEFAULT = Path(__file__).parent / "config" / "default.yaml"


class RiskConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Strict):
    feature: str
    op: Literal[">=", "<=", ">", "<", "=="]
    value: float

    @model_validator(mode="after")
    def _known(self) -> Condition:
        if self.feature not in RULE_FEATURES:
            raise ValueError(f"未知特征 {self.feature}，可用：{', '.join(sorted(RULE_FEATURES))}")
        return self


class Rule(_Strict):
    id: str
    label: str
    all: list[Condition] = Field(min_length=1)
    reason: str


class ScorecardConfig(_Strict):
    horizon_months: int = Field(6, ge=1, le=24)
    pdo: float = Field(20, gt=0)
    base_points: float = 600
    base_odds: float = Field(50, gt=0)
    max_n_bins: int = Field(5, ge=2, le=20)
    reason_codes: int = Field(3, ge=1, le=9)


class Grades(_Strict):
    key_pd: float = Field(gt=0, lt=1)
    general_pd: float = Field(gt=0, lt=1)
    general_signals: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> Grades:
        if self.general_pd >= self.key_pd:
            raise ValueError("general_pd 须小于 key_pd")
        return self


class ContagionRule(_Strict):
    id: str
    label: str
    relation: Literal["guarantees_for", "same_circle", "borrows_from"]
    partner: Literal["materialised", "key_concern"]
    raise_to: Literal["重点关注", "一般关注"]
    reason: str


class Concentration(_Strict):
    min_enterprises: int = Field(10, ge=1)
    key_share: float = Field(gt=0, le=1)
    concern_share: float = Field(gt=0, le=1)


class Monitoring(_Strict):
    psi_warning: float = 0.1
    psi_alert: float = 0.25


class Visibility(_Strict):
    enterprise_sees_own_grade: bool = False


class RiskConfig(_Strict):
    version: int
    materialised: list[Rule]
    hidden: list[Rule]
    scorecard: ScorecardConfig
    grades: Grades
    contagion: list[ContagionRule] = []
    concentration: Concentration
    monitoring: Monitoring = Monitoring()
    visibility: Visibility = Visibility()
    source: str = ""


def parse_config(path: Path) -> RiskConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RiskConfigError(f"无法读取风险配置 {path}：{exc}") from exc
    try:
        cfg = RiskConfig.model_validate({**(raw or {}), "source": str(path)})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RiskConfigError(f"风险配置 {path} 有误：{problems}") from None
    return cfg


@lru_cache
def _cached(path: str, mtime: float) -> RiskConfig:
    return parse_config(Path(path))


def load_config(path: str | Path | None = None) -> RiskConfig:
    """The configuration in force: `path`, else $JINGXIN_RISK_CONFIG, else the default."""
    p = Path(path or os.environ.get("JINGXIN_RISK_CONFIG") or DEFAULT)
    return _cached(str(p), p.stat().st_mtime if p.exists() else 0.0)
