"""Indicator systems (评价指标体系) as versioned YAML, validated by pydantic.

Why configuration and not code: the province only sets the frame; every county publishes its own
weights, reference values (参照值) and class shares (分类比例), and changes them from year to
year. A county that changes its weights edits a file; a run stores the resolved configuration
(system file plus county overrides) and its hash, so a published result can be recomputed.

Resolution (how a county overrides the province default):

1. The system file `systems/<id>.yaml` (shipped in the package). A folder given by the
   environment variable `JINGXIN_EVALUATION_SYSTEMS` (or the `systems_dir` argument) is searched
   first, so a deployment can add or replace systems without touching the package.
2. Optional county override files `overrides/<id>/<county_code>.yaml` in the same folders. An
   override may change indicator weights, fixed reference values, class shares or thresholds,
   sublet deductions, policy numbers and add vetoes (`CountyOverride`). It cannot change
   formulas, the population or the scoring method: a county that scores differently uses a
   system of its own (e.g. `zhejiang_industry_minmax`) and runs it with `--scope`.

In a province-wide run every county's enterprises are scored with that county's parameters
(the overrides become per-county columns, see `compute.Params`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from jingxin.evaluation.config_classes import ClassRule, Group
from jingxin.evaluation.config_policies import (
    ConfigModel,
    Deductions,
    Leaders,
    Policies,
    Veto,
)
from jingxin.evaluation.formula import FACT_COLUMNS, FormulaError, parse_formula

Direction = Literal["higher", "lower"]
Method = Literal["ratio", "ratio_capped", "minmax", "benchmark"]
Statistic = Literal["mean", "median", "sum_over_sum"]
MissingRule = Literal["average", "zero", "reweight"]
Level = Literal["enterprise", "park"]

GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "province": (),
    "city": ("city_code",),
    "county": ("county_code",),
    "county_industry": ("county_code", "division_code"),
    "province_industry": ("division_code",),
    "kind": ("kind",),
}
"""Columns that define each grouping (分组口径) of references, min–max ranges and classes."""

GROUP_NAMES = {
    "province": "全省",
    "city": "本市",
    "county": "本县（市、区）",
    "county_industry": "本县同行业",
    "province_industry": "全省同行业",
    "kind": "同类园区",
}

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SELECTOR = re.compile(r"^([A-T])?(\d{2,4})?$")
_COUNTY = re.compile(r"^\d{6}$")
PACKAGE_SYSTEMS = "jingxin.evaluation"
ENV_SYSTEMS_DIR = "JINGXIN_EVALUATION_SYSTEMS"


class ConfigError(ValueError):
    """A system or override file is invalid; the message names the file and the problem."""


class ReferenceRule(ConfigModel):
    """How the reference value (参照值) of an indicator is found for a year.

    `fixed` holds published values by data year (黄岩 publishes them per year); for any other
    year the value is `statistic` over `group`: the mean or median of the enterprises'
    indicator values, or sum-over-sum (Σ numerator ÷ Σ denominator, 合计口径) which needs a
    formula that is a division at its top.
    """

    fixed: dict[int, float] = {}
    statistic: Statistic = "mean"
    group: Group = "county"

    def fixed_for(self, year: int) -> float | None:
        return self.fixed.get(year)


class Indicator(ConfigModel):
    """One indicator (评价指标): a formula over warehouse facts, its unit, direction and weight.

    A weight of 0 makes an informational indicator: its value is computed, stored and shown,
    but it earns no points (used for 人才密度 and 研发人均 in the industry systems).
    `cap` (封顶) limits this indicator's points to `cap` × weight, overriding the system's
    `scoring.cap` for it.
    """

    id: str
    name: str
    formula: str
    unit: str = ""
    direction: Direction = "higher"
    weight: float = Field(ge=0)
    reference: ReferenceRule | None = None
    missing: MissingRule | None = None
    cap: float | None = Field(default=None, gt=0)
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"indicator id must be snake_case, got {value!r}")
        return value

    @field_validator("formula")
    @classmethod
    def _formula(cls, value: str) -> str:
        try:
            parse_formula(value)
        except FormulaError as exc:
            raise ValueError(str(exc)) from exc
        return value


class Scoring(ConfigModel):
    """The scoring method (计分方法), one per system.

    - `ratio` (黄岩): points = weight × value ÷ reference (reference ÷ value when lower is
      better). `floor` bounds value ÷ reference from below (0: a negative value added earns
      nothing rather than minus points; None: no floor); it is a multiple of the weight, so
      points stay proportional to weights. `cap`, when set, bounds it from above (points at
      most `cap` × weight); an indicator's own `cap` wins over it.
    - `ratio_capped`: the same, capped at `cap` × weight (the province's county digital-economy
      evaluation caps at 2 × weight).
    - `minmax` (旌德): weight × [minmax_floor + (100 − minmax_floor) × (x − min)/(max − min)] / 100
      within the reference group; everyone gets minmax_floor % of the weight, the best 100 %.
    - `benchmark` (淮安): the benchmark is `benchmark_multiple` × the reference statistic
      (÷ it when lower is better); points = weight × min(1, value ÷ benchmark).
    """

    method: Method = "ratio"
    cap: float | None = Field(default=None, gt=0)
    floor: float | None = 0.0
    minmax_floor: float = Field(default=20.0, ge=0, lt=100)
    benchmark_multiple: float = Field(default=2.0, gt=0)
    missing_group: Group = "county"

    @property
    def cap_multiple(self) -> float | None:
        """Points are capped at this multiple of the weight (None: no cap)."""
        if self.method == "ratio_capped":
            return self.cap or 2.0
        if self.method in ("minmax", "benchmark"):
            return 1.0
        return self.cap


class NotProducing(ConfigModel):
    """Enterprises not yet producing (未投产): no revenue and no tax in the year.

    They are left out while within `grace_years` of founding; older ones are "overdue" (逾期未
    投产) and are evaluated like everyone else, so idle land is scored, not hidden.
    """

    exclude: bool = True
    grace_years: int = Field(default=2, ge=0)


ParkKind = Literal["经开区", "高新区", "特色小镇", "小微企业园"]
PARK_KINDS: tuple[str, ...] = ("经开区", "高新区", "特色小镇", "小微企业园")


class ParkInclusion(ConfigModel):
    """Enterprises inside rated parks are evaluated whatever their land (园区企业纳入评价).

    County notices (遂昌 2022, 慈溪 2024) put enterprises of 4-star-and-above 小微企业园 in
    scope: they often rent standard factory floors and hold no parcel of their own, so the
    land rules (`require_land`, `min_land_mu`) do not apply to them. Membership and stars come
    from the ingested sources `park-members` and `parks` of the evaluation year (or the latest
    earlier year).
    """

    kinds: list[ParkKind] = ["小微企业园"]
    min_star: int = Field(default=4, ge=0, le=5)


class Population(ConfigModel):
    """Who is evaluated (评价范围).

    `scale`: 规上 (above), 规下 (below) or all; `min_land_mu`: 规下 are evaluated from 3 亩 (some
    counties 5); `include` / `exclude`: industry selectors, a section letter (``C``), a code
    (``13``, ``7010``) or both (``F51``, ``K7010``; the letter is documentation, the digits are
    matched as a prefix of the 4-digit industry code). Industry is GB/T 4754 sections B
    (采矿业), C (制造业) and D (电力、热力、燃气及水生产和供应业), as the notices define it.
    `merge_shared_parcels`: enterprises on one parcel (宗地) are merged into one evaluation unit
    that shares one result; the merge follows parcel links `merge_rounds` hops (2 covers
    A–P1–B–P2–C chains). The unit is led by its main enterprise (`unit_lead`): ``land_right``
    the holder of the land-use right (a parcel not acquired by 租赁; the largest such area,
    then the largest revenue), or ``revenue`` the largest by revenue; the unit's id, name,
    county, industry and scale are the lead's. `parks`: enterprises of rated parks included
    whatever their land (None: not); `tenants`: such enterprises without own land (无自有用地的
    租户) are ranked on a list of their own (``separate``) or left out (``exclude``).
    """

    level: Level = "enterprise"
    scale: Literal["above", "below", "all"] = "above"
    min_land_mu: float = Field(default=0.0, ge=0)
    require_land: bool = True
    include: list[str] = []
    exclude: list[str] = []
    excluded_statuses: list[str] = ["吊销", "注销", "迁出"]
    not_producing: NotProducing = NotProducing()
    merge_shared_parcels: bool = True
    merge_rounds: int = Field(default=2, ge=1, le=6)
    unit_lead: Literal["land_right", "revenue"] = "land_right"
    parks: ParkInclusion | None = None
    tenants: Literal["separate", "exclude"] = "separate"

    @field_validator("include", "exclude")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        for item in value:
            m = _SELECTOR.match(item)
            if not item or not m or not (m.group(1) or m.group(2)):
                raise ValueError(f"industry selector must be like C, 13, F51 or K7010, got {item!r}")
        return value


class CountyOverride(ConfigModel):
    """What a county may change (区县个性化参数)."""

    county: str | None = None
    note: str = ""
    weights: dict[str, float] = {}
    references: dict[str, dict[int, float]] = {}
    caps: dict[str, float] = {}
    """Cap per indicator as a multiple of its weight (封顶), as `Indicator.cap`."""
    shares: dict[str, float] | None = None
    thresholds: dict[str, float] | None = None
    deductions: Deductions | None = None
    policies: Policies | None = None
    vetoes: list[Veto] = []

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be ≥ 0")
        return value


class System(ConfigModel):
    """A complete evaluation system (评价体系) with its county overrides resolved."""

    id: str
    version: str
    title: str
    description: str = ""
    basis: list[str] = []
    population: Population = Population()
    indicators: list[Indicator]
    scoring: Scoring = Scoring()
    reference: ReferenceRule = ReferenceRule()
    missing: MissingRule = "zero"
    classes: ClassRule = ClassRule()
    deductions: Deductions = Deductions()
    vetoes: list[Veto] = []
    policies: Policies = Policies()
    leaders: Leaders = Leaders()
    overrides: dict[str, CountyOverride] = {}

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"system id must be snake_case, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> System:
        ids = [i.id for i in self.indicators]
        if len(set(ids)) != len(ids):
            raise ValueError("indicator ids must be unique")
        if not self.indicators or sum(i.weight for i in self.indicators) <= 0:
            raise ValueError("at least one indicator must have a positive weight")
        classes = set(self.classes.all_classes)
        park = self.population.level == "park"

        for ind in self.indicators:
            rule = self.reference_rule(ind)
            if rule.statistic == "sum_over_sum" and parse_formula(ind.formula).ratio is None:
                raise ValueError(f"{ind.id}: sum_over_sum needs a formula of the form a / b")
            if park and "industry" in rule.group:
                raise ValueError(f"{ind.id}: parks have no industry group")
            if not park and rule.group == "kind":
                raise ValueError(f"{ind.id}: the group 'kind' is for parks")
        for code, ov in self.overrides.items():
            if not _COUNTY.match(code):
                raise ValueError(f"override key must be a 6-digit county code, got {code!r}")
            unknown = (set(ov.weights) | set(ov.references) | set(ov.caps)) - set(ids)
            if unknown:
                raise ValueError(f"override {code}: unknown indicators {sorted(unknown)}")
            if ov.shares is not None:
                ClassRule(
                    method="shares", group=self.classes.group, shares=ov.shares, order=self.classes.order
                )
            if ov.thresholds is not None:
                ClassRule(
                    method="thresholds",
                    group=self.classes.group,
                    thresholds=ov.thresholds,
                    order=self.classes.order,
                )
        for veto in self.all_vetoes():
            if veto.class_ not in classes:
                raise ValueError(f"veto of {veto.credit_code}: unknown class {veto.class_!r}")
        pol = self.policies
        used = set(pol.land_tax_relief_pct) | set(pol.energy_quota_change_pct)
        used |= set(pol.priority_land) | set(pol.priority_funds)
        if pol.power_surcharge:
            used.add(pol.power_surcharge.class_)
        if used - classes:
            raise ValueError(f"policies name unknown classes {sorted(used - classes)}")
        return self

    # ---- derived views ------------------------------------------------------------------
    def reference_rule(self, indicator: Indicator) -> ReferenceRule:
        return indicator.reference or self.reference

    def missing_rule(self, indicator: Indicator) -> MissingRule:
        return indicator.missing or self.missing

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"指标 {indicator_id!r} 不在评价体系 {self.id} 中")

    @property
    def total_weight(self) -> float:
        return sum(i.weight for i in self.indicators)

    def all_vetoes(self) -> list[Veto]:
        out = list(self.vetoes)
        for ov in self.overrides.values():
            out.extend(ov.vetoes)
        return out

    def for_county(self, county_code: str) -> System:
        """This system as the county sees it: its overrides applied (without the others)."""
        ov = self.overrides.get(county_code)
        if ov is None:
            return self.model_copy(update={"overrides": {}})
        indicators = []
        for ind in self.indicators:
            update: dict[str, Any] = {}
            if ind.id in ov.weights:
                update["weight"] = ov.weights[ind.id]
            if ind.id in ov.caps:
                update["cap"] = ov.caps[ind.id]
            if ind.id in ov.references:
                rule = self.reference_rule(ind)
                update["reference"] = rule.model_copy(
                    update={"fixed": {**rule.fixed, **ov.references[ind.id]}}
                )
            indicators.append(ind.model_copy(update=update))
        classes = self.classes
        if ov.shares is not None:
            classes = classes.model_copy(update={"method": "shares", "shares": ov.shares})
        if ov.thresholds is not None:
            classes = classes.model_copy(update={"method": "thresholds", "thresholds": ov.thresholds})
        return self.model_copy(
            update={
                "indicators": indicators,
                "classes": classes,
                "deductions": ov.deductions or self.deductions,
                "policies": ov.policies or self.policies,
                "vetoes": [*self.vetoes, *ov.vetoes],
                "overrides": {},
            }
        )

    def with_changes(
        self, weights: Mapping[str, float] | None = None, scoring: Scoring | None = None
    ) -> System:
        """A copy with weights and/or scoring replaced everywhere (county overrides of weights
        are dropped when weights are given): the hook for sensitivity and uncertainty analysis."""
        update: dict[str, Any] = {}
        if weights is not None:
            unknown = set(weights) - {i.id for i in self.indicators}
            if unknown:
                raise KeyError(f"未知指标：{sorted(unknown)}")
            if any(float(w) < 0 for w in weights.values()):
                raise ValueError("权重不能为负")
            update["indicators"] = [
                i.model_copy(update={"weight": float(weights.get(i.id, i.weight))}) for i in self.indicators
            ]
            update["overrides"] = {
                code: ov.model_copy(update={"weights": {}}) for code, ov in self.overrides.items()
            }
        if scoring is not None:
            update["scoring"] = scoring
        return self.model_copy(update=update) if update else self

    # ---- identity -----------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_yaml(self) -> str:
        """The resolved configuration as YAML (what a run stores and can be reloaded from)."""
        return yaml.safe_dump(self.canonical(), allow_unicode=True, sort_keys=False)

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal configurations, equal hashes."""
        text = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- loading ------------------------------------------------------------------------------
def _search_dirs(systems_dir: Path | str | None) -> list[Path]:
    dirs: list[Path] = []
    for candidate in (systems_dir, os.environ.get(ENV_SYSTEMS_DIR)):
        if candidate:
            dirs.append(Path(candidate))
    dirs.append(Path(str(resources.files(PACKAGE_SYSTEMS).joinpath("systems"))))
    return dirs


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML 格式错误：{exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: 应为键值映射")
    return data


def list_systems(systems_dir: Path | str | None = None) -> list[str]:
    """Ids of the systems that can be loaded, in name order."""
    found: set[str] = set()
    for folder in _search_dirs(systems_dir):
        if folder.is_dir():
            found.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(found)


def load_system(name: str, systems_dir: Path | str | None = None, overrides: bool = True) -> System:
    """Load system `name` and its county overrides (see the module docstring for the order)."""
    dirs = _search_dirs(systems_dir)
    path = next((d / f"{name}.yaml" for d in dirs if (d / f"{name}.yaml").is_file()), None)
    if path is None:
        raise ConfigError(f"找不到评价体系 {name!r}；可用：{', '.join(list_systems(systems_dir))}")
    raw = _read_yaml(path)
    if raw.get("id", name) != name:
        raise ConfigError(f"{path}: id {raw.get('id')!r} 与文件名不符")
    raw["id"] = name
    found: dict[str, Any] = dict(raw.get("overrides") or {})
    if overrides:
        for folder in reversed(dirs):  # package first, so a deployment's file wins
            for file in sorted((folder / "overrides" / name).glob("*.yaml")):
                body = _read_yaml(file)
                if str(body.get("county", file.stem)) != file.stem:
                    raise ConfigError(f"{file}: county 与文件名不符")
                body["county"] = file.stem
                found[file.stem] = body
    raw["overrides"] = found
    try:
        return System.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@functools.lru_cache(maxsize=128)
def parse_system(text: str) -> System:
    """A system from YAML text (e.g. the resolved configuration stored with a run).

    Kept in memory by its text: pages ask for a run's system on every request, parsing costs
    tens of milliseconds, and a `System` is frozen, so sharing one is safe."""
    data = yaml.safe_load(text)
    return System.model_validate(data)


def fact_columns_help() -> dict[str, str]:
    """Column names a formula may use, with their Chinese meaning and unit."""
    return {name: f"{col.title}（{col.unit}）" for name, col in FACT_COLUMNS.items()}
