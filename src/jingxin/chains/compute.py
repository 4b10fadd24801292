"""Chain analytics on the warehouse (Ibis: the same expressions on DuckDB, PostgreSQL, PySpark).

* **Goods** (货物): the distinct goods names of the invoices are classified once by the jieba
  rule of :mod:`.definitions` (a dictionary of a few thousand names, not the fact rows) and
  joined back as a small table.
* **Membership** (产业链企业): an enterprise belongs to a (chain, segment) when its registered
  industry code falls under the segment's codes (basis ``industry``), or when goods of the
  segment make at least `MIN_SALES_SHARE` of its invoiced sales in the window (basis
  ``invoice``, with the keyword and the share as evidence). The registry carries no product
  field, so the goods an enterprise invoices stand for its products.
* **Local supporting rate** (本地配套率): of a chain's purchases — invoice lines of the chain's
  goods bought by the chain's members — the share bought from sellers in the buyer's county,
  city and province. A seller not in the registry is placed by its credit code's registering
  division (characters 3–8, GB 32100); a code outside 33 is outside the province.
* **Weak links** (薄弱环节): segments whose purchases come mostly from outside the province,
  or from few suppliers (HHI of supplier shares), and buyers depending on one supplier for a
  goods (单一供应商依赖).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import pandas as pd

from jingxin import reference
from jingxin.chains.definitions import Definitions, _classes_under, classify_goods, definitions
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse

MIN_SALES_SHARE = 0.2  # project assumption: goods of a segment ≥ 20% of sales make a member
WEAK_OUTSIDE = 0.5  # a segment buying half or more from outside the province is weak
WEAK_HHI = 0.25  # supply concentrated in about four suppliers or fewer (HHI ≥ 0.25)
SINGLE_TOP_SHARE = 0.999  # one supplier for the whole goods in the window
LEVELS = ("county", "city", "province")


class ChainsError(ValueError):
    """Bad request: the message says what and how to fix it."""


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # first day of the last month

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m}—{self.end:%Y-%m}"


def window(month: str, months: int = 12) -> Window:
    """The `months` months ending with `month` (YYYY-MM)."""
    try:
        y, m = (int(p) for p in str(month).strip()[:7].split("-"))
        end = date(y, m, 1)
    except (ValueError, TypeError):
        raise ChainsError(f"月份格式应为 YYYY-MM（例如 2021-12），收到 {month!r}") from None
    if not 1990 <= y <= 2100:
        raise ChainsError(f"月份超出范围（1990—2100 年）：{month!r}")
    if not 1 <= months <= 60:
        raise ChainsError(f"窗口月数应在 1～60 之间，收到 {months}")
    k = y * 12 + m - 1 - (months - 1)
    return Window(date(k // 12, k % 12 + 1, 1), end)


def _current(wh: Warehouse, name: str) -> ibis.Table:
    """Facts of live batches, as `Warehouse.current` but through `IN (subquery)`: the pinned
    sqlglot leaves a `LEFT SEMI JOIN` in PostgreSQL SQL when Ibis shares the semi join as a
    common table expression (the registry is read three times here)."""
    t = wh.table(name)
    b = wh.table("batches")
    return t.filter(t.batch_id.isin(b.filter(b.superseded_by.isnull()).batch_id))


def _invoices(wh: Warehouse, win: Window) -> ibis.Table:
    if not wh.has_table("invoices"):
        raise ChainsError("仓库中没有增值税发票流向（invoices）数据；请先导入税务发票文件")
    t = _current(wh, "invoices")
    return t.filter((t.month >= win.start) & (t.month <= win.end))


def goods_table(wh: Warehouse, win: Window, defs: Definitions | None = None) -> ibis.Table:
    """Distinct goods names of the window with their (chain, segment, keyword)."""
    defs = defs or definitions()
    names = wh.execute(_invoices(wh, win).select("goods").distinct())["goods"].dropna().tolist()
    rows = [
        {"goods": g.goods, "keyword": g.keyword, "chain_id": g.chain_id, "segment_id": g.segment_id}
        for g in classify_goods(sorted(names), defs)
        if g.keyword is not None
    ]
    frame = pd.DataFrame(rows, columns=["goods", "keyword", "chain_id", "segment_id"]).astype("string")
    return ibis.memtable(frame)


def industry_table(defs: Definitions | None = None) -> ibis.Table:
    """Industry code → (chain, segment, the segment code it falls under), codes expanded."""
    defs = defs or definitions()
    rows = []
    for c in defs.chains:
        for s in c.segments:
            for prefix in s.industry_codes:
                for code in sorted(_classes_under((prefix,)) | {prefix}):
                    rows.append(
                        {"industry_code": code, "chain_id": c.id, "segment_id": s.id, "matched_code": prefix}
                    )
    return ibis.memtable(pd.DataFrame(rows).astype("string"))


def _registry(wh: Warehouse) -> ibis.Table:
    r = _current(wh, "registry")
    return r.select("credit_code", "name", "county_code", "industry_code")


def membership(
    wh: Warehouse, win: Window, defs: Definitions | None = None, goods: ibis.Table | None = None
) -> ibis.Table:
    """Members of (chain, segment) with their basis and evidence; one row per
    (credit_code, chain_id, segment_id, basis)."""
    defs = defs or definitions()
    reg = _registry(wh)
    ind = industry_table(defs)
    by_industry = reg.join(ind, reg.industry_code == ind.industry_code).select(
        credit_code=reg.credit_code,
        chain_id=ind.chain_id,
        segment_id=ind.segment_id,
        basis=ibis.literal("industry"),
        keyword=ind.matched_code,
        share=ibis.literal(1.0),
        amount=ibis.literal(0.0),
    )
    g = goods if goods is not None else goods_table(wh, win, defs)
    inv = _invoices(wh, win)
    sales = inv.group_by(code=inv.seller_code).aggregate(total=inv.amount.sum())
    lines = inv.join(g, inv.goods == g.goods)
    seg_sales = lines.group_by(
        code=lines.seller_code, chain_id=lines.chain_id, segment_id=lines.segment_id
    ).aggregate(amount=lines.amount.sum(), keyword=lines.keyword.max())
    j = seg_sales.join(sales, seg_sales.code == sales.code)
    j = j.join(reg.select("credit_code"), j.code == reg.credit_code)  # in-province enterprises only
    by_invoice = j.filter(j.amount >= MIN_SALES_SHARE * j.total).select(
        credit_code=j.code,
        chain_id=j.chain_id,
        segment_id=j.segment_id,
        basis=ibis.literal("invoice"),
        keyword=j.keyword,
        share=(j.amount / j.total).cast("float64"),
        amount=j.amount.cast("float64"),
    )
    return by_industry.union(by_invoice)


def purchases(wh: Warehouse, win: Window, scope: Scope, defs: Definitions | None = None) -> ibis.Table:
    """A chain's purchases with buyer and seller locations: one row per invoice line of chain
    goods bought by a member of that chain, in the buyers' region of `scope`."""
    defs = defs or definitions()
    g = goods_table(wh, win, defs)
    mem = membership(wh, win, defs, g)
    chain_members = mem.select("credit_code", "chain_id").distinct()
    reg = _registry(wh)
    inv = _invoices(wh, win)
    lines = inv.join(g, inv.goods == g.goods)
    # A buyer missing from the registry (its row rejected, or not yet registered) is kept when
    # its credit code was registered in the province: unknown industry, so it counts for the
    # chain of the goods it buys, located by its code's registering division.
    cm = chain_members.select(m_code="credit_code", m_chain="chain_id")
    lines = lines.left_join(cm, (lines.buyer_code == cm.m_code) & (lines.chain_id == cm.m_chain))
    buyers = reg.select(b_code=reg.credit_code, reg_buyer_county=reg.county_code, buyer_name=reg.name)
    lines = lines.left_join(buyers, lines.buyer_code == buyers.b_code)
    lines = lines.filter(
        lines.m_code.notnull() | (lines.b_code.isnull() & (lines.buyer_code.substr(2, 2) == "33"))
    )
    lines = lines.select(
        "seller_code",
        "buyer_code",
        "month",
        "amount",
        "goods",
        "keyword",
        "chain_id",
        "segment_id",
        buyer_county=lines.reg_buyer_county.fill_null(lines.buyer_code.substr(2, 6)),
        buyer_name=lines.buyer_name.fill_null(ibis.literal("（未登记）")),
    )
    sellers = reg.select(s_code=reg.credit_code, reg_county=reg.county_code, seller_name=reg.name)
    lines = lines.left_join(sellers, lines.seller_code == sellers.s_code).drop("s_code")
    lines = lines.mutate(seller_county=lines.reg_county.fill_null(lines.seller_code.substr(2, 6))).drop(
        "reg_county"
    )
    lines = lines.mutate(
        in_province=lines.seller_county.startswith("33"),
        in_city=lines.seller_county.substr(0, 4) == lines.buyer_county.substr(0, 4),
        in_county=lines.seller_county == lines.buyer_county,
    )
    return scope.restrict(lines, county_column="buyer_county", code_column="buyer_code")


def _rates(t: ibis.Table, keys: list[str]) -> ibis.Table:
    zero = ibis.literal(0.0)
    agg = t.group_by(keys).aggregate(
        amount=t.amount.sum().cast("float64"),
        county_amount=t.in_county.ifelse(t.amount, zero).sum().cast("float64"),
        city_amount=t.in_city.ifelse(t.amount, zero).sum().cast("float64"),
        province_amount=t.in_province.ifelse(t.amount, zero).sum().cast("float64"),
        lines=t.count(),
        buyers=t.buyer_code.nunique(),
        suppliers=t.seller_code.nunique(),
    )
    return agg.mutate(
        county=agg.county_amount / agg.amount,
        city=agg.city_amount / agg.amount,
        province=agg.province_amount / agg.amount,
    )


BY = {
    "chain": ["chain_id"],
    "segment": ["chain_id", "segment_id"],
    "county": ["buyer_county"],
    "chain_county": ["chain_id", "buyer_county"],
    "city": ["buyer_city"],
    "chain_city": ["chain_id", "buyer_city"],
}


def local_rates(wh: Warehouse, month: str, scope: Scope, by: str = "chain", months: int = 12) -> pd.DataFrame:
    """本地配套率 grouped `by` chain, segment, county, chain_county, city or chain_city."""
    if by not in BY:
        raise ChainsError(f"by 应为 {'、'.join(BY)} 之一，收到 {by!r}")
    t = purchases(wh, window(month, months), scope)
    t = t.mutate(buyer_city=t.buyer_county.substr(0, 4) + "00")
    keys = BY[by]
    out = wh.execute(_rates(t, keys).order_by(keys))
    return out


def weak_links(wh: Warehouse, month: str, scope: Scope, months: int = 12) -> pd.DataFrame:
    """Segments with outside share, supplier concentration (HHI) and the flags."""
    t = purchases(wh, window(month, months), scope)
    keys = ["chain_id", "segment_id"]
    by_sup = t.group_by([*keys, "seller_code"]).aggregate(amount=t.amount.sum().cast("float64"))
    tot = by_sup.group_by(keys).aggregate(total=by_sup.amount.sum())
    s = by_sup.join(tot, keys)
    s = s.mutate(sq=(s.amount / s.total) ** 2, sh=s.amount / s.total)
    conc = s.group_by(keys).aggregate(hhi=s.sq.sum(), top_share=s.sh.max())
    rates = _rates(t, keys)
    j = rates.join(conc, keys).order_by(keys)
    df = wh.execute(j)
    df["outside"] = 1.0 - df["province"]
    df["weak_outside"] = df["outside"] >= WEAK_OUTSIDE
    df["weak_concentrated"] = df["hhi"] >= WEAK_HHI
    return df


def single_supplier(wh: Warehouse, month: str, scope: Scope, months: int = 12) -> pd.DataFrame:
    """(buyer, chain, segment, keyword) bought from one supplier only in the window."""
    t = purchases(wh, window(month, months), scope)
    keys = ["buyer_code", "buyer_name", "buyer_county", "chain_id", "segment_id", "keyword"]
    agg = t.group_by(keys).aggregate(
        suppliers=t.seller_code.nunique(),
        supplier=t.seller_code.max(),
        supplier_county=t.seller_county.max(),
        amount=t.amount.sum().cast("float64"),
        months=t.month.nunique(),
    )
    return wh.execute(agg.filter(agg.suppliers == 1).order_by(ibis.desc("amount")))


def division_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        return reference.division(code).name
    except KeyError:
        return "省外" if not str(code).startswith("33") else str(code)
