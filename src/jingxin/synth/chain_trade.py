"""Chain-structured VAT invoice flows (产业链发票流向) with known local shares (`--chains`).

With the option on, the invoice files are drawn here instead of :mod:`.invoices`: every member
of a flagship chain segment (by industry code, `jingxin/chains/data/segments.yaml`) buys the
goods of the segment before its own (upstream buys upstream goods) from a few suppliers each;
a supplier slot is outside the province with the segment's outside share, else in the buyer's
county with the county's affinity, else in its city, else elsewhere in the province (falling
back to a wider ring when a ring has no seller of the goods). Injected on purpose and recorded
in the manifest under ``chains``:

* weak links (薄弱环节): a few (chain, segment) pairs whose purchases come mostly from outside
  the province;
* single-supplier dependencies (单一供应商依赖): buyers that buy one goods from one supplier;
* cross-industry sellers: enterprises outside a chain's industry codes that sell its goods
  (membership must be read from their invoices);
* switches (产业精准合作 truth): from July of the last year, some outside purchases move to an
  in-province seller of the same goods, chosen by size and nearness (held-back trade for the
  matching evaluation).

The realised local rates (本地配套率) per year by chain, county, chain × county and segment are
computed on the generated amounts before defects. Every rate and share here is the project's
own assumption (no published figure of Zhejiang's local supporting rates was found).
Streams: ``chain-trade`` and ``chain-invoices/<year>``, so every other file is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, arrow_text, make_frame
from jingxin.synth.invoices import CATEGORY
from jingxin.synth.population import Population, credit_codes
from jingxin.synth.series import month_weights
from jingxin.synth.streams import Streams

# Project assumptions (stated in docs/chains.md).
INPUT_SHARE = 0.30  # a buyer's purchases of chain inputs / its revenue
OUTSIDE_SHARE = (0.08, 0.30)  # ordinary segment: share of supplier slots outside the province
WEAK_OUTSIDE = (0.72, 0.88)  # injected weak link
WEAK_LINKS = 3  # injected weak (chain, segment) pairs
COUNTY_AFFINITY = (0.25, 0.65)  # of in-province slots, the share inside the buyer's county
CITY_AFFINITY = (0.30, 0.60)  # of the rest, the share inside the buyer's city
SUPPLIERS = (2, 5)  # suppliers per (buyer, goods): 2–4
SINGLE_SUPPLIER = 0.03  # (buyer, goods) pairs made to depend on one supplier (at least 4)
SWITCH_SHARE = 0.25  # outside (buyer, goods) slots that move to an in-province seller in H2
CROSS_SELLERS = 2  # per chain, enterprises outside its codes that sell its upstream goods
# Outside-province registration divisions (GB/T 2260) of the outside suppliers: Shanghai
# Pudong, Suzhou, Shenzhen Nanshan, Qingdao, Beijing Haidian, Xiamen, Wuhan, Chengdu, Hefei.
OUTSIDE_DIVISIONS = ("310115", "320505", "440305", "370212", "110108", "350206", "420111", "510107", "340104")
OUTSIDE_PER_GOODS = 4
SPECS = ("", "", " 标准型", " A级", " XK-2031", "（定制）")  # goods-name variants on e-invoices


@dataclass
class ChainTrade:
    """Supply links: parallel arrays, one per (buyer, goods, supplier slot)."""

    buyer: np.ndarray  # population index
    seller_code: np.ndarray  # U18; outside sellers are not in the population
    seller_idx: np.ndarray  # population index, -1 outside the province
    goods: np.ndarray  # U goods name on the invoice
    keyword: np.ndarray  # the segment keyword the goods name carries
    chain: np.ndarray  # chain id of the goods
    segment: np.ndarray
    share: np.ndarray  # of the buyer's revenue per year
    month_prob: np.ndarray
    first_month: np.ndarray  # 0-based month index over all years, inclusive
    last_month: np.ndarray  # inclusive
    truth: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)  # year → realised local rates


def _segments() -> list[tuple[str, str, int, tuple[str, ...], tuple[str, ...]]]:
    from jingxin.chains.definitions import definitions

    return [
        (c.id, s.id, k, s.industry_codes, s.keywords)
        for c in definitions().chains
        for k, s in enumerate(c.segments)
    ]


def build_chain_trade(pop: Population, acc: Accounts, streams: Streams) -> ChainTrade:
    rng = streams("chain-trade")
    segs = _segments()
    n_years = len(pop.years)
    months_total = 12 * n_years
    switch_month = months_total - 6  # July of the last year
    size = np.sqrt(np.maximum(pop.base_revenue, 1.0))
    city = np.array([c[:4] for c in pop.county_code])
    active_any = acc.active.any(axis=0)

    seg_of = np.full(pop.n, -1)  # first matching segment per enterprise (chains do not overlap)
    for k, (_, _, _, codes, _) in enumerate(segs):
        hit = np.zeros(pop.n, dtype=bool)
        for code in codes:
            hit |= np.strings.startswith(pop.industry_code, code)
        seg_of = np.where((seg_of < 0) & hit & active_any, k, seg_of)

    # Sellers of each keyword: members of the keyword's segment sell their main keyword and
    # sometimes the next one; cross-industry sellers sell one upstream keyword of a chain.
    kw_list = [(k, kw) for k, s in enumerate(segs) for kw in s[4]]
    kw_index = {(k, kw): j for j, (k, kw) in enumerate(kw_list)}
    sellers: dict[int, list[int]] = {j: [] for j in range(len(kw_list))}
    for k, s in enumerate(segs):
        members = np.flatnonzero(seg_of == k)
        kws = s[4]
        main = rng.integers(0, len(kws), members.shape[0])
        second = rng.random(members.shape[0]) < 0.3
        for e, m, two in zip(members.tolist(), main.tolist(), second.tolist(), strict=True):
            sellers[kw_index[(k, kws[m])]].append(e)
            if two and len(kws) > 1:
                sellers[kw_index[(k, kws[(m + 1) % len(kws)])]].append(e)
    goods_members = []
    outsiders = np.flatnonzero((seg_of < 0) & ~pop.services & active_any & pop.above_scale)
    taken: set[int] = set()
    chain_ids = list(dict.fromkeys(s[0] for s in segs))
    for cid in chain_ids:
        k_up = next(k for k, s in enumerate(segs) if s[0] == cid and s[2] == 0)
        pool = [e for e in outsiders.tolist() if e not in taken]
        for e in rng.choice(pool, min(CROSS_SELLERS, len(pool)), replace=False).tolist():
            taken.add(e)
            kw = segs[k_up][4][int(rng.integers(0, len(segs[k_up][4])))]
            sellers[kw_index[(k_up, kw)]].append(e)
            goods_members.append(
                {
                    "credit_code": str(pop.credit_code[e]),
                    "industry_code": str(pop.industry_code[e]),
                    "chain": cid,
                    "segment": segs[k_up][1],
                    "keyword": kw,
                }
            )

    # Outside suppliers: a few per keyword, registered in other provinces.
    n_out = len(kw_list) * OUTSIDE_PER_GOODS
    out_div = np.array(OUTSIDE_DIVISIONS)[rng.integers(0, len(OUTSIDE_DIVISIONS), n_out)]
    out_codes = credit_codes(out_div, streams("chain-trade", "outside")).reshape(
        len(kw_list), OUTSIDE_PER_GOODS
    )
    out_size = rng.lognormal(0, 1, (len(kw_list), OUTSIDE_PER_GOODS))

    # Outside share per segment; weak links among segments that have in-province sellers.
    outside = rng.uniform(*OUTSIDE_SHARE, len(segs))
    has_local = np.array(
        [sum(len(sellers[kw_index[(k, kw)]]) for kw in s[4]) >= 3 for k, s in enumerate(segs)]
    )

    # Goods of segment k are bought by the next segment of the same chain (and upstream by itself).
    def buyers_of(k: int) -> int:
        nxt = k + 1 if k + 1 < len(segs) and segs[k + 1][0] == segs[k][0] else -1
        own = segs[k][2] == 0
        return int(((seg_of == nxt) | (own & (seg_of == k))).sum()) if nxt >= 0 or own else 0

    bought = np.array([buyers_of(k) for k in range(len(segs))])
    eligible = np.flatnonzero(has_local & (bought >= 4))
    weak: np.ndarray = (
        rng.choice(eligible, min(WEAK_LINKS, eligible.shape[0]), replace=False)
        if eligible.size
        else np.array([], dtype=int)
    )
    for k in weak:
        outside[k] = rng.uniform(*WEAK_OUTSIDE)
    counties = np.unique(pop.county_code)
    aff_county = dict(
        zip(
            counties.tolist(),
            np.asarray(rng.uniform(COUNTY_AFFINITY[0], COUNTY_AFFINITY[1], size=counties.shape[0])).tolist(),
            strict=True,
        )
    )
    aff_city = dict(
        zip(
            counties.tolist(),
            np.asarray(rng.uniform(CITY_AFFINITY[0], CITY_AFFINITY[1], size=counties.shape[0])).tolist(),
            strict=True,
        )
    )

    rows: dict[str, list] = {
        k: [] for k in ("buyer", "seller_idx", "seller_code", "goods", "kw", "seg", "share", "first", "last")
    }
    singles, switches = [], []

    def pick_local(j: int, b: int, ring: str, local_sellers: np.ndarray) -> int:
        if ring == "county":
            cand = local_sellers[pop.county_code[local_sellers] == pop.county_code[b]]
        elif ring == "city":
            cand = local_sellers[city[local_sellers] == city[b]]
        else:
            cand = local_sellers
        cand = cand[cand != b]
        if cand.size == 0:
            return -1
        w = size[cand] / size[cand].sum()
        return int(rng.choice(cand, p=w))

    def add(b: int, s_idx: int, s_code: str, goods: str, k: int, share: float, first: int, last: int) -> None:
        for key, v in zip(rows, (b, s_idx, s_code, goods, kw, k, share, first, last), strict=True):
            rows[key].append(v)

    for b in np.flatnonzero(seg_of >= 0).tolist():
        kb = int(seg_of[b])
        k = kb if segs[kb][2] == 0 else kb - 1  # the input segment
        kws = segs[k][4]
        n_kw = 2 if (len(kws) > 1 and rng.random() < 0.4) else 1
        chosen = rng.choice(len(kws), n_kw, replace=False)
        kw_share = INPUT_SHARE * rng.dirichlet(np.full(n_kw, 2.0))
        for kw_i, kshare in zip(chosen.tolist(), kw_share.tolist(), strict=True):
            kw = kws[kw_i]
            j = kw_index[(k, kw)]
            local_sellers = np.array(sorted(set(sellers[j]) - {b}), dtype=np.int64)
            m = int(rng.integers(*SUPPLIERS))
            single = rng.random() < SINGLE_SUPPLIER
            if single:
                m = 1
            weights = rng.dirichlet(np.full(m, 3.0)) if m > 1 else np.ones(1)
            goods = f"*{CATEGORY.get(segs[k][0], '产品')}*{kw}{SPECS[int(rng.integers(0, len(SPECS)))]}"
            used: set[str] = set()
            for w in weights.tolist():
                ring = "outside"
                if local_sellers.size and rng.random() >= outside[k]:
                    ring = (
                        "county"
                        if rng.random() < aff_county[pop.county_code[b]]
                        else ("city" if rng.random() < aff_city[pop.county_code[b]] else "province")
                    )
                seller = -1
                for r in {
                    "county": ("county", "city", "province"),
                    "city": ("city", "province"),
                    "province": ("province",),
                    "outside": (),
                }[ring]:
                    seller = pick_local(j, b, r, local_sellers)
                    if seller >= 0:
                        break
                if seller >= 0:
                    code = str(pop.credit_code[seller])
                else:
                    o = int(rng.choice(OUTSIDE_PER_GOODS, p=out_size[j] / out_size[j].sum()))
                    code = str(out_codes[j, o])
                if code in used:
                    continue
                used.add(code)
                share = kshare * w
                free = (
                    local_sellers[~np.isin(pop.credit_code[local_sellers], list(used))]
                    if local_sellers.size
                    else local_sellers
                )
                if seller < 0 and free.size >= 2 and not single and rng.random() < SWITCH_SHARE:
                    # never a supplier the buyer already has: (seller, buyer, month, goods) stays unique
                    cand = free
                    near = np.where(
                        pop.county_code[cand] == pop.county_code[b],
                        3.0,
                        np.where(city[cand] == city[b], 2.0, 1.0),
                    )
                    p = size[cand] * near * rng.lognormal(0, 0.5, cand.shape[0])
                    new = int(rng.choice(cand, p=p / p.sum()))
                    used.add(str(pop.credit_code[new]))
                    add(b, -1, code, goods, k, share, 0, switch_month - 1)
                    add(b, new, str(pop.credit_code[new]), goods, k, share, switch_month, months_total - 1)
                    switches.append(
                        {
                            "buyer": str(pop.credit_code[b]),
                            "goods": goods,
                            "keyword": kw,
                            "chain": segs[k][0],
                            "segment": segs[k][1],
                            "old_supplier": code,
                            "new_supplier": str(pop.credit_code[new]),
                            "from_month": f"{pop.years[-1]}-07",
                        }
                    )
                    continue
                add(b, seller, code, goods, k, share, 0, months_total - 1)
            if single:
                singles.append(
                    {
                        "buyer": str(pop.credit_code[b]),
                        "chain": segs[k][0],
                        "segment": segs[k][1],
                        "keyword": kw,
                        "goods": goods,
                        "supplier": code,
                        "supplier_in_province": seller >= 0,
                    }
                )

    seg_idx = np.array(rows["seg"], dtype=np.int64)
    trade = ChainTrade(
        buyer=np.array(rows["buyer"], dtype=np.int64),
        seller_code=np.array(rows["seller_code"], dtype="U18"),
        seller_idx=np.array(rows["seller_idx"], dtype=np.int64),
        goods=np.array(rows["goods"]),
        keyword=np.array(rows["kw"]),
        chain=np.array([segs[k][0] for k in seg_idx.tolist()]),
        segment=np.array([segs[k][1] for k in seg_idx.tolist()]),
        share=np.array(rows["share"]),
        month_prob=np.asarray(rng.uniform(0.8, 1.0, size=seg_idx.shape[0])),
        first_month=np.array(rows["first"], dtype=np.int64),
        last_month=np.array(rows["last"], dtype=np.int64),
    )
    trade.truth = {
        "rule": "a chain's purchases are invoice lines whose goods belong to the chain bought by the "
        "chain's members; local rate at a level = amount from sellers in the buyer's county (city, "
        "province) / all that amount; realised on the generated amounts before defects",
        "assumptions": {
            "input_share": INPUT_SHARE,
            "outside_share": list(OUTSIDE_SHARE),
            "weak_outside_share": list(WEAK_OUTSIDE),
            "county_affinity": list(COUNTY_AFFINITY),
            "city_affinity": list(CITY_AFFINITY),
            "suppliers_per_goods": [SUPPLIERS[0], SUPPLIERS[1] - 1],
            "single_supplier_share": SINGLE_SUPPLIER,
            "switch_share": SWITCH_SHARE,
            "source": "project assumptions (docs/chains.md); no published local supporting rate was found",
        },
        "segments": [
            {
                "chain": s[0],
                "segment": s[1],
                "target_outside_share": round(float(outside[k]), 4),
                "in_province_sellers": int(sum(len(sellers[kw_index[(k, kw)]]) for kw in s[4])),
                "injected_weak": bool(k in set(np.asarray(weak).tolist())),
            }
            for k, s in enumerate(segs)
        ],
        "weak_links": [
            {"chain": segs[k][0], "segment": segs[k][1], "target_outside_share": round(float(outside[k]), 4)}
            for k in np.asarray(weak).tolist()
        ],
        "single_supplier": singles,
        "goods_members": goods_members,
        "switches": switches,
        "outside_divisions": list(OUTSIDE_DIVISIONS),
    }
    return trade


def chain_invoice_frame(
    year: int, pop: Population, acc: Accounts, trade: ChainTrade, streams: Streams
) -> Frame:
    """增值税发票流向 of one year from the chain links; records the year's realised local rates."""
    rng = streams("chain-invoices", year)
    k = acc.index(year)
    m0 = 12 * k
    revenue = np.nan_to_num(acc.revenue[k])
    in_prov = trade.seller_idx >= 0
    alive = acc.active[k][trade.buyer] & np.where(
        in_prov, acc.active[k][np.maximum(trade.seller_idx, 0)], True
    )
    lk = np.flatnonzero(alive & (trade.first_month <= m0 + 11) & (trade.last_month >= m0))
    month_idx = m0 + np.arange(12)
    window = (trade.first_month[lk, None] <= month_idx[None, :]) & (
        trade.last_month[lk, None] >= month_idx[None, :]
    )
    trades = window & (rng.random((lk.shape[0], 12)) < trade.month_prob[lk, None])
    base = revenue[trade.buyer[lk]] * trade.share[lk]
    amount = base[:, None] * month_weights(year)[None, :] * rng.lognormal(0, 0.2, trades.shape)
    amount = np.maximum(np.round(amount, 2), 0.01)
    row, month = np.nonzero(trades)
    link = lk[row]
    values = amount[row, month]
    # Rows must be unique on (seller, buyer, month, goods): a switch never repeats a supplier.
    trade.rates[str(year)] = _rates(pop, trade, link, values)
    months = np.array([f"{year}-{m:02d}" for m in range(1, 13)])
    return make_frame(
        "invoices",
        str(year),
        {
            "seller_code": arrow_text(trade.seller_code[link]),
            "buyer_code": arrow_text(pop.credit_code[trade.buyer[link]]),
            "month": arrow_text(months).take(pa.array(month)),
            "amount": values,
            "goods": arrow_text(trade.goods[link]),
        },
    )


def _rates(pop: Population, trade: ChainTrade, link: np.ndarray, amount: np.ndarray) -> dict:
    import pandas as pd

    s = trade.seller_idx[link]
    b = trade.buyer[link]
    bc = pop.county_code[b]
    sc = np.where(s >= 0, pop.county_code[np.maximum(s, 0)], "")
    df = pd.DataFrame(
        {
            "chain": trade.chain[link],
            "segment": trade.segment[link],
            "county": bc,
            "amount": amount,
            "county_amt": np.where(sc == bc, amount, 0.0),
            "city_amt": np.where((sc != "") & (sc.astype("U4") == bc.astype("U4")), amount, 0.0),
            "prov_amt": np.where(s >= 0, amount, 0.0),
            "n": 1,
        }
    )

    def table(keys: list[str]) -> dict:
        g = df.groupby(keys)[["amount", "county_amt", "city_amt", "prov_amt", "n"]].sum()
        out = {}
        for idx, r in g.iterrows():
            key = ".".join(idx) if isinstance(idx, tuple) else str(idx)
            out[key] = {
                "amount": round(float(r.amount), 2),
                "county": round(float(r.county_amt / r.amount), 4),
                "city": round(float(r.city_amt / r.amount), 4),
                "province": round(float(r.prov_amt / r.amount), 4),
                "lines": int(r.n),
            }
        return out

    # Realised single-supplier pairs of the year: "buyer|keyword" with one seller.
    pairs = pd.DataFrame(
        {"buyer": pop.credit_code[b], "goods": trade.keyword[link], "seller": trade.seller_code[link]}
    )
    n_sup = pairs.groupby(["buyer", "goods"])["seller"].nunique()
    single = sorted(f"{buyer}|{goods}" for (buyer, goods), n in n_sup.items() if n == 1)
    sold = set(trade.seller_code[link].tolist())
    return {
        "goods_members_selling": sorted(
            g["credit_code"] for g in trade.truth["goods_members"] if g["credit_code"] in sold
        ),
        "single_supplier_pairs": single,
        "chain": table(["chain"]),
        "county": table(["county"]),
        "chain_county": table(["chain", "county"]),
        "segment": table(["chain", "segment"]),
    }


def manifest_entry(trade: ChainTrade) -> dict:
    return {**trade.truth, "local_rates": trade.rates}
