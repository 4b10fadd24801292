"""The due date of an amount owed to an SME (付款期限), by the regulation's rule.

- 机关、事业单位 (government bodies, public institutions): 30 days from delivery; a contract
  may agree otherwise, but never beyond 60 days (a longer term is capped at 60 and noted).
- 大型企业 (large enterprises): 60 days from delivery under 802号; a contract's own term counts
  (no fixed cap in the text). Under 728号 the regulation gives no figure; the project default
  (60 days) applies where the contract is silent.
- The regime is the one in force on the day the contract was signed (`terms.yaml`).
- Counting: the due date is delivery + N calendar days; the debt is overdue from the next day
  (on the due date itself it is still on time). Natural days, as the regulation counts them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

DebtorKind = Literal["government", "institution", "large"]
KIND_LABELS: dict[str, str] = {"government": "机关", "institution": "事业单位", "large": "大型企业"}
TERMS_PATH = Path(__file__).parent / "terms.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KindTerms(_Strict):
    days: int = Field(ge=1, le=365)
    cap: int | None = Field(default=None, ge=1, le=365)
    days_source: str | None = None


class Regime(_Strict):
    id: str
    title: str
    effective_from: date
    kinds: dict[DebtorKind, KindTerms]


class Terms(_Strict):
    regimes: list[Regime]

    def regime_on(self, signed_on: date) -> Regime:
        found = [
            r for r in sorted(self.regimes, key=lambda r: r.effective_from) if r.effective_from <= signed_on
        ]
        if not found:
            first = min(r.effective_from for r in self.regimes)
            raise ValueError(f"合同签订日期 {signed_on} 早于条例施行日期 {first}，不适用本条例的付款期限")
        return found[-1]


@functools.cache
def load_terms(path: Path = TERMS_PATH) -> Terms:
    return Terms.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Due:
    due_date: date
    days: int
    rule: str
    capped: bool


def due_date(
    kind: str,
    signed_on: date,
    delivered_on: date,
    contract_days: int | None = None,
    terms: Terms | None = None,
) -> Due:
    """When a debt of a `kind` debtor falls due, and the rule that says so (in Chinese)."""
    if kind not in KIND_LABELS:
        raise ValueError(f"欠款方类型须为{'、'.join(KIND_LABELS.values())}之一")
    if contract_days is not None and contract_days < 0:
        raise ValueError("合同约定付款期限不能为负数")
    regime = (terms or load_terms()).regime_on(signed_on)
    t = regime.kinds[kind]  # type: ignore[index]
    label = KIND_LABELS[kind]
    if contract_days is None:
        source = f"（{t.days_source}）" if t.days_source else ""
        days, capped = t.days, False
        rule = f"{regime.title}：{label}自交付之日起{t.days}日内支付{source}"
    elif t.cap is not None and contract_days > t.cap:
        days, capped = t.cap, True
        rule = f"{regime.title}：合同约定{contract_days}日超过{label}最长{t.cap}日，按{t.cap}日计"
    else:
        days, capped = contract_days, False
        rule = f"{regime.title}：按合同约定自交付之日起{contract_days}日内支付"
    return Due(delivered_on + timedelta(days=days), days, rule, capped)


def is_overdue(due: date, as_of: date) -> bool:
    """Overdue from the day after the due date."""
    return as_of > due
