"""A scenario (情景): what an analyst changes in one county's evaluation, and nothing else.

Every field left out keeps the county's official value (its system with its override file).
The fields are exactly the numbers a county may set (`config.CountyOverride`): weights, fixed
reference values of the year, per-indicator caps, class shares or thresholds, and the policy
table (land-tax relief by class, the surcharge per kWh of each step). Adopting a scenario
(`store.adopt`) writes them as the county's override file.

Structural rules (the reference statistic and group, the class group, the scoring method) are
the province's and not part of a scenario: they decide which enterprises are compared with
which, and one county changing them would no longer be comparable with the others.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jingxin.evaluation.config import CountyOverride, System
from jingxin.evaluation.config_classes import ClassRule
from jingxin.evaluation.config_policies import Policies


class ScenarioError(ValueError):
    """A scenario that does not fit the system (message in Chinese, naming the field)."""


class Scenario(BaseModel):
    """Changes to one county's parameters for one year (情景参数)."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float] = Field(default_factory=dict)
    """Weight per indicator id (权重)."""
    references: dict[str, float | None] = Field(default_factory=dict)
    """Fixed reference value of the year per indicator (参照值); None: the county's own level."""
    caps: dict[str, float] = Field(default_factory=dict)
    """Cap per indicator as a multiple of its weight (封顶倍数)."""
    shares: dict[str, float] | None = None
    """Class shares in % (分类比例), best class first, summing to 100."""
    thresholds: dict[str, float] | None = None
    """Lowest total of each class but the last (分类分数线); replaces shares."""
    land_tax_relief_pct: dict[str, float] | None = None
    """城镇土地使用税 relief in % per class."""
    surcharge_yuan_per_kwh: list[float] | None = None
    """差别化电价 per step (元/千瓦时), one number per configured step."""

    def is_empty(self) -> bool:
        return self == Scenario()


def _check_ids(system: System, ids: set[str], what: str) -> None:
    unknown = ids - {i.id for i in system.indicators}
    if unknown:
        raise ScenarioError(f"{what}：评价体系 {system.id} 没有指标 {', '.join(sorted(unknown))}")


def apply(system: System, county: str, year: int, scenario: Scenario) -> System:
    """The county's system (`System.for_county`) with the scenario's changes."""
    base = system.for_county(county)
    _check_ids(base, set(scenario.weights) | set(scenario.references) | set(scenario.caps), "指标")
    for ind_id, w in scenario.weights.items():
        if w < 0:
            raise ScenarioError(f"权重 {ind_id}：不能为负（{w}）")
    for ind_id, cap in scenario.caps.items():
        if cap <= 0:
            raise ScenarioError(f"封顶倍数 {ind_id}：应大于 0（{cap}）")
    if sum(scenario.weights.get(i.id, i.weight) for i in base.indicators) <= 0:
        raise ScenarioError("权重：至少一个指标的权重应大于 0")
    indicators = []
    for ind in base.indicators:
        update: dict[str, Any] = {}
        if ind.id in scenario.weights:
            update["weight"] = float(scenario.weights[ind.id])
        if ind.id in scenario.references:
            rule = base.reference_rule(ind)
            fixed = {y: v for y, v in rule.fixed.items() if y != year}
            value = scenario.references[ind.id]
            if value is not None:
                if value <= 0:
                    raise ScenarioError(f"参照值 {ind.id}：应大于 0（{value}）")
                fixed[year] = float(value)
            update["reference"] = rule.model_copy(update={"fixed": fixed})
        if ind.id in scenario.caps:
            update["cap"] = float(scenario.caps[ind.id])
        indicators.append(ind.model_copy(update=update))
    classes = base.classes
    try:
        if scenario.thresholds is not None:
            classes = ClassRule.model_validate(
                {**classes.model_dump(), "method": "thresholds", "thresholds": scenario.thresholds}
            )
        elif scenario.shares is not None:
            classes = ClassRule.model_validate(
                {**classes.model_dump(), "method": "shares", "shares": scenario.shares}
            )
    except ValidationError as exc:
        raise ScenarioError(f"分类比例或分数线：{_first(exc)}") from exc
    policies = base.policies
    if scenario.land_tax_relief_pct is not None:
        bad = set(scenario.land_tax_relief_pct) - set(classes.all_classes)
        if bad or any(not 0 <= v <= 100 for v in scenario.land_tax_relief_pct.values()):
            raise ScenarioError(
                "城镇土地使用税减免：类别应为 " + "、".join(classes.all_classes) + "，比例在 0–100 之间"
            )
        policies = policies.model_copy(update={"land_tax_relief_pct": dict(scenario.land_tax_relief_pct)})
    if scenario.surcharge_yuan_per_kwh is not None:
        sur = policies.power_surcharge
        if sur is None or len(sur.steps) != len(scenario.surcharge_yuan_per_kwh):
            n = 0 if sur is None else len(sur.steps)
            raise ScenarioError(f"差别化电价：该体系有 {n} 档，应给出 {n} 个加价（元/千瓦时）")
        if any(v < 0 for v in scenario.surcharge_yuan_per_kwh):
            raise ScenarioError("差别化电价：加价不能为负")
        steps = [
            s.model_copy(update={"yuan_per_kwh": float(v)})
            for s, v in zip(sur.steps, scenario.surcharge_yuan_per_kwh, strict=True)
        ]
        policies = policies.model_copy(update={"power_surcharge": sur.model_copy(update={"steps": steps})})
    try:
        return System.model_validate(
            {
                **base.model_dump(by_alias=True),
                "indicators": [i.model_dump(by_alias=True) for i in indicators],
                "classes": classes.model_dump(by_alias=True),
                "policies": policies.model_dump(by_alias=True),
            }
        )
    except ValidationError as exc:
        raise ScenarioError(_first(exc)) from exc


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}：{err.get('msg', '')}" if where else str(err.get("msg", ""))


def to_override(system: System, county: str, year: int, scenario: Scenario, note: str = "") -> CountyOverride:
    """The county's override with the scenario folded in (what adopting it writes)."""
    changed = apply(system, county, year, scenario)
    current = system.overrides.get(county) or CountyOverride(county=county)
    weights = dict(current.weights)
    refs = {k: dict(v) for k, v in current.references.items()}
    caps = dict(current.caps)
    for ind in changed.indicators:
        if ind.id in scenario.weights:
            weights[ind.id] = ind.weight
        if ind.id in scenario.references:
            years = refs.setdefault(ind.id, {})
            years.pop(year, None)
            if scenario.references[ind.id] is not None:
                years[year] = float(scenario.references[ind.id])  # type: ignore[arg-type]
            if not years:
                refs.pop(ind.id)
        if ind.id in scenario.caps:
            caps[ind.id] = float(scenario.caps[ind.id])
    update: dict[str, Any] = {"county": county, "weights": weights, "references": refs, "caps": caps}
    if scenario.thresholds is not None:
        update.update(thresholds=dict(scenario.thresholds), shares=None)
    elif scenario.shares is not None:
        update.update(shares=dict(scenario.shares), thresholds=None)
    if scenario.land_tax_relief_pct is not None or scenario.surcharge_yuan_per_kwh is not None:
        update["policies"] = Policies.model_validate(changed.policies.model_dump(by_alias=True))
    if note:
        update["note"] = note
    return current.model_copy(update=update)
