"""The medical catalogue and norms as configuration (目录与储备标准), validated by pydantic.

Files live in `config/` beside this module; `JINGXIN_MEDICAL_CONFIG` names a folder searched
first, so a province edits YAML, not code. Every problem names the file and the entry.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_DIR = Path(__file__).parent / "config"
ENV_DIR = "JINGXIN_MEDICAL_CONFIG"


class MedicalConfigError(ValueError):
    """A configuration file that cannot be used; the message says which file and what."""


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    subs: dict[str, str]


class Item(BaseModel):
    """One supply item (物资品目): unit and shelf life in months (0: does not expire)."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str
    category: str
    sub: str
    unit: str
    shelf_months: int = Field(ge=0, le=240)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: dict[str, Category]
    items: dict[str, Item]

    @model_validator(mode="before")
    @classmethod
    def _rows(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("items"), dict):
            items = {}
            for key, row in data["items"].items():
                if not isinstance(row, list) or len(row) != 5:
                    raise ValueError(f"items.{key}: 应为 [名称, 大类, 小类, 单位, 保质期月数]")
                name, cat, sub, unit, months = row
                items[key] = {
                    "id": key,
                    "name": name,
                    "category": cat,
                    "sub": sub,
                    "unit": unit,
                    "shelf_months": months,
                }
            data = {**data, "items": items}
        return data

    @model_validator(mode="after")
    def _refs(self) -> Catalogue:
        problems = [
            f"items.{k}: 大类 {i.category!r} 或小类 {i.sub!r} 未定义"
            for k, i in self.items.items()
            if i.category not in self.categories or i.sub not in self.categories[i.category].subs
        ]
        if problems:
            raise ValueError("；".join(problems))
        return self

    @property
    def sub_count(self) -> int:
        return sum(len(c.subs) for c in self.categories.values())


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    default: float = Field(gt=0)
    by_category: dict[str, float] = {}

    def multiplier(self, category: str) -> float:
        return self.by_category.get(category, self.default)


class DispatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    road_factor: float = Field(gt=0)
    speed_kmh: float = Field(gt=0)
    max_hours: float = Field(gt=0)
    cost_per_unit_hour: float = Field(ge=0)
    production_cost: float = Field(ge=0)
    keep_days: float = Field(ge=0)
    target_days: float = Field(gt=0)
    priorities: dict[int, str]


class Norms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    physical_days: float = Field(gt=0)
    agreement_days: float = Field(ge=0)
    expiry_warning_days: int = Field(ge=0)
    scenarios: dict[str, Scenario]
    dispatch: DispatchParams
    supplier_industries: dict[str, list[str]] = {}


def _path(name: str) -> Path:
    extra = os.environ.get(ENV_DIR)
    if extra and (Path(extra) / name).is_file():
        return Path(extra) / name
    return CONFIG_DIR / name


def _read(path: Path, model: type[BaseModel]) -> BaseModel:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise MedicalConfigError(f"{path} 无法读取：{exc}") from exc
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '文件'}: {e['msg']}" for e in exc.errors()
        )
        raise MedicalConfigError(f"{path} 有误：{details}") from exc


@functools.cache
def catalogue() -> Catalogue:
    return _read(_path("catalogue.yaml"), Catalogue)  # type: ignore[return-value]


@functools.cache
def norms() -> Norms:
    return _read(_path("norms.yaml"), Norms)  # type: ignore[return-value]


def item(item_id: str) -> Item:
    found = catalogue().items.get(item_id)
    if found is None:
        raise MedicalConfigError(f"物资目录中没有品目 {item_id!r}")
    return found
