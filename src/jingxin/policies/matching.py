"""Matching every enterprise against a policy, with the trace of each decision (匹配与留痕).

`match` is one Ibis expression over the facts table (`facts.fact_table`): a boolean column per
condition (a missing fact makes it false), `eligible`, the `amount` in 元 (NULL when not
eligible) and, for the trace, every fact the policy reads with the batch it came from. The
same expression runs on DuckDB, PostgreSQL and PySpark and on an in-memory table in the
policy tests. `trace` turns one row into the explanation an official or the enterprise reads,
including which single fact would change the decision; `what_if` compares the matching under
other parameter values, by county, before a change is published.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from jingxin.policies.config import Policy
from jingxin.policies.facts import FACTS, SOURCE_TITLES, batch_column
from jingxin.policies.rules import requirement, to_ibis

ID_COLUMNS = ("credit_code", "name", "county_code", "city_code")


def condition_column(condition_id: str) -> str:
    return f"c__{condition_id}"


def policy_facts(policy: Policy) -> list[str]:
    """Every fact the policy reads (conditions first, then the formula), in order."""
    out: list[str] = []
    for c in policy.conditions:
        out += [f for f in policy.rule(c).facts if f not in out]
    out += [f for f in policy.formula.facts if f not in out]
    return out


def policy_columns(
    facts: ibis.Table, policy: Policy, day: dt.date, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The decision columns of one policy as expressions over `facts`: a boolean per condition
    (a missing fact makes it false), `eligible` and `amount` (元, NULL when not eligible)."""
    params = policy.params_at(day, overrides)
    conds = {
        condition_column(c.id): to_ibis(policy.rule(c).tree, facts, params).fill_null(False)
        for c in policy.conditions
    }
    eligible = ibis.literal(policy.in_force(day))
    for expr in conds.values():
        eligible = eligible & expr
    amount = to_ibis(policy.formula.tree, facts, params).cast("float64").round(2)
    return {**conds, "eligible": eligible, "amount": ibis.ifelse(eligible, amount, ibis.null("float64"))}


def _trace_columns(facts: ibis.Table, policies: list[Policy]) -> list[str]:
    used: list[str] = []
    for p in policies:
        used += [f for f in policy_facts(p) if f not in used]
    batches = sorted({batch_column(FACTS[f].source) for f in used})
    keep = [c for c in ID_COLUMNS if c in facts.columns]
    keep += [f for f in used if f not in keep]
    return keep + [b for b in batches if b in facts.columns and b not in keep]


def match(
    facts: ibis.Table, policy: Policy, day: dt.date, overrides: dict[str, Any] | None = None
) -> ibis.Table:
    """Every enterprise of `facts` against `policy` on `day` (parameters in force that day,
    replaced by `overrides` for a what-if). Outside the period of validity nobody qualifies.
    Besides the decision columns it keeps every fact the policy reads and their batches."""
    return facts.select(*_trace_columns(facts, [policy]), **policy_columns(facts, policy, day, overrides))


def trace(
    row: dict[str, Any], policy: Policy, day: dt.date, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The explanation of one decision: each condition with the facts it read (value, unit,
    source, batch) and whether it held; the amount; and what would change the decision."""
    params = policy.params_at(day, overrides)
    conditions = []
    for c in policy.conditions:
        rule = policy.rule(c)
        read = []
        for f in rule.facts:
            fact = FACTS[f]
            read.append(
                {
                    "fact": f,
                    "title": fact.title,
                    "value": row.get(f),
                    "unit": fact.unit,
                    "source": fact.source,
                    "source_title": SOURCE_TITLES.get(fact.source, fact.source),
                    "batch": row.get(batch_column(fact.source)),
                }
            )
        missing = [r["title"] for r in read if r["value"] is None]
        conditions.append(
            {
                "id": c.id,
                "label": c.label,
                "test": c.test,
                "result": bool(row.get(condition_column(c.id))),
                "missing": missing,
                "facts": read,
                "requirement": requirement(rule, params),
            }
        )
    in_force = policy.in_force(day)
    eligible = bool(row.get("eligible"))
    return {
        "policy": policy.id,
        "credit_code": row.get("credit_code"),
        "day": day.isoformat(),
        "data_year": policy.data_year_for(day),
        "in_force": in_force,
        "eligible": eligible,
        "amount": row.get("amount"),
        "conditions": conditions,
        "parameters": params,
        "change": what_would_change(conditions, eligible, in_force),
    }


def what_would_change(conditions: list[dict[str, Any]], eligible: bool, in_force: bool) -> dict[str, Any]:
    """Which single fact would change the decision (改变哪一项即可改变结论).

    Not eligible: when exactly one condition fails, its fact and what it must be; when several
    fail, no single fact suffices (they are listed). Eligible: each condition whose fact, if it
    changed, would end eligibility."""
    if not in_force:
        return {"single": None, "text": "政策不在有效期内，任何数据变化都不改变结论。", "candidates": []}
    failing = [c for c in conditions if not c["result"]]
    if not eligible:
        if len(failing) == 1:
            c = failing[0]
            req = c["requirement"]
            if req is None:
                return {
                    "single": None,
                    "text": f"仅“{c['label']}”不满足；须使其成立。",
                    "candidates": [c["id"]],
                }
            title = FACTS[req["fact"]].title
            return {
                "single": req["fact"],
                "text": f"仅差一项：{title}{req['text']}即可享受。",
                "candidates": [c["id"]],
            }
        return {
            "single": None,
            "text": f"有{len(failing)}项条件不满足（{'、'.join(c['label'] for c in failing)}），改变任何单独一项都不足以享受。",  # noqa: E501
            "candidates": [c["id"] for c in failing],
        }
    watched = [c for c in conditions if c["requirement"] is not None]
    text = "；".join(
        f"{FACTS[c['requirement']['fact']].title}若不再{c['requirement']['text'][1:]}则不再享受"
        for c in watched
    )
    return {"single": None, "text": text or "已享受。", "candidates": [c["id"] for c in watched]}


def _count(flag: Any) -> Any:
    """How many rows have `flag` true (PostgreSQL cannot cast a boolean to a number)."""
    return ibis.ifelse(flag, 1, 0).sum().cast("int64")


def by_county(matched: ibis.Table) -> ibis.Table:
    """Enterprises that qualify and the amount, per county (sum over the eligible)."""
    m = matched
    return (
        m.group_by("county_code")
        .aggregate(
            enterprises=m.count(),
            eligible=_count(m.eligible),
            amount=m.amount.sum().fill_null(0.0),
        )
        .order_by("county_code")
    )


def what_if(facts: ibis.Table, policy: Policy, day: dt.date, overrides: dict[str, Any]) -> ibis.Table:
    """Per county: qualifying enterprises and money now and with `overrides`, and how many
    enterprises enter and leave (变更前后对比)."""
    now = match(facts, policy, day).select("credit_code", "county_code", e0="eligible", a0="amount")
    then = match(facts, policy, day, overrides).select(k="credit_code", e1="eligible", a1="amount")
    j = now.join(then, now.credit_code == then.k)
    return (
        j.group_by("county_code")
        .aggregate(
            eligible_before=_count(j.e0),
            eligible_after=_count(j.e1),
            entering=_count(j.e1 & ~j.e0),
            leaving=_count(j.e0 & ~j.e1),
            amount_before=j.a0.sum().fill_null(0.0),
            amount_after=j.a1.sum().fill_null(0.0),
        )
        .mutate(amount_change=ibis._.amount_after - ibis._.amount_before)
        .order_by("county_code")
    )


def prefixed(policy_id: str, column: str) -> str:
    return f"{policy_id}__{column}"


def match_all(facts: ibis.Table, policies: list[Policy], day: dt.date) -> ibis.Table:
    """Every enterprise against every policy in ONE query (one compile, one scan): the facts,
    their batches and, per policy, its condition columns, `eligible` and `amount` prefixed with
    the policy id. `unprefix` gives one policy's row back for `trace`."""
    cols: dict[str, Any] = {}
    for policy in policies:
        for name, expr in policy_columns(facts, policy, day).items():
            cols[prefixed(policy.id, name)] = expr
    return facts.select(*_trace_columns(facts, policies), **cols)


def unprefix(row: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """One policy's columns of a `match_all` row, named as `match` names them."""
    out = {k: v for k, v in row.items() if "__" not in k or k.endswith("__batch")}
    start = f"{policy.id}__"
    out.update({k[len(start) :]: v for k, v in row.items() if k.startswith(start)})
    return out
