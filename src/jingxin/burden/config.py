"""The cost-burden configuration (`burden.yaml`), validated by pydantic."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

PATH = Path(__file__).parent / "burden.yaml"
DECISIONS = {"stop": "停止实施", "extend": "延续期限", "keep": "长期有效"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyDef(_Strict):
    title: str
    negative: bool = False


class StopRule(_Strict):
    max_uptake: float = Field(ge=0, le=1)
    max_effect_pp: float


class KeepRule(_Strict):
    min_uptake: float = Field(ge=0, le=1)
    min_effect_pp: float
    max_cost_per_beneficiary: float = Field(gt=0)


class Review(_Strict):
    stop: StopRule
    keep: KeepRule


class BurdenConfig(_Strict):
    electricity_price_yuan_per_kwh: float = Field(gt=0)
    land_tax_yuan_per_m2: float = Field(ge=0)
    m2_per_mu: float = Field(gt=0)
    policies: dict[str, PolicyDef]
    review: Review

    def classify(self, uptake: float, effect_pp: float | None, cost_per_beneficiary: float | None) -> str:
        """stop / extend / keep from the configured criteria (effect unknown: never keep)."""
        s, k = self.review.stop, self.review.keep
        if uptake <= s.max_uptake or (effect_pp is not None and effect_pp <= s.max_effect_pp):
            return "stop"
        if (
            uptake >= k.min_uptake
            and effect_pp is not None
            and effect_pp >= k.min_effect_pp
            and cost_per_beneficiary is not None
            and cost_per_beneficiary <= k.max_cost_per_beneficiary
        ):
            return "keep"
        return "extend"


@functools.cache
def load_config(path: Path = PATH) -> BurdenConfig:
    return BurdenConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
