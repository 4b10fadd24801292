"""Contagion along guarantees (担保链传染): the guarantee network, its circles and chains, each
enterprise's exposure to distressed partners, and the configured rules that raise grades.

The network of a month holds every guarantee in force that month (担保起始日 ≤ month ≤
担保到期日), an edge guarantor → borrower weighted by the amount. A guarantee circle (担保圈)
is a strongly connected component of two or more enterprises (互保, 联保: each stands for
another that, through others, stands for it); a guarantee chain (担保链) is a weakly connected
component (everyone linked by guarantees in either direction). Components are computed with
rustworkx (a Rust graph library, the same algorithms as networkx and much faster on a
province's 100k-enterprise network, see docs/benchmarks.md); the networkx graph is kept for the
neighbourhood queries of one enterprise. Exposure is computed on the edge table at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import networkx as nx
import numpy as np
import pandas as pd
import rustworkx as rx
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


def components(edges: pd.DataFrame) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(nodes, circles, chains) of a guarantee edge table, with rustworkx."""
    codes, inverse = np.unique(
        np.concatenate([edges["guarantor_code"].to_numpy(str), edges["borrower_code"].to_numpy(str)]),
        return_inverse=True,
    )
    m = len(edges)
    g = rx.PyDiGraph(multigraph=False)
    g.add_nodes_from(range(len(codes)))
    g.add_edges_from_no_data(list(zip(inverse[:m].tolist(), inverse[m:].tolist(), strict=True)))
    names = codes.tolist()
    circles = sorted(
        (sorted(names[i] for i in c) for c in rx.strongly_connected_components(g) if len(c) > 1),
        key=lambda c: (-len(c), c[0]),
    )
    chains = sorted(
        (sorted(names[i] for i in c) for c in rx.weakly_connected_components(g)),
        key=lambda c: (-len(c), c[0]),
    )
    return names, circles, chains


def build_network(edges: pd.DataFrame) -> Network:
    g = nx.DiGraph()
    g.add_weighted_edges_from(
        edges[["guarantor_code", "borrower_code", "amount"]].itertuples(index=False, name=None),
        weight="amount",
    )
    if len(edges):
        _, circles, chains = components(edges)
    else:
        circles, chains = [], []
    circle_of = {code: k for k, c in enumerate(circles) for code in c}
    chain_of = {code: k for k, c in enumerate(chains) for code in c}
    return Network(g, circle_of, chain_of, circles, chains)


def exposure(net: Network, distressed: set[str]) -> pd.DataFrame:
    """Per enterprise in the network: amount it guarantees for distressed borrowers, count of
    distressed partners (either direction), circle and chain numbers and sizes."""
    cols = [
        "credit_code",
        "exposure_distressed",
        "distressed_partners",
        "guaranteed_for",
        "circle",
        "circle_size",
        "chain",
        "chain_size",
    ]
    if net.graph.number_of_edges() == 0:
        return pd.DataFrame(columns=cols)
    e = nx.to_pandas_edgelist(net.graph, source="g", target="b")
    e["hit"] = e["b"].isin(distressed)
    out = pd.DataFrame({"credit_code": list(net.graph.nodes)})
    given = e.groupby("g").agg(guaranteed_for=("amount", "sum"))
    given["exposure_distressed"] = e[e["hit"]].groupby("g")["amount"].sum()
    pairs = pd.concat(
        [e[["g", "b"]].set_axis(["x", "y"], axis=1), e[["b", "g"]].set_axis(["x", "y"], axis=1)]
    ).drop_duplicates()
    partners = pairs[pairs["y"].isin(distressed)].groupby("x").size().rename("distressed_partners")
    out = out.join(given, on="credit_code").join(partners, on="credit_code")
    out[["guaranteed_for", "exposure_distressed"]] = (
        out[["guaranteed_for", "exposure_distressed"]].fillna(0).round(2)
    )
    out["distressed_partners"] = out["distressed_partners"].fillna(0).astype(int)
    out["circle"] = out["credit_code"].map(net.circle_of).fillna(-1).astype(int)
    sizes = np.array([len(c) for c in net.circles] + [0])
    out["circle_size"] = sizes[out["circle"].to_numpy()]
    out["chain"] = out["credit_code"].map(net.chain_of).astype(int)
    out["chain_size"] = np.array([len(c) for c in net.chains])[out["chain"].to_numpy()]
    return out[cols]


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


def apply_contagion(grades: pd.DataFrame, net: Network, rules: list[ContagionRule]) -> pd.DataFrame:
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
