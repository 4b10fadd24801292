"""Targets of industrial investment and projects (工业投资与项目目标) as configuration.

`projects/config/targets.yaml` holds the province's figures (DOMAIN §15), the scale rule and the
overrides of cities and counties; `JINGXIN_PROJECTS_TARGETS` names another file. Problems are
reported with the file and the field.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_FILE = Path(__file__).parent / "config" / "targets.yaml"
ENV_FILE = "JINGXIN_PROJECTS_TARGETS"
FULL_SCALE = 48_000  # 规上 industrial enterprises of the province (synth.calibration)
METRICS = ("investment_growth", "tech_projects", "tech_completed", "attracted_projects")


class ConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figures(_Strict):
    investment_growth: float | None = Field(default=None, ge=-100, le=1000)
    tech_projects: int | None = Field(default=None, ge=0)
    tech_completed: int | None = Field(default=None, ge=0)
    attracted_projects: int | None = Field(default=None, ge=0)


class Colours(_Strict):
    green: float = Field(default=1.0, gt=0)
    orange: float = Field(default=0.8, gt=0)


class Delays(_Strict):
    """Progress colours of a project (进度): on schedule (no working day late), behind (滞后),
    seriously behind (严重滞后) from `serious_working_days` late."""

    serious_working_days: int = Field(default=30, ge=1, le=2000)


class Deadlines(_Strict):
    """Grace in working days after a milestone's planned date (register) before it is overdue."""

    start: int = Field(default=10, ge=0, le=500)
    production: int = Field(default=20, ge=0, le=500)
    capacity: int = Field(default=20, ge=0, le=500)


class TargetsConfig(_Strict):
    version: int
    province: Figures
    scale: str | float = "generated"
    cities: dict[str, Figures] = {}
    counties: dict[str, Figures] = {}
    colours: Colours = Colours()
    delays: Delays = Delays()
    deadlines: Deadlines = Deadlines()

    @field_validator("colours")
    @classmethod
    def _order(cls, value: Colours) -> Colours:
        if value.orange > value.green:
            raise ValueError("colours.orange（滞后下限）不能高于 colours.green（进度正常下限）")
        return value

    @field_validator("cities", "counties")
    @classmethod
    def _codes(cls, value: dict[str, Figures]) -> dict[str, Figures]:
        for code in value:
            if len(code) != 6 or not code.isdigit():
                raise ValueError(f"区划代码应为6位数字：{code!r}")
        return value

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: str | float) -> str | float:
        if isinstance(value, str) and value != "generated":
            raise ValueError("scale 应为 generated 或一个正数")
        if not isinstance(value, str) and value <= 0:
            raise ValueError("scale 应为正数")
        return value


def load_targets(path: str | Path | None = None) -> TargetsConfig:
    path = Path(path or os.environ.get(ENV_FILE) or DEFAULT_FILE)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"目标配置 {path} 无法读取：{exc}") from exc
    try:
        return TargetsConfig.model_validate(raw)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(
            f"目标配置 {path} 有误（{where}），请按 projects/config/targets.yaml 的格式修改"
        ) from exc
