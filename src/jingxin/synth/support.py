"""The 经信 department's file of 技改 investment, 首台（套） insurance and 专精特新 recognition
(企业技改投资与认定), for the enterprise policies.

Drawn from its own random stream per year (``support/<year>``), so adding it leaves every other
generated file byte-identical. Shares are project assumptions, loosely from DOMAIN.md: 5,000 key
技改 projects a year in a province of about 48,000 规上 industrial enterprises (§15, about 10%);
1,287 首台（套） items by 2020 with about 200 a year (§11, well under 1% of enterprises a year);
专精特新 a few percent of industrial SMEs at provincial level, a tenth of those national.
"""

from __future__ import annotations

import numpy as np

from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, make_frame
from jingxin.synth.population import Population
from jingxin.synth.streams import Streams

TECH_SHARE = 0.10  # of active 规上 industrial enterprises investing in 技改 (project assumption)
TECH_SHARE_BELOW = 0.02  # of active 规下 industrial enterprises (project assumption)
FIRST_SET_SHARE = 0.004  # of active 规上 industrial enterprises insuring a 首台（套） item
PROVINCIAL_SHARE = 0.03  # of active industrial enterprises recognised 省级专精特新 that year
NATIONAL_SHARE = 0.003  # 国家级专精特新"小巨人"
LEVELS = ("无", "省级专精特新", "国家级专精特新小巨人")


def draw_support(year: int, pop: Population, acc: Accounts, streams: Streams) -> dict[str, np.ndarray]:
    """Per enterprise for `year`: 技改 investment (万元, NaN = none), 首台（套） premium (万元,
    NaN = none) and recognition level (index into LEVELS)."""
    rng = streams("support", year)
    k = acc.index(year)
    n = pop.n
    industrial = acc.active[k] & ~pop.services
    above = industrial & pop.above_scale
    u = rng.random((3, n))
    invests = (above & (u[0] < TECH_SHARE)) | (industrial & ~pop.above_scale & (u[0] < TECH_SHARE_BELOW))
    # 技改 investment around 8% of revenue, at least 50 万元 (lognormal spread).
    amount = np.maximum(50.0, acc.revenue[k] * 0.08 * rng.lognormal(0.0, 0.6, n))
    tech = np.where(invests, np.round(amount, 2), np.nan)
    insured = above & (u[1] < FIRST_SET_SHARE)
    premium = np.where(insured, np.round(rng.lognormal(np.log(30.0), 0.7, n), 2), np.nan)
    level = np.zeros(n, dtype=np.int8)
    level[industrial & (u[2] < PROVINCIAL_SHARE)] = 1
    level[industrial & (u[2] < NATIONAL_SHARE)] = 2
    return {"tech": tech, "premium": premium, "level": level}


def support_frame(year: int, pop: Population, acc: Accounts, streams: Streams) -> Frame:
    """One row per enterprise with any of the three in `year`, in credit-code order."""
    d = draw_support(year, pop, acc, streams)
    who = ~np.isnan(d["tech"]) | ~np.isnan(d["premium"]) | (d["level"] > 0)
    idx = np.flatnonzero(who)
    idx = idx[np.argsort(pop.credit_code[idx], kind="stable")]
    return make_frame(
        "support",
        str(year),
        {
            "credit_code": pop.credit_code[idx],
            "year": np.full(idx.shape[0], str(year)),
            "tech_investment": d["tech"][idx],
            "first_set_premium": d["premium"][idx],
            "specialized_level": np.array(LEVELS)[d["level"][idx]],
        },
    )


def support_truth(
    years: tuple[int, ...], pop: Population, acc: Accounts, streams: Streams
) -> dict[str, object]:
    """What the support files hold, per year (for the manifest's totals)."""
    out: dict[str, object] = {}
    for y in years:
        d = draw_support(y, pop, acc, streams)
        out[str(y)] = {
            "tech_investing": int((~np.isnan(d["tech"])).sum()),
            "tech_investment_wan": round(float(np.nansum(d["tech"])), 2),
            "first_set_insured": int((~np.isnan(d["premium"])).sum()),
            "specialized_provincial": int((d["level"] == 1).sum()),
            "specialized_national": int((d["level"] == 2).sum()),
        }
    return out
