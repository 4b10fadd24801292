"""Projects and cultivation truth (项目与培育真值): industrial investment projects with their
stages and monthly investment, a known effect of 技改 on the enterprise's later output, and the
enterprises that truly qualify for each cultivation rung (DOMAIN §11, §15).

Three sources, each from its own random streams ``projects/<purpose>`` so every other file stays
byte-identical with or without ``--projects``:

- ``projects`` (工业投资项目库, 经信, one file per year): the register as at year end;
- ``project-progress`` (项目月度进展, 经信, one file per year, a row per project and month);
- ``cultivation-profile`` (培育库企业指标, 经信, one file per year, 规上 industrial enterprises);
- ``first-set`` (首台（套）产品认定名单, 经信, one file per year, the recognitions of its batches).

The files themselves are cut from the pipeline by `jingxin.synth.project_files`.

All counts, rates and effects below are the project's own assumptions unless a published figure
is named: the 2021 plan's 5,000 key 技改 projects and 500 attracted projects (DOMAIN §15) set the
yearly pipeline at the generated scale; the 隐形冠军 and 单项冠军 thresholds are DOMAIN §11's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jingxin import reference
from jingxin.synth.accounts import Accounts
from jingxin.synth.habits import HABITS, Habit
from jingxin.synth.population import Population
from jingxin.synth.streams import Streams

PROJECT_SOURCES = ("projects", "project-progress", "cultivation-profile", "first-set")
STAGES = ("签约", "开工", "投产", "达产")
TECH_TYPES = ("智能化改造", "绿色制造", "制造新模式", "产业基础再造", "新兴产业")
# Log-point effect of a completed 技改 on the enterprise's output (工业总产值) from the first full
# year after production starts (project assumption; the DiD must recover it).
TECH_EFFECT = {
    "智能化改造": 0.12,
    "绿色制造": 0.05,
    "制造新模式": 0.10,
    "产业基础再造": 0.08,
    "新兴产业": 0.15,
}
# Projects per year at full provincial scale: 5,000 key 技改 and 500 attracted (plan 2021,
# DOMAIN §15); 重大项目 300 a year is a project assumption (the threshold is set locally).
PER_YEAR = {"技改项目": 5000, "招引项目": 500, "重大项目": 300}
MIN_PER_YEAR = {"技改项目": 40, "招引项目": 6, "重大项目": 4}  # small provinces still get a pipeline
PIPELINE_GROWTH = 0.10  # yearly growth of the number of projects signed (project assumption)
DELAY_SHARE = 0.25  # projects that reach a stage later than planned (project assumption)
PROBLEM_RATE = 0.03  # monthly chance a project under construction reports a problem
PROBLEMS = (
    ("用地指标尚未落实", "自然资源"),
    ("环评审批进度滞后", "生态环境"),
    ("项目公司登记变更办理中", "市场监管"),
    ("电力增容接入未完成", "电力"),
    ("融资到位不足", "金融监管"),
)
RESPONSIBLES = ("局长", "副局长", "总工程师", "副局长（分管投资）")

# 首台(套)/首批次/首版次 recognitions (DOMAIN §11: 1,287 by 2020, the 2021 plan adds 200 a
# year): 200 a year at full scale (at least 6), published in two batches (28 June, 20 December:
# the project's assumption); the shares of category and level are assumptions too. Makers are
# drawn among operating 规上 manufacturers, more likely the higher their R&D share.
FIRST_SET_PER_YEAR = 200
FIRST_SET_MIN = 6
FIRST_SET_BATCHES = (("第一批", "06-28"), ("第二批", "12-20"))
FIRST_SET_CATEGORY = {"首台（套）装备": 0.7, "首批次新材料": 0.2, "首版次软件": 0.1}
FIRST_SET_LEVEL = {"国际首台（套）": 0.1, "国内首台（套）": 0.4, "省内首台（套）": 0.5}
FIRST_SET_VALIDITY_YEARS = 3  # DOMAIN §11: in the guidance catalogue for 3 years
FIRST_SET_PRODUCTS = {
    "首台（套）装备": (
        "高端数控机床",
        "工业机器人",
        "智能成套输送装备",
        "高压变频调速装置",
        "精密注塑成型机",
        "智能纺织成套装备",
        "新能源汽车电驱系统",
        "大型空分装置",
    ),
    "首批次新材料": ("高性能碳纤维复合材料", "电子级多晶硅", "特种工程塑料", "高端氟硅新材料", "生物基纤维"),
    "首版次软件": ("工业互联网平台软件", "智能制造执行系统", "工业设计仿真软件", "设备预测性维护软件"),
}

# Published criteria the truth is computed from (DOMAIN §11) and the project's own for the
# rungs where no rule was found; cultivation/config/ladders.yaml carries the same defaults.
HIDDEN = {
    "age": 10,
    "rev_min": 5000,
    "rev_max": 200000,
    "growth": 10.0,
    "debt": 70.0,
    "products": 3,
    "share": 70.0,
    "rd": 4.0,
}
GIANT = {"age": 3, "rev_min": 10000, "share": 70.0, "rd": 3.0, "debt": 70.0}
SINGLE = {"age": 10, "share": 70.0, "rev_small": 40000}
EAGLE = {"rev_min": 300000, "rd": 2.5}
CHAIN_LEADER = {"rev_min": 50000}
SMART = {"level": 3}
FUTURE = {"level": 4, "rev_min": 50000, "rd": 3.0}

HABITS.update(
    {
        "projects": Habit(stem="projects", format="xlsx", title="工业投资项目库（{year}年）"),
        "project-progress": Habit(stem="project_progress", format="csv", encoding="utf-8-sig"),
        "cultivation-profile": Habit(
            stem="cultivation_profile", format="xlsx", title="培育库企业经营与市场地位（{year}年）"
        ),
        # 经信 publishes each year's recognitions as an Excel list with a title and a count below.
        "first-set": Habit(
            stem="first_set",
            format="xlsx",
            title="浙江省首台（套）产品认定名单（{year}年）",
            footer="合计：{rows}项",
        ),
    }
)


@dataclass
class Projects:
    """Every generated project and the cultivation facts, with the truth the manifest keeps."""

    months: list[str]
    project_id: np.ndarray
    enterprise: np.ndarray  # population index
    category: np.ndarray
    tech_type: np.ndarray  # "" unless 技改
    chain: np.ndarray
    total: np.ndarray  # 万元
    responsible: np.ndarray
    planned: np.ndarray  # (n, 4) datetime64[D] planned stage dates
    actual: np.ndarray  # (n, 4) datetime64[D], NaT = not reached by the end
    monthly_plan: np.ndarray  # (n, T) 万元
    monthly_actual: np.ndarray  # (n, T) 万元
    problems: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    profile: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # year -> columns (all pop)
    qualifies: dict[str, list[str]] = field(default_factory=dict)
    near_miss: dict[str, list[str]] = field(default_factory=dict)
    treated: dict[int, tuple[str, int]] = field(default_factory=dict)  # enterprise -> (type, year)
    first_set: list[dict[str, Any]] = field(default_factory=list)  # recognised items, truth


def _month_index(months: list[str], day: np.datetime64) -> int:
    """Months from the first generated month to `day`'s (negative before it, ≥ len(months)
    after the last), so investment is spread over a project's true span even where that runs
    past the generated years, and no edge month takes more than its share."""
    s = str(day)[:7]
    return (int(s[:4]) - int(months[0][:4])) * 12 + int(s[5:7]) - int(months[0][5:7])


def _chain_of(industry: np.ndarray) -> np.ndarray:
    table = {code: c.name for c in reference.chains() for code in c.industry_codes}
    return np.array([table.get(str(code), "") for code in industry], dtype=object)


def build_projects(pop: Population, acc: Accounts, streams: Streams) -> Projects:
    """Draw the pipeline, the stages, the monthly investment, the 技改 effect and the profile."""
    rng = streams("projects", "pipeline")
    years = list(pop.years)
    months = [f"{y}-{m:02d}" for y in years for m in range(1, 13)]
    T = len(months)
    first = np.datetime64(f"{years[0]}-01-01")
    last_day = np.datetime64(f"{years[-1]}-12-31")
    k_last = acc.index(years[-1])
    eligible = np.flatnonzero(pop.industrial_above & acc.active[0] & acc.active[k_last])
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    taken = np.zeros(pop.n, bool)
    for cat in ("重大项目", "招引项目", "技改项目"):
        per_year = max(MIN_PER_YEAR[cat], round(PER_YEAR[cat] * acc.scale))
        n = min(per_year * len(years), int((~taken[eligible]).sum()))
        pool = eligible[~taken[eligible]]
        who = rng.choice(pool, n, replace=False)  # one project per enterprise: a clean DiD
        taken[who] = True
        # Signed over the years; the last year's pipeline signs until September.
        # the number signed grows by PIPELINE_GROWTH a year (project assumption).
        span = int((np.datetime64(f"{years[-1]}-09-30") - first).astype(int)) + 180
        days = np.arange(span)
        weight = np.exp(np.log1p(PIPELINE_GROWTH) * days / 365.25)
        offset = rng.choice(days, n, p=weight / weight.sum())
        signed = first - np.timedelta64(180, "D") + offset.astype("timedelta64[D]")
        parts.append((cat, who, signed))
    category = np.concatenate([np.full(p[1].shape[0], p[0], dtype=object) for p in parts])
    ent = np.concatenate([p[1] for p in parts])
    signed = np.concatenate([p[2] for p in parts])
    n = ent.shape[0]
    order = np.lexsort((ent, signed))
    category, ent, signed = category[order], ent[order], signed[order]
    tech = np.where(category == "技改项目", rng.choice(np.array(TECH_TYPES, dtype=object), n), "")
    rev = np.nan_to_num(acc.revenue[0][ent], nan=2000.0)
    scale_total = {"重大项目": 2.0, "招引项目": 1.2, "技改项目": 0.25}
    total = np.round(
        np.array([scale_total[c] for c in category]) * np.maximum(rev, 3000) * rng.lognormal(0, 0.4, n), 0
    )
    gaps = np.stack(
        [np.zeros(n), rng.integers(45, 150, n), rng.integers(240, 480, n), rng.integers(120, 300, n)], axis=1
    ).astype(int)
    planned = signed[:, None] + np.cumsum(gaps, axis=1).astype("timedelta64[D]")
    delay = np.where(rng.random((n, 4)) < DELAY_SHARE, rng.integers(20, 120, (n, 4)), 0)
    delay[:, 0] = 0
    actual = signed[:, None] + np.cumsum(gaps + delay, axis=1).astype("timedelta64[D]")
    actual = np.where(actual <= last_day, actual, np.datetime64("NaT"))
    plan_m = np.zeros((n, T))
    act_m = np.zeros((n, T))
    for i in range(n):  # investment spread evenly from start to production, 5% after
        a = _month_index(months, planned[i, 1])
        b = max(_month_index(months, planned[i, 2]), a + 1)
        cols = np.arange(max(a, 0), min(b, T))
        if cols.size:
            plan_m[i, cols] = total[i] * 0.95 / (b - a)
        s_act = actual[i, 1]
        if not np.isnat(s_act):
            a2 = _month_index(months, s_act)
            p_act = actual[i, 2]
            b2 = _month_index(months, p_act) if not np.isnat(p_act) else b + (a2 - a)
            b2 = max(b2, a2 + 1)
            cols2 = np.arange(max(a2, 0), min(b2, T))
            if cols2.size:
                act_m[i, cols2] = total[i] * 0.95 / (b2 - a2) * rng.lognormal(0, 0.15, cols2.size)
    out = Projects(
        months=months,
        project_id=np.array([f"XM{pop.county_code[e]}{i + 1:05d}" for i, e in enumerate(ent)]),
        enterprise=ent,
        category=category,
        tech_type=tech,
        chain=_chain_of(pop.industry_code[ent]),
        total=total,
        responsible=np.where(category == "招引项目", rng.choice(np.array(RESPONSIBLES, dtype=object), n), ""),
        planned=planned,
        actual=actual,
        monthly_plan=np.round(plan_m, 2),
        monthly_actual=np.round(act_m, 2),
    )
    prng = streams("projects", "problems")
    for i in range(n):
        s, p = out.actual[i, 1], out.actual[i, 2]
        if np.isnat(s):
            continue
        a = max(_month_index(months, s), 0)
        b = _month_index(months, p) if not np.isnat(p) else T
        for t in range(a, min(b, T)):
            if prng.random() < PROBLEM_RATE:
                out.problems[(i, t)] = PROBLEMS[int(prng.integers(0, len(PROBLEMS)))]
    for i in np.flatnonzero(category == "技改项目").tolist():
        p = actual[i, 2]
        if not np.isnat(p):
            out.treated[int(ent[i])] = (str(tech[i]), int(str(p)[:4]))
    _profile(out, pop, acc, streams)
    _first_set(out, pop, acc, streams)
    return out


def _first_set(out: Projects, pop: Population, acc: Accounts, streams: Streams) -> None:
    """The year's 首台(套) recognitions, in two published batches, from their own stream."""
    rng = streams("projects", "first_set")
    per_year = max(FIRST_SET_MIN, round(FIRST_SET_PER_YEAR * acc.scale))
    categories = np.array(list(FIRST_SET_CATEGORY), dtype=object)
    levels = np.array(list(FIRST_SET_LEVEL), dtype=object)
    for k, year in enumerate(pop.years):
        makers = np.flatnonzero(pop.industrial_above & acc.active[k])
        if makers.size == 0:
            continue
        rev = np.nan_to_num(acc.revenue[k][makers], nan=0.0)
        rd = np.nan_to_num(acc.rd[k][makers], nan=0.0)
        weight = 0.002 + np.where(rev > 0, rd / np.maximum(rev, 1e-9), 0.0)
        who = rng.choice(makers, min(per_year, makers.size), replace=False, p=weight / weight.sum())
        cat = rng.choice(categories, who.size, p=list(FIRST_SET_CATEGORY.values()))
        lvl = rng.choice(levels, who.size, p=list(FIRST_SET_LEVEL.values()))
        batch = rng.integers(0, len(FIRST_SET_BATCHES), who.size)
        for i, e in enumerate(sorted(who.tolist(), key=lambda e: str(pop.credit_code[e]))):
            name, day = FIRST_SET_BATCHES[int(batch[i])]
            products = FIRST_SET_PRODUCTS[str(cat[i])]
            out.first_set.append(
                {
                    "item_code": f"SZ{year}{i + 1:04d}",
                    "enterprise": int(e),
                    "product": products[int(rng.integers(0, len(products)))],
                    "category": str(cat[i]),
                    "level": str(lvl[i]),
                    "recognised_on": f"{year}-{day}",
                    "batch": f"{year}年{name}",
                    "year": int(year),
                }
            )


def _profile(out: Projects, pop: Population, acc: Accounts, streams: Streams) -> None:
    """Cultivation indicators by enterprise and year; some enterprises planted as champions."""
    rng = streams("projects", "profile")
    years = list(pop.years)
    N = pop.n
    k_last = len(years) - 1
    last = years[-1]
    age = (np.datetime64(f"{last}-12-31") - pop.founded).astype(int) / 365.25
    rev_last = np.nan_to_num(acc.revenue[k_last], nan=0.0)
    rd_share = np.where(rev_last > 0, np.nan_to_num(acc.rd[k_last]) / np.maximum(rev_last, 1e-9) * 100, 0)
    debt = np.clip(rng.beta(5, 4, N) * 100, 5, 98)
    share = np.clip(rng.beta(4, 3, N) * 100, 5, 100)
    products = rng.integers(1, 7, N)
    growth = rng.normal(3.0, 10.0, N)  # % a year of net profit
    scope = rng.choice(np.array(["无", "全省", "全国", "全球"]), N, p=[0.6, 0.2, 0.15, 0.05])
    rank = np.where(scope == "无", 0, rng.integers(1, 40, N))
    smart = rng.choice(np.arange(6), N, p=[0.25, 0.3, 0.25, 0.12, 0.06, 0.02])
    # Plant champions among those whose statistics already fit (age, revenue, R&D): half of them
    # get the profile of a 隐形冠军; a quarter of those lead their market worldwide.
    fits = pop.industrial_above & (age >= HIDDEN["age"]) & (rev_last >= HIDDEN["rev_min"])
    fits &= (rev_last <= HIDDEN["rev_max"]) & (rd_share >= HIDDEN["rd"]) & acc.active.all(axis=0)
    plant = fits & (rng.random(N) < 0.5)
    debt[plant] = rng.uniform(25, 65, plant.sum())
    share[plant] = rng.uniform(72, 98, plant.sum())
    products[plant] = rng.integers(1, 4, plant.sum())
    growth[plant] = rng.uniform(12, 30, plant.sum())
    world = plant & (rng.random(N) < 0.25)
    scope[plant] = "全国"
    rank[plant] = rng.integers(1, 4, plant.sum())
    scope[world] = "全球"
    rank[world] = rng.integers(1, 4, world.sum())
    big = pop.industrial_above & (rev_last >= CHAIN_LEADER["rev_min"]) & (rng.random(N) < 0.5)
    scope[big] = rng.choice(np.array(["全国", "全球"]), big.sum())
    rank[big] = rng.integers(1, 6, big.sum())
    base_profit = np.nan_to_num(acc.revenue[0], nan=0.0) * rng.uniform(0.03, 0.09, N)
    noise = rng.normal(0, 0.03, (len(years), N))
    for k, y in enumerate(years):
        who = pop.industrial_above & acc.active[k]
        rev = np.nan_to_num(acc.revenue[k], nan=0.0)
        effect = np.zeros(N)
        for e, (kind, prod_year) in out.treated.items():
            if y > prod_year:
                effect[e] = TECH_EFFECT[kind]
        assets = np.round(rev * rng.uniform(0.8, 1.6, N), 2)
        out.profile[y] = {
            "who": who,
            "total_assets": assets,
            "total_liabilities": np.round(assets * debt / 100, 2),
            "net_profit": np.round(base_profit * (1 + growth / 100) ** k, 2),
            "main_products": products,
            "main_product_share": np.round(share + noise[k] * 0, 2),
            "market_scope": scope,
            "market_rank": rank,
            "smart_level": smart,
            "output_value": np.round(rev * acc.output_ratio * np.exp(effect + noise[k]), 2),
        }
    _truth(out, pop, acc, age, rd_share)


def _truth(out: Projects, pop: Population, acc: Accounts, age: np.ndarray, rd_share: np.ndarray) -> None:
    """Who truly qualifies for each rung, from the values as written (2 decimals)."""
    years = list(pop.years)
    last = out.profile[years[-1]]
    rev = np.round(np.nan_to_num(acc.revenue[len(years) - 1], nan=0.0), 2)
    rd = np.round(np.nan_to_num(acc.rd[len(years) - 1], nan=0.0), 2)
    rd_share = np.where(rev > 0, rd / np.maximum(rev, 1e-9) * 100, 0.0)
    present = last["who"]
    profits = np.stack([np.where(out.profile[y]["who"], out.profile[y]["net_profit"], np.nan) for y in years])
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = (profits[1:] - profits[:-1]) / np.abs(profits[:-1]) * 100
    rates = np.where(np.isfinite(rates), rates, np.nan)  # a year missing or a zero profit: no rate
    held = np.isfinite(rates).any(axis=0)
    with np.errstate(invalid="ignore"):
        growth = np.where(held, np.nanmean(np.where(held, rates, 0.0), axis=0), -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        debt = np.where(
            last["total_assets"] > 0, last["total_liabilities"] / last["total_assets"] * 100, np.inf
        )
    share, scope, rank = last["main_product_share"], last["market_scope"], last["market_rank"]
    global10 = (scope == "全球") & (rank >= 1) & (rank <= 10)
    national3 = (scope == "全国") & (rank >= 1) & (rank <= 3)
    national10 = (scope == "全国") & (rank >= 1) & (rank <= 10)
    global3 = (scope == "全球") & (rank >= 1) & (rank <= 3)
    chain = _chain_of(pop.industry_code) != ""
    base = present & pop.industrial_above
    h = HIDDEN
    checks = {
        "hidden_champion": [
            age >= h["age"],
            rev >= h["rev_min"],
            rev <= h["rev_max"],
            growth >= h["growth"],
            debt <= h["debt"],
            last["main_products"] <= h["products"],
            share >= h["share"],
            global10 | national3,
            rd_share >= h["rd"],
        ],
        "little_giant": [
            age >= GIANT["age"],
            rev >= GIANT["rev_min"],
            share >= GIANT["share"],
            rd_share >= GIANT["rd"],
            debt <= GIANT["debt"],
            global10 | national10,
        ],
    }
    giant = base & np.all(checks["little_giant"], axis=0)
    checks["single_champion"] = [
        age >= SINGLE["age"],
        share >= SINGLE["share"],
        global3,
        (rev >= SINGLE["rev_small"]) | giant,
    ]
    checks["eagle"] = [rev >= EAGLE["rev_min"], rd_share >= EAGLE["rd"], global10 | national3]
    checks["chain_leader"] = [
        chain,
        rev >= CHAIN_LEADER["rev_min"],
        (scope != "无") & (rank >= 1) & (rank <= 5) & ((scope == "全国") | (scope == "全球")),
    ]
    checks["smart_factory"] = [last["smart_level"] >= SMART["level"]]
    checks["future_factory"] = [
        last["smart_level"] >= FUTURE["level"],
        rev >= FUTURE["rev_min"],
        rd_share >= FUTURE["rd"],
    ]
    for rung, conds in checks.items():
        stacked = np.stack([np.asarray(c, bool) for c in conds])
        ok = base & stacked.all(axis=0)
        miss = base & (stacked.sum(axis=0) == stacked.shape[0] - 1)
        out.qualifies[rung] = sorted(str(c) for c in pop.credit_code[ok])
        out.near_miss[rung] = sorted(str(c) for c in pop.credit_code[miss])


def manifest_entry(p: Projects, pop: Population) -> dict[str, Any]:
    """The truth: projects with stages, the 技改 effect, and who qualifies for each rung."""
    n = p.project_id.shape[0]
    return {
        "note": "Generated projects (synth.projects). Stage dates are actual unless null (not reached "
        "by the last generated day); monthly investment in 万元. tech_effect: log-point effect of a "
        "技改 on 工业总产值 from the first full year after 投产 (project assumption), applied to "
        "enterprises listed in treated (credit code -> [type, production year]). qualifies: "
        "enterprises meeting every criterion of a rung on the last year's written values; near_miss: "
        "failing exactly one. Criteria in criteria (DOMAIN §11 where published, else assumptions).",
        "count": n,
        "by_category": {c: int((p.category == c).sum()) for c in ("重大项目", "技改项目", "招引项目")},
        "tech_effect": TECH_EFFECT,
        "treated": {str(pop.credit_code[e]): [k, y] for e, (k, y) in sorted(p.treated.items())},
        "criteria": {
            "hidden_champion": HIDDEN,
            "little_giant": GIANT,
            "single_champion": SINGLE,
            "eagle": EAGLE,
            "chain_leader": CHAIN_LEADER,
            "smart_factory": SMART,
            "future_factory": FUTURE,
        },
        "qualifies": p.qualifies,
        "near_miss": p.near_miss,
        "first_set": {
            "note": "首台(套)/首批次/首版次 recognitions as published (source first-set); each is in the "
            f"guidance catalogue for {FIRST_SET_VALIDITY_YEARS} years from its recognition date. Counts, "
            "batches, category and level shares are project assumptions (synth.projects).",
            "validity_years": FIRST_SET_VALIDITY_YEARS,
            "by_year": {
                str(y): sum(1 for i in p.first_set if i["year"] == y)
                for y in sorted({i["year"] for i in p.first_set})
            },
            "items": [
                {
                    "item_code": i["item_code"],
                    "credit_code": str(pop.credit_code[i["enterprise"]]),
                    "county_code": str(pop.county_code[i["enterprise"]]),
                    "product": i["product"],
                    "category": i["category"],
                    "level": i["level"],
                    "recognised_on": i["recognised_on"],
                }
                for i in p.first_set
            ],
        },
        "projects": [
            {
                "project_id": str(p.project_id[i]),
                "credit_code": str(pop.credit_code[p.enterprise[i]]),
                "county_code": str(pop.county_code[p.enterprise[i]]),
                "category": str(p.category[i]),
                "tech_type": str(p.tech_type[i]) or None,
                "total_investment": float(p.total[i]),
                "planned": [str(d) for d in p.planned[i]],
                "actual": [None if np.isnat(d) else str(d) for d in p.actual[i]],
                "investment_by_month": {
                    m: float(p.monthly_actual[i, t]) for t, m in enumerate(p.months) if p.monthly_actual[i, t]
                },
            }
            for i in range(n)
        ],
    }
