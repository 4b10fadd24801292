"""What a scenario changes against the official parameters (情景对比).

Both sides come from the same engine (`engine.Engine`): the official side with the county's
official parameters, which equal a stored run's (tested), the scenario side with the changed
ones. What the page shows:

- class counts (分类数量) official and scenario;
- the enterprises that change class (分类变化企业), each with why: the indicators whose points
  moved most (with the weight or reference that changed), its rank in its class group, and a
  changed class rule;
- the ranking (县内排名; for a city or the province the ranking over the whole area by total):
  the top of the scenario's ranking beside the official ranks, and how many enterprises moved
  up or down;
- the policy money that moves (政策资金变化): 城镇土地使用税 relief and the 差别化电价 surcharge.

The money needs two numbers the warehouse does not have per enterprise: the land-use tax per m²
is the project default of 6 元/m²·年 (the national range is 0.6–30 元/m², 国务院令第483号; the
same default as `burden/burden.yaml` and the policy catalogue's `land_tax_relief`), applied to
the unit's land; the surcharge is applied to the unit's yearly electricity (`kwh`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from jingxin.evaluation.config import System

LAND_TAX_YUAN_PER_M2 = 6.0
"""Project default 城镇土地使用税 unit tax (元/m²·年), see the module docstring."""
M2_PER_MU = 10000 / 15
MOVERS_SHOWN = 200
RANKING_SHOWN = 15


def _money(df: pd.DataFrame) -> dict[str, float]:
    """Relief and surcharge in 万元, counted once per unit (its lead's row)."""
    lead = df[df["is_lead"].fillna(True).astype(bool)]
    relief = (lead["land_tax_relief_pct"].fillna(0) / 100 * lead["land_mu"].fillna(0) * M2_PER_MU).sum()
    relief *= LAND_TAX_YUAN_PER_M2
    kwh = lead["kwh"].fillna(0) if "kwh" in lead else 0.0
    surcharge = (lead["power_surcharge_yuan_per_kwh"].fillna(0) * kwh).sum()
    return {
        "land_tax_relief_wan": round(float(relief) / 1e4, 2),
        "surcharge_wan": round(float(surcharge) / 1e4, 2),
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or pd.isna(x):
        return "—"
    return f"{x:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:,.0f}"


def _why(row: pd.Series, official: System, scenario: System, rule_changed: str | None) -> list[str]:
    reasons: list[str] = []
    moved = []
    for ind in scenario.indicators:
        i = ind.id
        d = float((row.get(f"s_{i}_s") or 0.0) - (row.get(f"s_{i}_o") or 0.0))
        if abs(d) >= 0.005:
            moved.append((abs(d), d, ind))
    for _, d, ind in sorted(moved, key=lambda m: -m[0])[:3]:
        i = ind.id
        extra = []
        w_o, w_s = row.get(f"w_{i}_o"), row.get(f"w_{i}_s")
        if w_o is not None and w_s is not None and abs(float(w_o) - float(w_s)) > 1e-9:
            extra.append(f"权重 {_fmt(w_o)}→{_fmt(w_s)}")
        r_o, r_s = row.get(f"ref_{i}_o"), row.get(f"ref_{i}_s")
        known = r_o is not None and r_s is not None and not pd.isna(r_o) and not pd.isna(r_s)
        if known and abs(float(r_o) - float(r_s)) > 1e-9 * max(1.0, abs(float(r_o))):
            extra.append(f"参照值 {_fmt(r_o)}→{_fmt(r_s)}")
        note = f"（{'，'.join(extra)}）" if extra else ""
        reasons.append(f"{ind.name} {d:+.2f} 分{note}")
    if row["class_rank_o"] != row["class_rank_s"]:
        reasons.append(
            f"组内排名 {int(row['class_rank_o'])}→{int(row['class_rank_s'])}（共 {int(row['class_n_s'])} 家）"
        )
    if rule_changed:
        reasons.append(rule_changed)
    if isinstance(row.get("veto_reason_s"), str) and row["veto_reason_s"]:
        reasons.append(f"一票否决：{row['veto_reason_s']}")
    return reasons or ["总分与排名不变，分类规则改变"]


def _rule_change(official: System, scenario: System) -> str | None:
    a, b = official.classes, scenario.classes
    if a.method != b.method or a.shares != b.shares or a.thresholds != b.thresholds:
        if b.method == "shares":
            return "分类比例 " + "/".join(f"{c}{_fmt(v)}%" for c, v in b.shares.items())
        return "分数线 " + "/".join(f"{c}≥{_fmt(v)}" for c, v in b.thresholds.items())
    return None


def compare(
    official_system: System, scenario_system: System, official: pa.Table, scenario: pa.Table
) -> dict[str, Any]:
    """The comparison the page and the API show (see the module docstring)."""
    keep = [
        "credit_code",
        "name",
        "unit_id",
        "class",
        "total_score",
        "rank_in_county",
        "class_rank",
        "class_n",
        "veto_reason",
    ]
    keep += [f"{p}{i.id}" for i in official_system.indicators for p in ("s_", "w_", "ref_")]
    money_columns = [
        "county_code",
        "is_lead",
        "land_tax_relief_pct",
        "land_mu",
        "power_surcharge_yuan_per_kwh",
        "kwh",
    ]
    # only the columns shown: a province has tens of thousands of rows of a hundred columns
    o = official.select([c for c in [*keep, *money_columns] if c in official.column_names]).to_pandas()
    s = scenario.select([c for c in [*keep, *money_columns] if c in scenario.column_names]).to_pandas()
    if o["county_code"].nunique() > 1:
        # a city or the province: the ranking is over the whole area (total, then credit code)
        for df in (o, s):
            order = df.sort_values(["total_score", "credit_code"], ascending=[False, True]).index
            df.loc[order, "rank_in_county"] = range(1, len(df) + 1)
    classes = official_system.classes.all_classes
    counts = []
    oc, sc = o["class"].value_counts(), s["class"].value_counts()
    for c in classes:
        a, b = int(oc.get(c, 0)), int(sc.get(c, 0))
        counts.append({"class": c, "official": a, "scenario": b, "change": b - a})
    both = o[keep].merge(s[keep], on="credit_code", suffixes=("_o", "_s"))
    rule_changed = _rule_change(official_system, scenario_system)
    order = {c: k for k, c in enumerate(classes)}
    changed = both[both["class_o"] != both["class_s"]].copy()
    step = changed["class_o"].map(order).astype(float) - changed["class_s"].map(order).astype(float)
    changed["step"] = step
    changed = changed.sort_values(["step", "total_score_s"], ascending=[False, False])
    movers = [
        {
            "credit_code": r["credit_code"],
            "name": r["name_s"],
            "official_class": r["class_o"],
            "scenario_class": r["class_s"],
            "official_total": round(float(r["total_score_o"]), 2),
            "scenario_total": round(float(r["total_score_s"]), 2),
            "official_rank": int(r["rank_in_county_o"]),
            "scenario_rank": int(r["rank_in_county_s"]),
            "direction": "up" if r["step"] > 0 else "down",
            "why": _why(r, official_system, scenario_system, rule_changed),
        }
        for _, r in changed.head(MOVERS_SHOWN).iterrows()
    ]
    top = both.sort_values("rank_in_county_s").head(RANKING_SHOWN)
    ranking = [
        {
            "credit_code": r["credit_code"],
            "name": r["name_s"],
            "scenario_rank": int(r["rank_in_county_s"]),
            "official_rank": int(r["rank_in_county_o"]),
            "scenario_total": round(float(r["total_score_s"]), 2),
            "official_total": round(float(r["total_score_o"]), 2),
            "class": r["class_s"],
        }
        for _, r in top.iterrows()
    ]
    delta = both["rank_in_county_o"] - both["rank_in_county_s"]
    mo, ms = _money(o), _money(s)
    money = {
        k: {"official": mo[k], "scenario": ms[k], "change": round(ms[k] - mo[k], 2)}
        for k in ("land_tax_relief_wan", "surcharge_wan")
    }
    return {
        "enterprises": int(len(s)),
        "counts": counts,
        "moved": int(len(changed)),
        "moved_up": int((changed["step"] > 0).sum()),
        "moved_down": int((changed["step"] < 0).sum()),
        "movers": movers,
        "ranking": ranking,
        "rank_up": int((delta > 0).sum()),
        "rank_down": int((delta < 0).sum()),
        "money": money,
        "land_tax_yuan_per_m2": LAND_TAX_YUAN_PER_M2,
    }
