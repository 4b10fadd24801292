"""How an indicator system sorts enterprises into classes (分类规则): by shares of the rank
within a group or by thresholds, the optional A+ (领跑示范类) within A, and the pooling of small
groups (小组合并) so that no class vanishes by rounding.

Part of the system file's model (`config.System.classes`); kept apart because a county argues
about these numbers most (class shares, "what if D is 8%?") and `classes` reads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from jingxin.evaluation.config_policies import ConfigModel

Group = Literal["province", "city", "county", "county_industry", "province_industry", "kind"]
"""The groupings (分组口径) of references, min–max ranges and classes (`config.GROUP_COLUMNS`)."""

CLASS_LABELS_DEFAULT = {
    "A+": "领跑示范类",
    "A": "优先发展类",
    "B": "提升发展类",
    "C": "调控帮扶类",
    "D": "倒逼整治类",
}


class APlus(ConfigModel):
    """Optional A+ (领跑示范类): the top `share` % of a group, or totals ≥ `threshold`, within A."""

    share: float | None = Field(default=None, gt=0, le=100)
    threshold: float | None = None

    @model_validator(mode="after")
    def _one(self) -> APlus:
        if (self.share is None) == (self.threshold is None):
            raise ValueError("a_plus needs exactly one of share or threshold")
        return self


PoolLevel = Literal["county", "city", "province"]

POOL_NAMES = {
    "county": "本县（市、区）小组合并",
    "city": "本市小组合并",
    "province": "全省小组合并",
}


class Pooling(ConfigModel):
    """Pooling of small class groups (小组合并), so that no class vanishes by rounding.

    With shares 20/60/15/5 a group of fewer than 11 units gets no D (5 % of 10 is 0.5, and
    10 − round(9.5) = 0): in a county of many small industries D would vanish altogether.
    A group with fewer than `min_size` units is therefore pooled with the other small groups
    of the same county (`within` lists the levels tried, narrowest first); a pool still smaller
    than `min_size` is pooled again at the next level (the city's small remainder). Units of a
    group of at least `min_size` are never pooled. `min_size: 0` switches pooling off (the
    default of a system that says nothing); the shipped systems pool below 20 units within the
    county, then the city (project default: no notice on small groups was found).
    """

    min_size: int = Field(default=20, ge=0)
    within: list[PoolLevel] = ["county", "city"]

    @field_validator("within")
    @classmethod
    def _levels(cls, value: list[PoolLevel]) -> list[PoolLevel]:
        order = ["county", "city", "province"]
        if [order.index(v) for v in value] != sorted({order.index(v) for v in value}):
            raise ValueError("pooling levels must go from narrow to wide: county, city, province")
        return value


class ClassRule(ConfigModel):
    """Classes (分类): by shares of the rank within a group (温岭: within industry) or by thresholds.

    `shares` lists the classes best first with their percentage (summing to 100); the count of
    a class is the rounded cumulative share minus the rounded previous one, so each class holds
    its share within one enterprise. Small groups are pooled first (`pooling`, see `Pooling`).
    `thresholds` gives the lowest total of each class but the last.
    """

    method: Literal["shares", "thresholds"] = "shares"
    group: Group = "county_industry"
    pooling: Pooling = Pooling(min_size=0)
    shares: dict[str, float] = {"A": 20, "B": 60, "C": 15, "D": 5}
    thresholds: dict[str, float] = {}
    order: list[str] = ["A", "B", "C", "D"]
    a_plus: APlus | None = None
    labels: dict[str, str] = {k: v for k, v in CLASS_LABELS_DEFAULT.items() if k != "A+"}

    @model_validator(mode="after")
    def _check(self) -> ClassRule:
        if "A+" in self.order:
            raise ValueError("A+ is configured with a_plus, not in order")
        if self.method == "shares":
            if list(self.shares) != self.order:
                raise ValueError(f"shares must list the classes {self.order} in order")
            if abs(sum(self.shares.values()) - 100) > 1e-6 or min(self.shares.values()) < 0:
                raise ValueError("class shares must be ≥ 0 and sum to 100")
        else:
            if list(self.thresholds) != self.order[:-1]:
                raise ValueError(f"thresholds must give the classes {self.order[:-1]} in order")
            values = list(self.thresholds.values())
            if values != sorted(values, reverse=True):
                raise ValueError("thresholds must decrease from the best class")
        return self

    @property
    def all_classes(self) -> list[str]:
        return (["A+"] if self.a_plus else []) + list(self.order)

    def label(self, cls: str) -> str:
        return self.labels.get(cls) or CLASS_LABELS_DEFAULT.get(cls, cls)

    @property
    def pool_levels(self) -> list[str]:
        """The pooling levels that are wider than the group (others are skipped: a county
        group cannot be pooled "within the county"); empty when pooling is off."""
        if self.pooling.min_size <= 0:
            return []
        wider = {
            "county_industry": ("county", "city", "province"),
            "county": ("city", "province"),
            "city": ("province",),
            "province": (),
        }.get(self.group, ("province",))
        return [level for level in self.pooling.within if level in wider]

    def cumulative_shares(self) -> dict[str, float]:
        out, total = {}, 0.0
        for cls in self.order:
            total += self.shares[cls]
            out[cls] = total
        return out
