"""Data exchange contracts (数据交换规范) loaded from `contracts.yaml`.

A contract says which columns a department's file must carry, their units and how their rows
are keyed. The warehouse's fact tables are derived from the same contracts, so the file format
and the table cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import ibis.expr.datatypes as dt
import yaml
from pydantic import BaseModel, Field, model_validator

ColumnType = Literal[
    "credit_code", "text", "county", "industry", "date", "month", "year", "decimal", "integer", "boolean"
]

_IBIS_TYPES: dict[str, dt.DataType] = {
    "credit_code": dt.string,
    "text": dt.string,
    "county": dt.string,
    "industry": dt.string,
    "date": dt.date,
    "month": dt.date,  # first day of the month
    "year": dt.int32,
    "decimal": dt.float64,
    "integer": dt.int64,
    "boolean": dt.boolean,
}


class Unit(BaseModel):
    family: str
    factor: float = Field(description="multiply a value in this unit by factor to get the base unit")


class Column(BaseModel):
    name: str
    header: str
    type: ColumnType
    unit: str | None = None
    required: bool = True
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None
    aliases: list[str] = []

    @property
    def ibis_type(self) -> dt.DataType:
        return _IBIS_TYPES[self.type]

    @property
    def headers(self) -> list[str]:
        return [self.header, *self.aliases]


class Source(BaseModel):
    id: str
    title: str
    department: str
    table: str
    period: str | None
    key: list[str]
    columns: list[Column]
    notes: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> Source:
        names = [c.name for c in self.columns]
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"source {self.id}: key columns {missing} are not columns")
        if self.period and self.period not in names:
            raise ValueError(f"source {self.id}: period column {self.period} is not a column")
        return self

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class Contracts(BaseModel):
    units: dict[str, Unit]
    sources: dict[str, Source]

    def convert_factor(self, from_unit: str, to_unit: str) -> float | None:
        """Factor to turn a value in `from_unit` into `to_unit`, or None if they do not convert."""
        a, b = self.units.get(from_unit), self.units.get(to_unit)
        if a is None or b is None or a.family != b.family:
            return None
        return a.factor / b.factor


@lru_cache
def load_contracts() -> Contracts:
    text = resources.files("jingxin.core").joinpath("contracts.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    for source_id, body in raw["sources"].items():
        body["id"] = source_id
    return Contracts.model_validate(raw)


def source(source_id: str) -> Source:
    """The contract of one source; a clear error lists the known sources otherwise."""
    sources = load_contracts().sources
    if source_id not in sources:
        raise KeyError(f"未知数据源 {source_id!r}；可用：{', '.join(sources)}")
    return sources[source_id]
