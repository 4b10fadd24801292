"""海关 企业月度出口数据 (customs exports by enterprise, month and trade mode).

Who: every industrial enterprise (规上 or not) operating in the year that exports (export
share > 0 in the accounts). What: the year's exports (营业收入 × export share, the same share as
the 快报's 出口交货值) split by month with the output seasonality and the real events of
:mod:`.events`, then shifted by shipment timing: customs records a shipment when it is
declared, not when the goods are made, so each month gets its own noise (lognormal σ 0.25,
project assumption). The split by 贸易方式: 一般贸易 78%, 加工贸易 12%, 其他 10% on average
(project assumption near Zhejiang's general-trade-dominated exports; no per-enterprise figure
is published), with each enterprise's own mix. Drawn from the stream ("customs", year) only,
so every other file of a seed is unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, arrow_text, make_frame
from jingxin.synth.population import Population
from jingxin.synth.series import split_by_month
from jingxin.synth.streams import Streams

MODES = np.array(["一般贸易", "加工贸易", "其他贸易"])
MODE_SHARES = (0.78, 0.12, 0.10)  # assumption, see module docstring
TIMING_NOISE = 0.25


def customs_frame(year: int, pop: Population, acc: Accounts, streams: Streams) -> Frame:
    from jingxin.synth.sources import _months, _with_events

    rng = streams("customs", year)
    k = acc.index(year)
    idx = np.flatnonzero(acc.active[k] & ~pop.services & (acc.export_share > 0))
    annual = np.nan_to_num(acc.revenue[k][idx]) * acc.export_share[idx]
    monthly = split_by_month(annual, year, rng, kind="output", noise=TIMING_NOISE)
    monthly = _with_events(monthly, acc, idx, year, "output")
    mix = rng.dirichlet(np.array(MODE_SHARES) * 8, size=idx.shape[0])  # each enterprise's own mix
    mix = np.where(mix < 0.03, 0.0, mix)  # a mode below 3% is not used at all
    mix /= mix.sum(axis=1, keepdims=True)
    # rows: enterprise × month × mode, dropping modes the enterprise does not use
    n = idx.shape[0]
    ent = np.repeat(np.arange(n), 12 * 3)
    mon = np.tile(np.repeat(np.arange(12), 3), n)
    mode = np.tile(np.arange(3), n * 12)
    amount = monthly[ent, mon] * mix[ent, mode]
    keep = amount > 0.005
    ent, mon, mode, amount = ent[keep], mon[keep], mode[keep], amount[keep]
    codes = arrow_text(pop.credit_code[idx]).take(pa.array(ent))
    months = arrow_text(_months(year)).take(pa.array(mon))
    return make_frame(
        "customs",
        str(year),
        {
            "credit_code": codes,
            "month": months,
            "trade_mode": MODES[mode],
            "export_amount": np.round(amount, 2),
        },
    )
