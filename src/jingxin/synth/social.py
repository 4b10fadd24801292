"""The 人社 department's monthly file of social insurance contributions (企业月度社保缴费), for
the cost-burden indicator 人均社保缴费 (减负降本).

Drawn from its own random stream per year (``social/<year>``) and written after every file that
existed before it, so adding it leaves every other generated file byte-identical.

Every figure below is a project assumption (DOMAIN.md gives no contribution figure; no
published Zhejiang base or rate is claimed):

- **who pays**: every enterprise operating in the year with a staff count (年平均职工人数 of its
  accounts), every month of the year;
- **insured staff (缴费人数)**: the staff count × a coverage share drawn once per enterprise and
  year, uniform between 80% and 100% (`COVERAGE`, the same range as the risk sources'
  `distress.INSURED_COVERAGE`), with a 2% month-to-month wobble; at least 1 person;
- **contribution base (缴费基数)**: `BASE_2021` = 6,000 元 per person and month in 2021, moving
  `BASE_GROWTH` = 5% a year, times an enterprise effect (lognormal, σ `BASE_SPREAD` = 0.25: some
  firms pay higher wages than others);
- **employer rate (单位费率)**: `EMPLOYER_RATE` = 25% of the base for pension, medical (with
  maternity), unemployment and work injury together;
- the temporary reductions of employer contributions in 2020 are **not** modelled: a 2020
  contribution follows the same rule as any other year.

So an enterprise pays about 6,000 × 25% × 12 = 18,000 元 per insured person in 2021; the
manifest's ``totals.social_insurance`` gives, per year, the enterprises, the insured
person-months, the contributions and the province's contributions per insured person-year
exactly as written (before defects), for the platform's indicator to be checked against.
"""

from __future__ import annotations

import numpy as np

from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, make_frame
from jingxin.synth.population import Population
from jingxin.synth.sources import per_month
from jingxin.synth.streams import Streams

COVERAGE = (0.8, 1.0)  # insured share of the staff count (project assumption)
BASE_2021 = 6000.0  # 元 per person and month, 2021 (project assumption)
BASE_GROWTH = 0.05  # a year (project assumption)
BASE_SPREAD = 0.25  # σ of the enterprise effect on the base (project assumption)
EMPLOYER_RATE = 0.25  # employer share of the base, all insurances together (project assumption)


def draw_social(year: int, pop: Population, acc: Accounts, streams: Streams) -> dict[str, np.ndarray]:
    """Per paying enterprise (`idx`, in credit-code order) × 12 months of `year`: insured staff
    and contributions (元)."""
    rng = streams("social", year)
    k = acc.index(year)
    staff = acc.employees[k]
    idx = np.flatnonzero(acc.active[k] & np.isfinite(staff) & (np.nan_to_num(staff) > 0))
    idx = idx[np.argsort(pop.credit_code[idx], kind="stable")]
    n = idx.shape[0]
    coverage = rng.uniform(*COVERAGE, n)
    wobble = rng.lognormal(0.0, 0.02, (n, 12))
    insured = np.maximum(1.0, np.round(staff[idx, None] * coverage[:, None] * wobble))
    base = BASE_2021 * (1 + BASE_GROWTH) ** (year - 2021) * rng.lognormal(0.0, BASE_SPREAD, n)
    contributions = np.round(insured * base[:, None] * EMPLOYER_RATE, 2)
    return {"idx": idx, "insured": insured, "contributions": contributions}


def social_frame(year: int, pop: Population, acc: Accounts, streams: Streams) -> Frame:
    """企业月度社保缴费: one row per paying enterprise and month."""
    d = draw_social(year, pop, acc, streams)
    return make_frame(
        "social-insurance",
        str(year),
        {
            **per_month(d["idx"], year, pop),
            "insured_count": d["insured"].ravel(),
            "contributions": d["contributions"].ravel(),
        },
    )


def social_truth(
    years: tuple[int, ...], pop: Population, acc: Accounts, streams: Streams
) -> dict[str, object]:
    """What the files hold per year, before defects (for the manifest's totals)."""
    out: dict[str, object] = {}
    for y in years:
        d = draw_social(y, pop, acc, streams)
        person_months = float(d["insured"].sum())
        total = float(d["contributions"].sum())
        out[str(y)] = {
            "enterprises": int(d["idx"].shape[0]),
            "insured_person_months": int(person_months),
            "contributions_yuan": round(total, 2),
            "per_insured_person_year_yuan": round(total / (person_months / 12), 2) if person_months else None,
        }
    return out
