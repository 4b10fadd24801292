"""The "415" advanced manufacturing clusters (先进制造业集群): membership and monthly indicators.

* **Definitions** are the editable `reference/data/clusters.yaml` (4 world-class, 15 advantage
  clusters, industry codes and product keywords); each cluster's promotion body (一集群一机构)
  is `chains/data/cluster_bodies.yaml`.
* **Membership** (集群企业): an enterprise is in a cluster when its registered industry code falls
  under the cluster's codes (basis ``industry``, evidence the code), or when goods whose name
  contains one of the cluster's keywords (the product part of the e-invoice goods name, the
  longest keyword wins) make at least `compute.MIN_SALES_SHARE` of its invoiced sales in the 12
  months ending with the month (basis ``invoice``, evidence the keyword and the share). An
  enterprise may be in several clusters.
* **Indicators** for January to the month: members, output (工业总产值 of the monthly 快报) and
  its growth on the same months a year earlier, 亩均税收 (the members' tax of the newest year
  up to the month over their land), the share of members in 亩均 class A of the newest
  evaluation run, and the output by county and city (where the cluster is: its home regions on
  the map, `cluster_map`) and by month. Ranked by output.

Everything is Ibis over the warehouse; only the distinct goods names are matched in Python.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import ibis
import pandas as pd
import yaml

from jingxin import reference
from jingxin.chains import compute
from jingxin.chains.definitions import _classes_under, product_part
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse

TIER_LABEL = {"world_class": "世界级先进制造业集群", "advantage": "优势产业集群"}


@functools.cache
def bodies() -> dict[str, dict[str, str]]:
    """Cluster id → its promotion body (一集群一机构) and the source of that entry."""
    raw = yaml.safe_load(files("jingxin.chains").joinpath("data", "cluster_bodies.yaml").read_text("utf-8"))
    known = {c.id for c in reference.clusters()}
    out = {}
    for cid, entry in (raw or {}).get("bodies", {}).items():
        if cid not in known:
            raise compute.ChainsError(
                f"cluster_bodies.yaml: bodies.{cid}: 不是 clusters.yaml 中的集群；可选 {sorted(known)}"
            )
        if not isinstance(entry, dict) or not entry.get("body") or not entry.get("source"):
            raise compute.ChainsError(
                f"cluster_bodies.yaml: bodies.{cid}: 须有 body（机构名称）和 source（来源）"
            )
        out[cid] = {"body": str(entry["body"]), "source": str(entry["source"])}
    return out


def _industry_table() -> ibis.Table:
    rows = []
    for c in reference.clusters():
        for prefix in c.industry_codes:
            for code in sorted(_classes_under((prefix,)) | {prefix}):
                rows.append({"industry_code": code, "cluster_id": c.id, "matched": prefix})
    return ibis.memtable(pd.DataFrame(rows).drop_duplicates(["industry_code", "cluster_id"]).astype("string"))


def goods_table(wh: Warehouse, win: compute.Window) -> ibis.Table:
    """Distinct goods names of the window with each cluster whose keyword they contain."""
    names = wh.execute(compute._invoices(wh, win).select("goods").distinct())["goods"].dropna().tolist()
    rows = []
    for name in sorted(names):
        product = product_part(name)
        for c in reference.clusters():
            hits = [k for k in c.keywords if k in product]
            if hits:
                rows.append({"goods": name, "cluster_id": c.id, "keyword": max(hits, key=len)})
    frame = pd.DataFrame(rows, columns=["goods", "cluster_id", "keyword"]).astype("string")
    return ibis.memtable(frame)


def membership(wh: Warehouse, win: compute.Window) -> ibis.Table:
    """(credit_code, cluster_id, basis, evidence, share) of every cluster member."""
    reg = compute._registry(wh)
    ind = _industry_table()
    by_industry = reg.join(ind, reg.industry_code == ind.industry_code).select(
        credit_code=reg.credit_code,
        cluster_id=ind.cluster_id,
        basis=ibis.literal("industry"),
        evidence=ind.matched,
        share=ibis.literal(1.0),
    )
    if not wh.has_table("invoices"):
        return by_industry
    g = goods_table(wh, win)
    inv = compute._invoices(wh, win)
    sales = inv.group_by(code=inv.seller_code).aggregate(total=inv.amount.sum())
    lines = inv.join(g, inv.goods == g.goods)
    per = lines.group_by(code=lines.seller_code, cluster_id=lines.cluster_id).aggregate(
        amount=lines.amount.sum(), keyword=lines.keyword.max()
    )
    j = per.join(sales, "code").join(reg.select("credit_code"), per.code == reg.credit_code)
    by_invoice = j.filter(j.amount >= compute.MIN_SALES_SHARE * j.total).select(
        credit_code=j.code,
        cluster_id=j.cluster_id,
        basis=ibis.literal("invoice"),
        evidence=j.keyword,
        share=(j.amount / j.total).cast("float64"),
    )
    return by_industry.union(by_invoice)


def _members(wh: Warehouse, win: compute.Window, scope: Scope) -> ibis.Table:
    mem = membership(wh, win).select("credit_code", "cluster_id").distinct()
    reg = compute._registry(wh).select(r_code="credit_code", county_code="county_code")
    mem = mem.join(reg, mem.credit_code == reg.r_code).drop("r_code")
    return scope.restrict(mem, county_column="county_code", code_column="credit_code")


def indicators(wh: Warehouse, month: str, scope: Scope) -> dict[str, Any]:
    """Ranked cluster indicators for January–`month`, output by city and by month."""
    win = compute.window(month)
    year, mon = win.end.year, win.end.month
    mem = _members(wh, win, scope)
    counts = wh.execute(mem.group_by("cluster_id").aggregate(members=mem.credit_code.nunique()))
    out = pd.DataFrame({"cluster_id": [c.id for c in reference.clusters()]})
    out = out.merge(counts, on="cluster_id", how="left")
    by_city = pd.DataFrame(columns=["cluster_id", "city", "output"])
    by_county = pd.DataFrame(columns=["cluster_id", "county_code", "output"])
    by_month = pd.DataFrame(columns=["cluster_id", "month", "output"])
    if wh.has_table("monthly"):
        m = compute._current(wh, "monthly")
        m = m.filter((m.month.year() >= year - 1) & (m.month.year() <= year) & (m.month.month() <= mon))
        j = m.join(mem, m.credit_code == mem.credit_code)
        zero = ibis.literal(0.0)
        j = j.mutate(
            this=(j.month.year() == year).ifelse(j.output_value, zero),
            last=(j.month.year() == year - 1).ifelse(j.output_value, zero),
        )
        out = out.merge(
            wh.execute(
                j.group_by("cluster_id").aggregate(
                    output=j.this.sum().cast("float64"), output_last=j["last"].sum().cast("float64")
                )
            ),
            on="cluster_id",
            how="left",
        )
        cur = j.filter(j.month.year() == year)
        by_county = wh.execute(
            cur.group_by(["cluster_id", "county_code"]).aggregate(
                output=cur.output_value.sum().cast("float64")
            )
        )
        by_city = (
            by_county.assign(city=by_county.county_code.str[:4] + "00")
            .groupby(["cluster_id", "city"], as_index=False)["output"]
            .sum()
        )
        by_month = wh.execute(
            cur.group_by(["cluster_id", "month"]).aggregate(output=cur.output_value.sum().cast("float64"))
        )
    else:
        out["output"], out["output_last"] = float("nan"), float("nan")
    out = out.merge(_per_mu(wh, mem, year), on="cluster_id", how="left")
    out = out.merge(_class_a(wh, mem, year), on="cluster_id", how="left")
    out["members"] = out["members"].fillna(0).astype(int)
    out["growth"] = (out.output / out.output_last - 1.0).where(out.output_last > 0)
    meta = {c.id: c for c in reference.clusters()}
    out["name"] = out.cluster_id.map(lambda i: meta[i].name)
    out["tier"] = out.cluster_id.map(lambda i: meta[i].tier)
    out["tier_label"] = out.tier.map(TIER_LABEL)
    out["confirmed"] = out.cluster_id.map(lambda i: meta[i].confirmed)
    b = bodies()
    out["body"] = out.cluster_id.map(lambda i: b.get(i, {}).get("body", "未登记"))
    out["body_source"] = out.cluster_id.map(lambda i: b.get(i, {}).get("source", ""))
    out = out.sort_values(["output", "members"], ascending=False, na_position="last").reset_index(drop=True)
    out["rank"] = range(1, len(out) + 1)
    by_city["city_name"] = by_city.city.map(compute.division_name)
    by_month["month"] = pd.to_datetime(by_month["month"]).dt.strftime("%Y-%m")
    return {
        "month": month,
        "period": f"{year}年1—{mon}月",
        "clusters": out,
        "by_city": by_city.sort_values(["cluster_id", "output"], ascending=[True, False]),
        "by_county": by_county.sort_values(["cluster_id", "output"], ascending=[True, False]),
        "by_month": by_month.sort_values(["cluster_id", "month"]),
    }


def _per_mu(wh: Warehouse, mem: ibis.Table, year: int) -> pd.DataFrame:
    """亩均税收 (万元/亩) of the members: tax of the newest tax year ≤ `year` over their land."""
    empty = pd.DataFrame(columns=["cluster_id", "tax_per_mu"])
    if not (wh.has_table("tax") and wh.has_table("land")):
        return empty
    tax = compute._current(wh, "tax")
    tax = tax.filter(tax.year <= year)
    tax = tax.filter(tax.year == tax.year.max())
    land = compute._current(wh, "land")
    land = land.group_by(l_code=land.credit_code).aggregate(area=land.area_mu.sum())
    t = tax.select(t_code="credit_code", tax_paid="tax_paid").join(land, ibis._.t_code == land.l_code)
    j = mem.join(t, mem.credit_code == t.t_code)
    agg = j.group_by("cluster_id").aggregate(
        tax=j.tax_paid.sum().cast("float64"), area=j.area.sum().cast("float64")
    )
    df = wh.execute(agg)
    df["tax_per_mu"] = (df.tax / df.area).where(df.area > 0)
    return df[["cluster_id", "tax_per_mu"]]


def _class_a(wh: Warehouse, mem: ibis.Table, year: int) -> pd.DataFrame:
    """Share of evaluated members in 亩均 class A (newest evaluation run up to `year`)."""
    from jingxin.chains.match import _classes

    cls = _classes(wh, year)
    if cls is None:
        return pd.DataFrame(columns=["cluster_id", "class_a", "evaluated"])
    j = mem.join(cls, mem.credit_code == cls.c_code)
    agg = j.group_by("cluster_id").aggregate(
        evaluated=j.credit_code.nunique(),
        a=(j.mu_class == "A").ifelse(1, 0).sum(),
    )
    df = wh.execute(agg)
    df["class_a"] = (df.a / df.evaluated).where(df.evaluated > 0)
    return df[["cluster_id", "class_a", "evaluated"]]


def members(wh: Warehouse, month: str, scope: Scope, cluster_id: str) -> pd.DataFrame:
    """The members of one cluster inside `scope`, with basis and evidence."""
    ids = {c.id for c in reference.clusters()}
    if cluster_id not in ids:
        raise compute.ChainsError(f"未知集群 {cluster_id!r}；可选：{'、'.join(sorted(ids))}")
    win = compute.window(month)
    mem = membership(wh, win)
    mem = mem.filter(mem.cluster_id == cluster_id)
    reg = compute._registry(wh)
    j = mem.join(reg, mem.credit_code == reg.credit_code)
    j = scope.restrict(j, county_column="county_code", code_column="credit_code")
    return wh.execute(j.order_by(["county_code", "credit_code", "basis"]))
