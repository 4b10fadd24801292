"""VAT invoice flows (增值税发票流向) along industrial chains (产业链, DOMAIN.md §5).

Chain analysis reads supply links from invoices: seller → buyer, amount, goods name. Links are
drawn inside each flagship chain (enterprises whose industry code matches the chain's codes),
mostly between neighbours in the same county or city and otherwise towards larger suppliers;
a seller sells one or two of the chain's product keywords, written the way e-invoices name
goods ("*纺织产品*涤纶"). Each link trades in some months of each year; rows are aggregated so
that (seller, buyer, month, goods) is unique, the contract's key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jingxin import reference
from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, arrow_text, make_frame
from jingxin.synth.population import Population
from jingxin.synth.series import month_weights
from jingxin.synth.streams import Streams

# Short tax-classification names (税收分类简称) put before the goods name on e-invoices.
CATEGORY = {
    "digital_security": "安全防范设备",
    "integrated_circuit": "电子元件",
    "network_communication": "通信设备",
    "intelligent_computing": "计算机设备",
    "biomedicine": "医药",
    "petrochemical_new_materials": "化学原料及制品",
    "new_energy_vehicles": "汽车零配件",
    "intelligent_equipment": "机械设备",
    "smart_home": "家用电器",
    "modern_textile": "纺织产品",
}
MAX_SOLD_SHARE = 0.6  # a seller invoices at most this share of its revenue to province buyers


@dataclass(frozen=True)
class Links:
    """Supply links (供应关系): parallel arrays, one element per (seller, buyer, goods)."""

    seller: np.ndarray  # enterprise index
    buyer: np.ndarray
    goods: np.ndarray  # index into `names`
    names: np.ndarray  # goods names
    share: np.ndarray  # of the seller's revenue, per year
    month_prob: np.ndarray  # chance that the link trades in a given month
    start_year: np.ndarray


def chain_members(pop: Population, chain: reference.Chain) -> np.ndarray:
    """Indices of enterprises whose industry code falls under the chain's codes (prefix match)."""
    member = np.zeros(pop.n, dtype=bool)
    for code in chain.industry_codes:
        member |= np.strings.startswith(pop.industry_code, code)
    return np.flatnonzero(member)


def build_links(pop: Population, streams: Streams) -> Links:
    """Draw supply links inside every chain, deduplicated on (seller, buyer, goods)."""
    rng = streams("invoice-links")
    sellers: list[np.ndarray] = []
    buyers: list[np.ndarray] = []
    goods: list[np.ndarray] = []
    names: list[str] = []
    size = np.sqrt(pop.base_revenue)
    for chain in reference.chains():  # ten chains; each step is vectorised over its members
        idx = chain_members(pop, chain)
        if idx.shape[0] < 2 or not chain.keywords:
            continue
        idx = idx[np.argsort(pop.county_code[idx], kind="stable")]  # neighbours are local
        m = idx.shape[0]
        per_buyer = rng.poisson(np.where(pop.above_scale[idx], 2.5, 1.0))
        b = np.repeat(np.arange(m), per_buyer)
        offset = rng.integers(1, 25, b.shape[0]) * rng.choice([-1, 1], b.shape[0])
        near = np.clip(b + offset, 0, m - 1)
        weights = size[idx] / size[idx].sum()
        far = rng.choice(m, b.shape[0], p=weights)
        s = np.where(rng.random(b.shape[0]) < 0.6, near, far)
        keep = s != b
        category = CATEGORY.get(chain.id, "产品")
        first = len(names)
        names.extend(f"*{category}*{kw}" for kw in chain.keywords)
        # A seller's main product, and sometimes its second one.
        main = np.asarray(rng.integers(0, len(chain.keywords), m))
        second = (main + 1) % len(chain.keywords)
        pick = np.where(rng.random(b.shape[0]) < 0.25, second[s], main[s])
        sellers.append(idx[s[keep]])
        buyers.append(idx[b[keep]])
        goods.append(first + pick[keep])
    if not sellers:
        empty = np.zeros(0, dtype=np.int64)
        return Links(empty, empty, empty, np.array(names), np.zeros(0), np.zeros(0), empty)
    seller, buyer, good = np.concatenate(sellers), np.concatenate(buyers), np.concatenate(goods)
    key = (seller.astype(np.int64) * pop.n + buyer) * len(names) + good
    _, first_seen = np.unique(key, return_index=True)
    first_seen.sort()
    seller, buyer, good = seller[first_seen], buyer[first_seen], good[first_seen]
    count = seller.shape[0]
    share = np.clip(rng.lognormal(np.log(0.03), 0.8, count), 0.002, 0.3)
    sold = np.bincount(seller, weights=share, minlength=pop.n)
    share *= np.minimum(1.0, MAX_SOLD_SHARE / np.maximum(sold[seller], 1e-12))
    years = pop.years
    start = np.where(rng.random(count) < 0.15, rng.choice(np.array(years), count), years[0] - 1)
    month_prob = np.asarray(rng.uniform(0.5, 1.0, count))
    return Links(seller, buyer, good, np.array(names), share, month_prob, start)


def invoice_frame(year: int, pop: Population, acc: Accounts, links: Links, streams: Streams) -> Frame:
    """增值税发票流向 of one year: one row per link and month traded, amounts in 万元."""
    rng = streams("invoices", year)
    k = acc.index(year)
    live = acc.active[k][links.seller] & acc.active[k][links.buyer] & (links.start_year <= year)
    lk = np.flatnonzero(live)
    trades = rng.random((lk.shape[0], 12)) < links.month_prob[lk, None]
    base = np.nan_to_num(acc.revenue[k][links.seller[lk]]) * links.share[lk]
    amount = base[:, None] * month_weights(year)[None, :] * rng.lognormal(0, 0.3, trades.shape)
    amount = np.maximum(np.round(amount, 2), 0.01)
    row, month = np.nonzero(trades)  # row-major: link by link, months in order
    link = lk[row]
    codes = arrow_text(pop.credit_code)
    months = np.array([f"{year}-{m:02d}" for m in range(1, 13)])
    return make_frame(
        "invoices",
        str(year),
        {
            "seller_code": codes.take(pa.array(links.seller[link])),
            "buyer_code": codes.take(pa.array(links.buyer[link])),
            "month": arrow_text(months).take(pa.array(month)),
            "amount": amount[row, month],
            "goods": arrow_text(links.names).take(pa.array(links.goods[link])),
        },
    )
