"""Reading policy decisions within a user's scope (政策匹配查询).

Every function takes a `Scope`; the facts are restricted by it before anything is matched, so an
enterprise only ever sees its own decisions and a county its own enterprises.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.policies.config import Policy, get_policy, load_catalogue
from jingxin.policies.facts import fact_table
from jingxin.policies.matching import by_county, match, match_all, trace, unprefix, what_if


class NoFacts(LookupError):
    """The warehouse holds no facts of the year a decision needs."""


def latest_data_year(wh: Warehouse) -> int | None:
    """The newest year of the annual statistics in the warehouse (None when empty)."""
    if not wh.has_table("statistics"):
        return None
    t = wh.table("statistics")
    value = wh.execute(t.year.max())
    return None if value is None or value != value else int(value)


def default_day(wh: Warehouse) -> dt.date:
    """The decision date when none is given: 1 June of the year after the newest data year
    (annual figures of year Y are final in spring of Y+1; project assumption)."""
    year = latest_data_year(wh)
    if year is None:
        raise NoFacts("数据仓库中还没有年度统计数据，无法匹配政策；请先入库。")
    return dt.date(year + 1, 6, 1)


def facts_in_scope(wh: Warehouse, scope: Scope, year: int) -> ibis.Table:
    return scope.restrict(fact_table(wh, year))


def matched(
    wh: Warehouse, scope: Scope, policy: Policy, day: dt.date, overrides: dict[str, Any] | None = None
) -> ibis.Table:
    return match(facts_in_scope(wh, scope, policy.data_year_for(day)), policy, day, overrides)


def policy_info(policy: Policy, day: dt.date) -> dict[str, Any]:
    return {
        "id": policy.id,
        "title": policy.title,
        "issuer": policy.issuer,
        "document": policy.document,
        "summary": policy.summary,
        "valid_from": policy.valid_from.isoformat(),
        "valid_until": policy.valid_until.isoformat() if policy.valid_until else None,
        "mode": policy.mode,
        "mode_label": policy.mode_label,
        "kind": policy.kind,
        "in_force": policy.in_force(day),
        "fingerprint": policy.fingerprint(),
        "conditions": [{"id": c.id, "label": c.label, "test": c.test} for c in policy.conditions],
        "benefit": policy.benefit,
        "parameters": {
            name: {
                "label": p.label,
                "unit": p.unit,
                "source": p.source,
                "value": p.at(day),
                "history": [{"since": v.since.isoformat(), "value": v.value} for v in p.values],
            }
            for name, p in policy.parameters.items()
        },
    }


def summary(wh: Warehouse, scope: Scope, policy_id: str, day: dt.date) -> dict[str, Any]:
    """The policy and, per county in scope, enterprises matched, qualifying and the amount."""
    policy = get_policy(policy_id)
    rows = wh.to_pyarrow(by_county(matched(wh, scope, policy, day))).to_pylist()
    return {
        "policy": policy_info(policy, day),
        "day": day.isoformat(),
        "data_year": policy.data_year_for(day),
        "by_county": rows,
        "eligible": sum(r["eligible"] or 0 for r in rows),
        "amount": round(sum(r["amount"] or 0.0 for r in rows), 2),
    }


def beneficiaries(
    wh: Warehouse,
    scope: Scope,
    policy_id: str,
    day: dt.date,
    county: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Qualifying enterprises with their amount, largest first (the payout list's source)."""
    policy = get_policy(policy_id)
    t = matched(wh, scope, policy, day)
    t = t.filter(t.eligible)
    if county:
        t = t.filter(t.county_code == county)
    t = t.select("credit_code", "name", "county_code", "amount").order_by(
        [ibis.desc("amount"), "credit_code"]
    )
    if limit:
        t = t.limit(limit)
    return wh.to_pyarrow(t).to_pylist()


def decision(
    wh: Warehouse,
    scope: Scope,
    policy_id: str,
    credit_code: str,
    day: dt.date,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The trace of one enterprise's decision, or None when it is not in scope or not registered."""
    policy = get_policy(policy_id)
    t = matched(wh, scope, policy, day, overrides)
    rows = wh.to_pyarrow(t.filter(t.credit_code == credit_code)).to_pylist()
    return trace(rows[0], policy, day, overrides) if rows else None


def decisions_for(wh: Warehouse, scope: Scope, credit_code: str, day: dt.date) -> list[dict[str, Any]]:
    """Every policy's decision for one enterprise (the code page), qualifying ones first;
    empty when the enterprise is not in scope. One query for all policies."""
    policies = list(load_catalogue().values())
    facts = facts_in_scope(wh, scope, day.year - 1)
    facts = facts.filter(facts.credit_code == credit_code)
    rows = wh.to_pyarrow(match_all(facts, policies, day)).to_pylist()
    if not rows:
        return []
    out = []
    for policy in policies:
        d = trace(unprefix(rows[0], policy), policy, day)
        if d is not None:
            d["title"] = policy.title
            d["mode_label"] = policy.mode_label
            d["kind"] = policy.kind
            d["document"] = policy.document
            out.append(d)
    out.sort(key=lambda d: (not d["eligible"], d["policy"]))
    return out


def simulate(
    wh: Warehouse, scope: Scope, policy_id: str, day: dt.date, overrides: dict[str, Any]
) -> dict[str, Any]:
    """A what-if of parameter values before publishing: per county, who enters, who leaves, the money."""
    policy = get_policy(policy_id)
    policy.params_at(day, overrides)  # refuses unknown parameters
    facts = facts_in_scope(wh, scope, policy.data_year_for(day))
    rows = wh.to_pyarrow(what_if(facts, policy, day, overrides)).to_pylist()
    keys = (
        "eligible_before",
        "eligible_after",
        "entering",
        "leaving",
        "amount_before",
        "amount_after",
        "amount_change",
    )
    total = {k: round(sum((r[k] or 0) for r in rows), 2) for k in keys}
    return {
        "policy": policy.id,
        "day": day.isoformat(),
        "overrides": overrides,
        "by_county": rows,
        "total": total,
    }


def parse_overrides(policy: Policy, items: list[str]) -> dict[str, Any]:
    """``name=value`` pairs of a what-if, typed like the parameter they replace (list: a|b)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in policy.parameters:
            raise ValueError(
                f"参数 {item!r} 应写成 名称=数值；{policy.id} 的参数：{'、'.join(policy.parameters)}"
            )
        current = policy.parameters[name].values[-1].value
        if isinstance(current, list):
            out[name] = [v for v in raw.split("|") if v]
        elif isinstance(current, str):
            out[name] = raw
        else:
            try:
                out[name] = float(raw)
            except ValueError:
                raise ValueError(f"参数 {name} 应为数值，收到 {raw!r}") from None
    return out
