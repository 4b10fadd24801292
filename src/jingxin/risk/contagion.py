"""Contagion along guarantees (担保链传染): the guarantee network, its circles and chains, each
enterprise's exposure to distressed partners, and the configured rules that raise grades.

The network of a month holds every guarantee in force that month (担保起始日 ≤ month ≤
担保到期日), an edge guarantor → borrower weighted by the amount. A guarantee circle (担保圈)
is a strongly connected component of two or more enterprises (互保, 联保: each stands for
another that, through others, stands for it); a guarantee chain (担保链) is a weakly connected
component (everyone linked by guarantees in either direction). Built with networkx.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import networkx as nx
import pandas as pd
from ibis import _

from jingxin.core.warehouse import Warehouse
from jingxin.risk.config import GRADE_RANK, KEY, ContagionRule


def guarantees_in_force(wh: Warehouse, month: pd.Timestamp) -> pd.DataFrame:
    """Guarantees in force in `month` (from that year's 担保关系 file), one row per pair."""
    day = month.date()
    end = (month + pd.offsets.MonthEnd(0)).date()
    g = wh.current("guarantees")
    expr = (
        g.filter((_.year == month.year) & (_.start_on <= ibis.literal(end)) & (_.end_on >= ibis.literal(day)))
        .group_by(["guarantor_code", "borrower_code"])
        .aggregate(amount=_.amount.sum(), batch_id=_.batch_id.max())
    )
    return wh.execute(expr)


@dataclass
class Network:
    graph: nx.DiGraph
    circle_of: dict[str, int]  # credit code → circle number (only members of a circle)
    chain_of: dict[str, int]  # credit code → chain number
    circles: list[list[str]]
    chains: list[list[str]]


def build_network(edges: pd.DataFrame) -> Network:
    g = nx.DiGraph()
    for a, b, amt in edges[["guarantor_code", "borrower_code", "amount"]].itertuples(index=False):
        g.add_edge(a, b, amount=float(amt))
    circles = sorted((sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1), key=lambda c: (-len(c), c[0]))
    chains = sorted((sorted(c) for c in nx.weakly_connected_components(g)), key=lambda c: (-len(c), c[0]))
    circle_of = {code: k for k, c in enumerate(circles) for code in c}
    chain_of = {code: k for k, c in enumerate(chains) for code in c}
    return Network(g, circle_of, chain_of, circles, chains)


def exposure(net: Network, distressed: set[str]) -> pd.DataFrame:
    """Per enterprise in the network: amount it guarantees for distressed borrowers, count of
    distressed partners (either direction), circle and chain numbers and sizes."""
    rows = []
    g = net.graph
    for code in g.nodes:
        out_amt = sum(d["amount"] for _, b, d in g.out_edges(code, data=True) if b in distressed)
        partners = {b for _, b in g.out_edges(code)} | {a for a, _ in g.in_edges(code)}
        circle = net.circle_of.get(code)
        rows.append(
            {
                "credit_code": code,
                "exposure_distressed": round(out_amt, 2),
                "distressed_partners": len(partners & distressed),
                "guaranteed_for": round(sum(d["amount"] for _, _, d in g.out_edges(code, data=True)), 2),
                "circle": -1 if circle is None else circle,
                "circle_size": 0 if circle is None else len(net.circles[circle]),
                "chain": net.chain_of[code],
                "chain_size": len(net.chains[net.chain_of[code]]),
            }
        )
    return pd.DataFrame(rows)


def _partners(net: Network, code: str, relation: str) -> set[str]:
    g = net.graph
    if code not in g:
        return set()
    if relation == "guarantees_for":
        return {b for _, b in g.out_edges(code)}
    if relation == "borrows_from":
        return {a for a, _ in g.in_edges(code)}
    circle = net.circle_of.get(code)
    return set() if circle is None else set(net.circles[circle]) - {code}


def apply_contagion(
    grades: pd.DataFrame, net: Network, rules: list[ContagionRule]
) -> pd.DataFrame:
    """Raise grades by the contagion rules. `grades` has credit_code, grade, materialised
    (already in distress). Adds `contagion` (list of (rule id, partner code)) and replaces
    `grade` with the raised one; `grade_before_contagion` keeps the scorecard/rule grade."""
    out = grades.copy()
    out["grade_before_contagion"] = out["grade"]
    materialised = set(out.loc[out["materialised"], "credit_code"])
    key = set(out.loc[out["grade"] == KEY, "credit_code"])
    hits: list[list[tuple[str, str]]] = []
    raised = []
    for code, grade in out[["credit_code", "grade"]].itertuples(index=False):
        found: list[tuple[str, str]] = []
        best = grade
        for rule in rules:
            pool = materialised if rule.partner == "materialised" else key
            partners = sorted(_partners(net, code, rule.relation) & pool)
            if partners:
                found.append((rule.id, partners[0]))
                if GRADE_RANK[rule.raise_to] > GRADE_RANK[best]:
                    best = rule.raise_to
        hits.append(found)
        raised.append(best)
    out["contagion"] = hits
    out["grade"] = raised
    return out
