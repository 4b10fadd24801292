"""Screening every enterprise against the cultivation ladders (培育库筛选), with traces.

One Ibis expression (DuckDB, PostgreSQL, PySpark) builds the facts of each enterprise for a year
from the warehouse and evaluates every criterion of every rung (`cultivation/config.py`): a
column per criterion (passed or not) and per rung. A missing fact fails its criterion and the
trace says so (缺数据). Facts and their sources:

- years operating (从业年限): 31 December of the year − 成立日期 (市场监管 registry), in years;
- revenue, R&D share: 营业收入, 研发经费 ÷ 营业收入 (统计 statistics of the year);
- profit growth: the mean of the yearly growth of 净利润 over the years held up to the year;
  debt ratio: 负债总额 ÷ 资产总额; main products, their share, market rank, smart-manufacturing
  level (培育库企业经营与市场地位 of the year, 经信);
- in a flagship chain: the registry's 行业代码 in a chain of `reference.chains()`.

The universe is every enterprise with cultivation indicators in the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from jingxin import reference
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.cultivation.config import METRICS, Criterion, LaddersConfig, Rung, load_ladders

OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


class ScreeningError(ValueError):
    pass


def chain_codes() -> list[str]:
    return sorted({code for c in reference.chains() for code in c.industry_codes})


def facts_expr(wh: Warehouse, year: int, scope: Scope | None = None) -> ibis.Table:
    """One row per enterprise with cultivation indicators in `year`: every metric of METRICS."""
    for table in ("cultivation_profile", "statistics", "registry"):
        if not wh.has_table(table):
            raise ScreeningError(f"仓库中还没有 {table} 数据：请先导入市场监管登记、统计年报和培育库企业指标")
    prof = wh.current("cultivation_profile")
    reg = wh.current("registry").select("credit_code", "name", "county_code", "industry_code", "founded_on")
    if scope is not None:
        prof = scope.restrict(prof, county_column=None, registry=wh.current("registry"))
    history = prof.filter(_.year.cast("int32") <= year).select(
        "credit_code", y=_.year.cast("int32"), p=_.net_profit
    )
    w = ibis.window(group_by=history.credit_code, order_by=history.y)
    history = history.mutate(prev=history.p.lag().over(w))
    rate = ibis.cases(
        (history.prev.notnull() & (history.prev != 0), (history.p - history.prev) / history.prev.abs() * 100),
        else_=ibis.null("float64"),
    )
    growth = history.mutate(rate=rate).group_by("credit_code").aggregate(profit_growth=_.rate.mean())
    this = prof.filter(_.year.cast("int32") == year)
    stats = (
        wh.current("statistics")
        .filter(_.year.cast("int32") == year)
        .select("credit_code", "revenue", "rd_expense")
    )
    end = ibis.date(year, 12, 31)
    joined = (
        this.join(reg, "credit_code", how="left")
        .join(stats, "credit_code", how="left")
        .join(growth, "credit_code", how="left")
    )
    return joined.select(
        "credit_code",
        "name",
        "county_code",
        profile_batch=_.batch_id,
        years_operating=end.delta(joined.founded_on.cast("date"), unit="day").cast("float64") / 365.25,
        revenue=_.revenue,
        rd_share=ibis.cases((_.revenue > 0, _.rd_expense / _.revenue * 100), else_=ibis.null("float64")),
        profit_growth=_.profit_growth,
        debt_ratio=ibis.cases(
            (_.total_assets > 0, _.total_liabilities / _.total_assets * 100), else_=ibis.null("float64")
        ),
        main_products=_.main_products.cast("float64"),
        main_product_share=_.main_product_share,
        global_rank=ibis.cases(
            (_.market_scope == "全球", _.market_rank.cast("float64")), else_=ibis.null("float64")
        ),
        national_rank=ibis.cases(
            (_.market_scope == "全国", _.market_rank.cast("float64")), else_=ibis.null("float64")
        ),
        smart_level=_.smart_level.cast("float64"),
        in_chain=_.industry_code.isin(chain_codes()).fill_null(False).cast("float64"),
    )


def _column(rung: str, criterion: str) -> str:
    return f"{rung}__{criterion}"


def _condition(t: ibis.Table, c: Criterion, passed: dict[str, ibis.Value]) -> ibis.Value:
    if c.any_of:
        out = _condition(t, c.any_of[0], passed)
        for other in c.any_of[1:]:
            out = out | _condition(t, other, passed)
        return out
    assert c.metric is not None and c.op is not None and c.value is not None
    value = passed[c.metric[5:]].cast("float64") if c.metric.startswith("rung:") else t[c.metric]
    return OPS[c.op](value, c.value).fill_null(False)


def screen_expr(facts: ibis.Table, cfg: LaddersConfig) -> ibis.Table:
    """`facts` plus a boolean column per criterion (rung__criterion) and per rung."""
    passed: dict[str, ibis.Value] = {}
    columns: dict[str, ibis.Value] = {}
    for _ladder, rung in cfg.rungs():
        conds = []
        for c in rung.criteria:
            cond = _condition(facts, c, passed)
            columns[_column(rung.id, c.id)] = cond
            conds.append(cond)
        all_of = conds[0]
        for cond in conds[1:]:
            all_of = all_of & cond
        passed[rung.id] = all_of
        columns[rung.id] = all_of
    return facts.mutate(**columns)


@dataclass
class Screening:
    year: int
    table: pd.DataFrame
    config: LaddersConfig

    def qualifying(self, rung: str) -> list[str]:
        return sorted(self.table.loc[self.table[rung], "credit_code"])


def screen(
    wh: Warehouse, year: int, scope: Scope | None = None, cfg: LaddersConfig | None = None
) -> Screening:
    cfg = cfg or load_ladders()
    table = wh.execute(screen_expr(facts_expr(wh, year, scope), cfg))
    if table.empty:
        raise ScreeningError(f"{year} 年没有培育库企业指标，请先导入该年的“培育库企业经营与市场地位”")
    for _ladder, rung in cfg.rungs():
        table[rung.id] = table[rung.id].astype(bool)
    return Screening(year=year, table=table.sort_values("credit_code").reset_index(drop=True), config=cfg)


def years(wh: Warehouse) -> list[int]:
    if not wh.has_table("cultivation_profile"):
        return []
    values = wh.execute(wh.current("cultivation_profile").select(y=_.year.cast("int32")).distinct())["y"]
    return sorted(int(v) for v in values)


def _leaf_trace(row: pd.Series, c: Criterion, passed: dict[str, bool]) -> dict[str, Any]:
    assert c.metric is not None
    if c.metric.startswith("rung:"):
        value: Any = 1.0 if passed.get(c.metric[5:]) else 0.0
    else:
        raw = row[c.metric]
        value = None if raw is None or (isinstance(raw, float) and np.isnan(raw)) else float(raw)
    ok = value is not None and bool(OPS[c.op](value, c.value))  # type: ignore[index]
    gap = None
    if value is not None and not ok and c.op in (">=", ">", "<=", "<"):
        gap = round(abs(float(c.value) - value), 2)  # type: ignore[arg-type]
    return {
        "id": c.id,
        "label": c.label,
        "metric": c.metric,
        "metric_label": METRICS.get(c.metric, "已达前一梯队"),
        "op": c.op,
        "threshold": c.value,
        "value": None if value is None else round(value, 2),
        "passed": ok,
        "missing": value is None,
        "gap": gap,
    }


def trace(row: pd.Series, rung: Rung, passed: dict[str, bool]) -> list[dict[str, Any]]:
    """Each criterion of `rung` for one enterprise: value, threshold, passed, gap."""
    out = []
    for c in rung.criteria:
        if c.any_of:
            parts = [_leaf_trace(row, leaf, passed) for leaf in c.leaves()]
            out.append(
                {
                    "id": c.id,
                    "label": c.label,
                    "passed": any(p["passed"] for p in parts),
                    "missing": all(p["missing"] for p in parts),
                    "any_of": parts,
                }
            )
        else:
            out.append(_leaf_trace(row, c, passed))
    return out


def ladder_position(screening: Screening, ladder: str, row: pd.Series) -> dict[str, Any]:
    """Where one enterprise stands on `ladder`: the highest rung met, the next rung and its gaps."""
    cfg = screening.config
    rungs = cfg.ladders[ladder].rungs
    passed = {r.id: bool(row[r.id]) for _n, r in cfg.rungs()}
    met = [r for r in rungs if passed[r.id]]
    current = met[-1] if met else None
    above = rungs[rungs.index(current) + 1 :] if current else rungs
    nxt = next((r for r in above if not passed[r.id]), None)
    traces = {r.id: trace(row, r, passed) for r in rungs}
    return {
        "credit_code": row["credit_code"],
        "name": row["name"],
        "county_code": row["county_code"],
        "current": None if current is None else {"id": current.id, "label": current.label},
        "next": None if nxt is None else {"id": nxt.id, "label": nxt.label},
        "gaps": [] if nxt is None else [t for t in traces[nxt.id] if not t["passed"]],
        "traces": traces,
    }


def ladder_table(screening: Screening, ladder: str) -> pd.DataFrame:
    """Per enterprise: the highest rung met on `ladder`, the next rung and how many criteria of it fail."""
    cfg = screening.config
    rungs = cfg.ladders[ladder].rungs
    t = screening.table
    current = pd.Series([None] * len(t), index=t.index, dtype=object)
    for r in rungs:
        current[t[r.id]] = r.label
    failing = {}
    for r in rungs:
        cols = [_column(r.id, c.id) for c in r.criteria]
        failing[r.id] = (~t[cols].astype(bool)).sum(axis=1)
    nxt_label = []
    nxt_fail = []
    for i in range(len(t)):
        met = [k for k, r in enumerate(rungs) if t[r.id].iat[i]]
        start = met[-1] + 1 if met else 0
        nxt = next((r for r in rungs[start:] if not t[r.id].iat[i]), None)
        nxt_label.append(None if nxt is None else nxt.label)
        nxt_fail.append(None if nxt is None else int(failing[nxt.id].iat[i]))
    return pd.DataFrame(
        {
            "credit_code": t["credit_code"],
            "name": t["name"],
            "county_code": t["county_code"],
            "current": current,
            "next": nxt_label,
            "next_failing": nxt_fail,
        }
    )


def by_county(screening: Screening, ladder: str) -> list[dict[str, Any]]:
    t = screening.table
    rungs = screening.config.ladders[ladder].rungs
    rows = []
    for code, part in t.groupby("county_code"):
        rows.append(
            {"county_code": code, **{r.id: int(part[r.id].sum()) for r in rungs}, "screened": len(part)}
        )
    return rows
