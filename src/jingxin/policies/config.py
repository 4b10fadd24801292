"""The policy catalogue (政策目录): one YAML file per policy, checked when loaded.

Each policy has its issuer (发文单位), document number (文号), period of validity, dated
parameters (a value applies from its `since` date until the next one), eligibility as named
conditions over warehouse facts, the benefit formula in 元 and whether it pays without
application (直兑, `mode: direct`) or needs one (`mode: application`). A charge (a surcharge
such as the D-class electricity price, `kind: charge`) is matched and shown like a benefit
but its amount is negative and it is never paid out.

Every parameter names its `source`: the published document, or "项目默认值" (project default)
when no published figure was found. `JINGXIN_POLICIES` points at another catalogue folder.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jingxin.policies.rules import Rule, RuleError, parse_rule

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
ENV_CATALOGUE = "JINGXIN_POLICIES"
PROJECT_DEFAULT = "项目默认值"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class PolicyConfigError(ValueError):
    """A policy file that cannot be used; the message names the file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatedValue(_Strict):
    since: dt.date
    value: float | str | list[str]


class ParameterDef(_Strict):
    label: str
    unit: str = ""
    source: str  # 文号 and article, or PROJECT_DEFAULT
    values: list[DatedValue] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ParameterDef:
        dates = [v.since for v in self.values]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("参数的 since 日期须递增且不重复")
        return self

    def at(self, day: dt.date) -> Any:
        """The value in force on `day` (the first value before its date, so a parameter always has one)."""
        chosen = self.values[0].value
        for v in self.values:
            if v.since <= day:
                chosen = v.value
        return chosen


class ConditionDef(_Strict):
    id: str
    label: str
    test: str


class Policy(_Strict):
    id: str
    title: str
    issuer: str
    document: str
    url: str | None = None
    summary: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    mode: Literal["direct", "application"]
    kind: Literal["benefit", "charge"] = "benefit"
    unit: Literal["元"] = "元"
    data_year: Literal["previous"] = "previous"
    parameters: dict[str, ParameterDef] = {}
    conditions: list[ConditionDef] = Field(min_length=1)
    benefit: str

    @model_validator(mode="after")
    def _rules(self) -> Policy:
        if not _ID.match(self.id):
            raise ValueError(f"政策编号 {self.id!r} 只能用小写字母、数字和下划线")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until 早于 valid_from")
        ids = [c.id for c in self.conditions]
        if len(set(ids)) != len(ids):
            raise ValueError("条件编号重复")
        for c in self.conditions:
            parse_rule(c.test, set(self.parameters))
        parse_rule(self.benefit, set(self.parameters))
        return self

    @property
    def mode_label(self) -> str:
        return "免申即享（直兑）" if self.mode == "direct" else "依申请兑现"

    def rule(self, condition: ConditionDef) -> Rule:
        return parse_rule(condition.test, set(self.parameters))

    @property
    def formula(self) -> Rule:
        return parse_rule(self.benefit, set(self.parameters))

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def params_at(self, day: dt.date, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Parameter values on `day`; `overrides` (a what-if) replace some of them."""
        out = {name: p.at(day) for name, p in self.parameters.items()}
        for name, value in (overrides or {}).items():
            if name not in self.parameters:
                raise PolicyConfigError(
                    f"政策 {self.id} 没有参数 {name}；可用参数：{'、'.join(self.parameters)}"
                )
            out[name] = value
        return out

    def data_year_for(self, day: dt.date) -> int:
        """The year of facts a decision on `day` reads: last year's annual figures."""
        return day.year - 1

    def fingerprint(self) -> str:
        """Changes whenever anything that decides who gets what changes (for re-pushing)."""
        raw = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def parse_policy(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyConfigError(f"{path}: YAML 格式错误：{exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"{path}: 文件内容应为一个政策（映射）")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc'])) or '文件'}: {e['msg']}" for e in exc.errors())
        raise PolicyConfigError(f"{path}: {problems}") from None
    except RuleError as exc:
        raise PolicyConfigError(f"{path}: {exc}") from None
    if path.stem != policy.id:
        raise PolicyConfigError(f"{path}: 文件名应与政策编号一致（{policy.id}.yaml）")
    return policy


def catalogue_dir() -> Path:
    return Path(os.environ.get(ENV_CATALOGUE) or CATALOGUE_DIR)


@functools.lru_cache(maxsize=4)
def _load(folder: str) -> dict[str, Policy]:
    out: dict[str, Policy] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        policy = parse_policy(path)
        out[policy.id] = policy
    return out


def load_catalogue() -> dict[str, Policy]:
    """Every policy of the catalogue by id, in file-name order."""
    return _load(str(catalogue_dir()))


def get_policy(policy_id: str) -> Policy:
    catalogue = load_catalogue()
    if policy_id not in catalogue:
        raise PolicyConfigError(f"没有编号为 {policy_id!r} 的政策；可用：{'、'.join(catalogue)}")
    return catalogue[policy_id]
