"""What adjusts a class or follows from it, as configured in an indicator system: sublet
deductions (扣分), vetoes (一票否决), differentiated policies by class (差别化政策, with the
differentiated electricity price 差别化电价) and the 亩均效益领跑者 leaders.

Part of the system file's model (`config.System`); kept apart because these are the rules a
county changes most (with `config.CountyOverride`) and the ones the policy step reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ConfigModel(BaseModel):
    """The base of every configuration model: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Deductions(ConfigModel):
    """Deductions (扣分) for sublet tenants (出租转租), 温岭 style.

    With n tenants beyond `free_tenants`: first + (n − 1) × further points. 规上: 5 and 5;
    规下: 10 and 5. Counts come from the optional input table `sublets`.
    """

    sublet_first: float = Field(default=0.0, ge=0)
    sublet_further: float = Field(default=0.0, ge=0)
    free_tenants: int = Field(default=0, ge=0)

    def points(self, tenants: int) -> float:
        extra = tenants - self.free_tenants
        return 0.0 if extra <= 0 else self.sublet_first + (extra - 1) * self.sublet_further


class Veto(ConfigModel):
    """A named override (一票否决) forcing a class, e.g. a major safety or environmental accident."""

    credit_code: str
    year: int | None = None
    class_: str = Field(alias="class")
    reason: str = Field(min_length=1)


class SurchargeStep(ConfigModel):
    """From `min_years` consecutive years in the class on, `yuan_per_kwh` is added to the price."""

    min_years: int = Field(ge=1)
    yuan_per_kwh: float = Field(ge=0)


class PowerSurcharge(ConfigModel):
    """Differentiated electricity price (差别化电价) for one class, escalating with consecutive years.

    Default (海宁 2025 draft citing 浙政办发〔2019〕62号): D pays 0.3 元/kWh, 0.4 from the third
    consecutive D year. Shandong (0.05/0.10/0.15) or 苏州 schedules are the same shape.
    """

    class_: str = Field(default="D", alias="class")
    steps: list[SurchargeStep] = [
        SurchargeStep(min_years=1, yuan_per_kwh=0.3),
        SurchargeStep(min_years=3, yuan_per_kwh=0.4),
    ]

    @field_validator("steps")
    @classmethod
    def _sorted(cls, value: list[SurchargeStep]) -> list[SurchargeStep]:
        years = [s.min_years for s in value]
        if years != sorted(set(years)):
            raise ValueError("surcharge steps must have increasing min_years")
        return value

    def rate(self, years: int) -> float | None:
        hit = [s.yuan_per_kwh for s in self.steps if years >= s.min_years]
        return hit[-1] if hit else None


class Policies(ConfigModel):
    """Differentiated policies by class (差别化政策).

    `land_tax_relief_pct`: 城镇土地使用税 relief for manufacturers, 浙政办发〔2019〕62号: A 100 %,
    B 80 %, C and D none. `energy_quota_change_pct`: the cut of energy-use quotas (用能指标) of C
    and D; the notices say "cut" without a figure, so −10 % and −20 % are project defaults.
    `priority_land` / `priority_funds`: classes that get priority for land and funds (A).
    A+ gets what A gets unless it is listed itself.
    """

    land_tax_relief_pct: dict[str, float] = {}
    power_surcharge: PowerSurcharge | None = None
    energy_quota_change_pct: dict[str, float] = {}
    priority_land: list[str] = []
    priority_funds: list[str] = []


class Leaders(ConfigModel):
    """亩均效益领跑者: top-N per key industry. A key industry is a flagship chain (by id, see
    `jingxin.reference.chains()`), a cluster, or an explicit list of industry code prefixes."""

    top_n: int = Field(default=10, ge=1)
    chains: list[str] | Literal["all"] = "all"
    industries: dict[str, list[str]] = {}
