"""Explanations a business owner understands (评价结果解读).

For each indicator: the value, the reference, the points earned and the points lost against
the reference, in plain Chinese. And the smallest change of a single indicator that would lift
the enterprise one class: the score gap to the lowest total of the next class in its group
(or to the threshold), turned into the value each indicator would need with everything else
held fixed (other enterprises, references), and the cheapest in relative terms.

`lift_options` computes those needed values for every enterprise of a run at once (Ibis);
`explain` formats one enterprise, for a `Visibility`: a role without clearance gets no figure
that depends on tax (see `jingxin.core.visibility`), so the sentences are written without them
rather than masked afterwards (a masked number inside a sentence is easy to miss).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import ibis

from jingxin.core.audit import MASK
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.visibility import FULL, Visibility
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import class_index
from jingxin.evaluation.compute import Params, class_key
from jingxin.evaluation.config import GROUP_NAMES, Indicator, System
from jingxin.evaluation.formula import parse_formula
from jingxin.evaluation.runs import load_run, run_system
from jingxin.evaluation.service import results
from jingxin.evaluation.stored import stored_scores

STEP = 0.01
"""A lift must beat the cutoff by this many points (scores are shown to two decimals)."""


def fmt(x: float | None, digits: int = 2) -> str:
    """A number as people write it: up to `digits` decimals, no trailing zeros (0.0305 kept)."""
    if x is None or x != x:
        return "—"
    if abs(x) < 1 and x != 0:
        return f"{x:.3g}"
    text = f"{x:,.{digits}f}" if abs(x) >= 10000 else f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def points(x: float | None) -> str:
    return "—" if x is None or x != x else f"{x:.1f}".rstrip("0").rstrip(".")


def _value(x: float | None, unit: str) -> str:
    return f"{fmt(x)}{unit}"


def withheld_indicators(system: System, visibility: Visibility) -> set[str]:
    """Ids of the indicators whose figures `visibility` withholds (their formula reads a
    sensitive input, e.g. 亩均税收 and 单位电耗税收 read the tax paid)."""
    return {
        ind.id
        for ind in system.indicators
        if visibility.withholds_indicator(parse_formula(ind.formula).columns)
    }


# ---- set-based lift computation --------------------------------------------------------------
def class_cutoffs(wh: Warehouse, run_id: str, system: System) -> ibis.Table:
    """Per class group (`class_key`: the group a unit's class was decided in, a small group
    pooled within its county or city, tenants apart): the lowest total of each class (a unit
    counted once). Column `class_key` and one `cut_<class>` per class."""
    t = wh.table("eval_results")
    t = t.filter((t.run_id == run_id) & t.is_lead)
    metrics = {
        f"cut_{class_key(c)}": t.total_score.min(where=t.score_class == c) for c in system.classes.all_classes
    }
    return t.group_by("class_key").aggregate(**metrics)


def _needed_value(system: System, s: ibis.Table, needed: ibis.Value) -> ibis.Value:
    """The value that earns `needed` points on the indicator of row `s`, by scoring method."""
    sc = system.scoring
    higher = s.direction == "higher"
    per_weight = needed / s.weight.nullif(0)
    if sc.method == "minmax":
        frac = (per_weight * 100 - sc.minmax_floor) / (100 - sc.minmax_floor)
        return s.low_reference + frac * (s.reference - s.low_reference)
    return ibis.ifelse(higher, per_weight * s.reference, s.reference / per_weight.nullif(0))


def lift_options(
    wh: Warehouse, run_id: str, scope: Scope = EVERYTHING, credit_code: str | None = None
) -> ibis.Table:
    """For every enterprise in scope that can move up by score: the target class, the gap, and
    per indicator the value needed and the relative change (only feasible options).

    Columns: credit_code, target_class, cutoff, gap, indicator, value, needed_value,
    relative_change, needed_score, score, weight.
    """
    system = run_system(wh, run_id)
    run = load_run(wh, run_id)
    rule = system.classes
    names = rule.all_classes
    res = results(wh, run_id, scope)
    if credit_code is not None:
        res = res.filter(res.credit_code == credit_code)
    res = res.filter(res.veto_reason.isnull())
    # the cut-offs of the group the enterprise was ranked in, pooled or not
    cut = class_cutoffs(wh, run_id, system).rename(__class_key="class_key")
    res = res.left_join(cut, res.class_key == cut.__class_key).drop("__class_key")
    params = Params.build(system, int(run["year"]))
    res = params.attach(res)
    idx = class_index(res.score_class, rule)
    target = ibis.cases(*[(idx == i, names[i - 1]) for i in range(1, len(names))], else_=ibis.null("string"))

    def cutoff_of(cls: str) -> ibis.Value:
        if cls == "A+" and rule.a_plus is not None and rule.a_plus.threshold is not None:
            return ibis.literal(float(rule.a_plus.threshold))
        share_cut = res[f"cut_{class_key(cls)}"]
        if cls == "A+" or (rule.method == "shares" and "cls_thr" not in params.overridden):
            return share_cut
        thr = params.get(res, f"thr_{class_key(cls)}")
        if rule.method == "thresholds" and "cls_thr" not in params.overridden:
            return thr
        return ibis.ifelse(params.get(res, "cls_thr") == 1.0, thr, share_cut)

    cutoff = ibis.cases(*[(target == c, cutoff_of(c)) for c in names[:-1]], else_=ibis.null("float64"))
    res = res.mutate(target_class=target, cutoff=cutoff)
    res = res.mutate(gap=(res.cutoff - res.total_score + STEP).round(2))
    res = res.filter(ibis._.target_class.notnull(), ibis._.cutoff.notnull())
    res = res.select("credit_code", "target_class", "cutoff", "gap")
    s = stored_scores(wh, run_id)
    s = s.select(
        "credit_code", "indicator", "value", "reference", "low_reference", "weight", "score", "missing"
    )
    direction = ibis.cases(*[(s.indicator == i.id, i.direction) for i in system.indicators], else_="higher")
    s = s.mutate(direction=direction)
    j = res.join(s, "credit_code")
    j = j.filter((j.weight > 0) & ~j.missing & j.value.notnull() & (j.value != 0) & j.reference.notnull())
    needed_score = j.score + j.gap
    cap = system.scoring.cap_multiple
    if cap is not None:
        j = j.filter(needed_score <= j.weight * cap + 1e-9)
    needed_value = _needed_value(system, j, needed_score)
    rel = ibis.ifelse(
        j.direction == "higher",
        (needed_value - j.value) / j.value.abs(),
        (j.value - needed_value) / j.value.abs(),
    )
    out = j.mutate(needed_score=needed_score, needed_value=needed_value, relative_change=rel)
    out = out.filter(out.needed_value.notnull() & (out.relative_change > 0))
    return out.select(
        "credit_code",
        "target_class",
        "cutoff",
        "gap",
        "indicator",
        "value",
        "needed_value",
        "relative_change",
        "needed_score",
        "score",
        "weight",
    )


def cheapest_lifts(wh: Warehouse, run_id: str, scope: Scope = EVERYTHING) -> ibis.Table:
    """One row per enterprise: the single-indicator change with the smallest relative size."""
    opts = lift_options(wh, run_id, scope)
    rn = ibis.row_number().over(group_by="credit_code", order_by=[opts.relative_change, opts.indicator])
    return opts.mutate(__rn=rn).filter(ibis._.__rn == 0).drop("__rn")


# ---- one enterprise, in words ------------------------------------------------------------------
Shown = Any
"""A figure as shown: the number, or `****` when the viewer's visibility withholds it."""


@dataclass
class IndicatorLine:
    indicator: str
    name: str
    unit: str
    value: Shown
    reference: Shown
    weight: float
    score: Shown
    lost: Shown
    missing: Shown
    text: str


@dataclass
class LiftOption:
    indicator: str
    name: str
    unit: str
    value: float
    needed_value: float
    relative_change: float
    text: str


@dataclass
class Explanation:
    credit_code: str
    name: str
    year: int
    system: str
    total_score: Shown
    cls: str
    class_label: str
    summary: str
    indicators: list[IndicatorLine]
    notes: list[str]
    target_class: str | None = None
    gap: float | None = None
    options: list[LiftOption] = field(default_factory=list)
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def text(self) -> str:
        lines = [self.summary, *(i.text for i in self.indicators), *self.notes]
        if self.advice:
            lines.append(self.advice)
        return "\n".join(lines)


def indicator_text(ind: Indicator, row: dict[str, Any], system: System) -> str:
    """One sentence about one indicator (value, reference, points, points lost or gained)."""
    v, ref, w, s = row["value"], row["reference"], row["weight"], row["score"]
    label = {"minmax": "同组最优值", "benchmark": "标杆值"}.get(system.scoring.method, "参照值")
    unit = ind.unit
    rule = system.missing_rule(ind)
    if ind.weight == 0:
        return f"贵企业{ind.name}为{_value(v, unit)}，{label}{_value(ref, unit)}（此项仅作参考，不计分）。"
    if row["missing"]:
        if rule == "average":
            return (
                f"贵企业缺少计算{ind.name}所需的数据，此项按同组平均得分计{points(s)}分"
                f"（满分按{label}计{points(w)}分）。"
            )
        if rule == "reweight":
            return f"贵企业缺少计算{ind.name}所需的数据，此项不计分，其权重按其余指标重新分配。"
        return (
            f"贵企业缺少计算{ind.name}所需的数据，此项得0分（满分按{label}计{points(w)}分），"
            f"少得{points(w)}分。"
        )
    better = (v > ref) if ind.direction == "higher" else (v < ref)
    worse = (v < ref) if ind.direction == "higher" else (v > ref)
    if system.scoring.method == "minmax":
        head = (
            f"贵企业{ind.name}为{_value(v, unit)}，同组最优{_value(ref, unit)}、"
            f"最差{_value(row['low_reference'], unit)}，此项得分{points(s)}分（满分{points(w)}分）"
        )
        return head + (f"，少得{points(w - s)}分。" if w - s >= 0.05 else "。")
    relation = "高于" if v > ref else "低于" if v < ref else "等于"
    direction_note = "（该指标越低越好）" if ind.direction == "lower" else ""
    head = (
        f"贵企业{ind.name}为{_value(v, unit)}{direction_note}，{relation}{label}{_value(ref, unit)}，"
        f"此项得分{points(s)}分（满分按{label}计{points(w)}分）"
    )
    if worse and w - s >= 0.05:
        return head + f"，少得{points(w - s)}分。"
    if better and s - w >= 0.05:
        return head + f"，多得{points(s - w)}分。"
    return head + "。"


def explain(
    wh: Warehouse,
    run_id: str,
    credit_code: str,
    scope: Scope = EVERYTHING,
    visibility: Visibility = FULL,
) -> Explanation | None:
    """The explanation of one enterprise's result, or None if it has none in `scope`; every
    figure `visibility` withholds is left out of the numbers and the sentences alike."""
    rows = wh.to_pyarrow(results(wh, run_id, scope).filter(ibis._.credit_code == credit_code)).to_pylist()
    if not rows:
        return None
    r = rows[0]
    system = run_system(wh, run_id)
    run = load_run(wh, run_id)
    hidden = withheld_indicators(system, visibility)
    score_rows = {
        x["indicator"]: x for x in wh.to_pyarrow(stored_scores(wh, run_id, credit_code)).to_pylist()
    }
    lines = []
    for ind in system.indicators:
        row = score_rows.get(ind.id)
        if row is None:
            continue
        if ind.id in hidden:
            lines.append(
                IndicatorLine(
                    ind.id,
                    ind.name,
                    ind.unit,
                    MASK,
                    MASK,
                    row["weight"],
                    MASK,
                    MASK,
                    MASK,  # "no data" would say the tax is missing (scored as zero)
                    f"{ind.name}涉及税收数据，您的角色无权查看。",
                )
            )
            continue
        lines.append(
            IndicatorLine(
                ind.id,
                ind.name,
                ind.unit,
                row["value"],
                row["reference"],
                row["weight"],
                row["score"],
                max(0.0, row["weight"] - row["score"]),
                bool(row["missing"]),
                indicator_text(ind, row, system),
            )
        )
    rule = system.classes
    cls = r["class"]
    group = r.get("class_group") or GROUP_NAMES[rule.group]  # a pooled group says so
    if visibility.withholds("total_score"):
        summary = (
            f"贵企业{run['year']}年度{system.title}评为{cls}类（{rule.label(cls)}），本县（市、区）"
            f"共{r['county_count']}家参评企业，本县同行业{r['industry_count']}家。"
        )
    else:
        summary = (
            f"贵企业{run['year']}年度{system.title}得分{points(r['total_score'])}分，在本县（市、区）"
            f"{r['county_count']}家参评企业中排第{r['rank_in_county']}名，在本县同行业{r['industry_count']}家中"
            f"排第{r['rank_in_industry']}名，评为{cls}类（{rule.label(cls)}）。"
        )
    notes = _notes(r, visibility)
    exp = Explanation(
        credit_code,
        r["name"],
        int(run["year"]),
        system.id,
        MASK if visibility.withholds("total_score") else r["total_score"],
        cls,
        rule.label(cls),
        summary,
        lines,
        notes,
    )
    if r["veto_reason"]:
        exp.advice = "因一票否决，本年度不能通过提高指标改变类别。"
        return exp
    idx = rule.all_classes.index(r["score_class"])
    if idx == 0:
        exp.advice = f"贵企业已在{group}最高类别。"
        return exp
    target = rule.all_classes[idx - 1]
    exp.target_class = target
    if not visibility.shows_lift:
        # The gap to the next class gives the total score back (and with it the tax), and
        # every option's needed value gives the gap: none of it is shown.
        exp.advice = (
            f"距{target}类（{rule.label(target)}）的分差由综合得分算出，涉及税收数据，您的角色无权查看；"
            "可参考得分构成中其余指标的失分，找出提升方向。"
        )
        return exp
    opts = wh.to_pyarrow(
        lift_options(wh, run_id, scope, credit_code).order_by(["relative_change", "indicator"])
    ).to_pylist()
    if not opts:
        exp.advice = f"{group}没有{target}类名额，或单项指标无法弥补差距，需多项指标共同提升。"
        return exp
    exp.gap = opts[0]["gap"]
    for o in opts:
        ind = system.indicator(o["indicator"])
        verb = "提高" if ind.direction == "higher" else "降低"
        exp.options.append(
            LiftOption(
                ind.id,
                ind.name,
                ind.unit,
                o["value"],
                o["needed_value"],
                o["relative_change"],
                f"将{ind.name}从{_value(o['value'], ind.unit)}{verb}到{_value(o['needed_value'], ind.unit)}"
                f"（{verb}{fmt(o['relative_change'] * 100, 1)}%）",
            )
        )
    best = exp.options[0]
    exp.advice = (
        f"距{target}类（{rule.label(target)}）还差{points(exp.gap)}分。在其他指标不变的情况下，最容易的单项途径是"
        f"{best.text}。"
    )
    if r["deduction"] and r["deduction"] >= (exp.gap or 0):
        exp.advice += f"清理转租（现扣{points(r['deduction'])}分）也可升级。"
    return exp


def _notes(r: dict[str, Any], visibility: Visibility = FULL) -> list[str]:
    notes = []
    if r["deduction"]:
        notes.append(f"因存在{r['sublet_tenants']}户出租转租，扣{points(r['deduction'])}分。")
    if r["veto_reason"]:
        notes.append(f"因{r['veto_reason']}，实行一票否决，评为{r['class']}类。")
    if r["member_count"] and r["member_count"] > 1:
        notes.append(f"贵企业与同一宗地上的其他{r['member_count'] - 1}家企业合并评价，共享同一结果。")
    if r["prev_class"]:
        change = r["class_change"] or 0
        trend = "上升" if change > 0 else "下降" if change < 0 else "持平"
        if visibility.withholds("prev_score"):
            notes.append(f"上年度评为{r['prev_class']}类，本年度类别{trend}。")
        else:
            notes.append(
                f"上年度评为{r['prev_class']}类、得分{points(r['prev_score'])}分，本年度类别{trend}。"
            )
    policy = []
    if r["land_tax_relief_pct"]:
        policy.append(f"可享受城镇土地使用税减免{fmt(r['land_tax_relief_pct'])}%")
    if r["power_surcharge_yuan_per_kwh"]:
        policy.append(
            f"执行差别化电价，每千瓦时加价{fmt(r['power_surcharge_yuan_per_kwh'])}元"
            f"（已连续{r['consecutive_d_years']}年评为{r['class']}类）"
        )
    if r["energy_quota_change_pct"]:
        policy.append(f"用能指标调减{fmt(abs(r['energy_quota_change_pct']))}%")
    if r["priority_land"] or r["priority_funds"]:
        policy.append("在用地、资金等要素配置上优先保障")
    if policy:
        notes.append("按差别化政策，" + "；".join(policy) + "。")
    return notes
