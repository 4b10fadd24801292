"""Risk scenario at scale: scoring enterprise-months and analysing a guarantee network.

    .venv/bin/python bench/bench_risk.py [--rows 1000000] [--enterprises 100000]

1. Scoring: a scorecard is fitted on a small generated province (the real fitting path), then
   `rows` enterprise-months are drawn by resampling its characteristics (with noise) and
   scored: points per characteristic, score, probability, points lost and reason codes
   (`FittedScorecard.score` + `reason_arrays`), against a pandas baseline doing the same with
   `pd.cut` + `map` per characteristic and a row-wise `rank` for the reason codes.
2. Network: `enterprises` enterprises with guarantees drawn as the generator draws them (30% of
   enterprises borrow under 1–2 guarantees, 30% of those answered by a counter-guarantee, 1%
   start a 3–4 member circle), 2% of them distressed; circles, chains and exposure with
   `risk.contagion` (rustworkx components, exposure on the edge table) against networkx
   (strongly/weakly connected components, exposure node by node).
CPU seconds (`time.process_time`) are reported next to wall-clock: the machine is shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from jingxin.core.warehouse import open_warehouse
from jingxin.risk.config import load_config
from jingxin.risk.contagion import build_network, exposure
from jingxin.risk.service import fit_as_of, prepared
from jingxin.risk.testing import build_risk_province


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def scoring(rows: int) -> dict:
    cfg = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        url, _ = build_risk_province(Path(tmp), 1500, 3)
        wh = open_warehouse(url)
        df = prepared(wh, cfg)
        model = fit_as_of(df, pd.Timestamp("2021-06-01"), cfg)
        wh.close()
    rng = np.random.default_rng(1)
    base = df[model.features].reset_index(drop=True)
    big = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    for f in ("insured_change_6m", "tax_change_6m", "power_change_6m"):
        big[f] = big[f] + rng.normal(0, 0.01, rows)

    def ours():
        s = model.score(big)
        return s, model.reason_arrays(s)

    (scored, codes), w1, c1 = timed(ours)

    def baseline():
        pts = pd.DataFrame(index=big.index)
        for f in model.features:
            optb = model.card.binning_process_.get_binned_variable(f)
            edges = np.concatenate([[-np.inf], optb.splits, [np.inf]])
            idx = pd.cut(big[f], edges, right=False, labels=False)
            idx = idx.fillna(model.tables[f].index.max()).astype(int)
            pts[f] = idx.map(model.tables[f])
        score = pts.sum(axis=1)
        lost = pd.DataFrame({f: model.best[f] - pts[f] for f in model.features})
        top = (lost.rank(axis=1, method="first", ascending=False) <= 3) & (lost > 0.005)
        return score, top

    (bscore, _), w2, c2 = timed(baseline)
    assert np.allclose(bscore.to_numpy(), scored["score"].to_numpy(), atol=0.05)
    return {"rows": rows, "ours": (w1, c1), "pandas": (w2, c2), "features": len(model.features)}


def network(n: int) -> dict:
    rng = np.random.default_rng(7)
    codes = np.array([f"E{i:08d}" for i in range(n)])
    county = rng.integers(0, 90, n)
    g, b = [], []
    borrowers = np.flatnonzero(rng.random(n) < 0.3)
    by_county = [np.flatnonzero(county == c) for c in range(90)]
    for br in borrowers.tolist():
        pool = by_county[county[br]] if rng.random() < 0.8 else None
        for _ in range(1 + int(rng.random() < 0.4)):
            gu = int(pool[rng.integers(0, len(pool))]) if pool is not None else int(rng.integers(0, n))
            if gu != br:
                g.append(gu), b.append(br)
                if rng.random() < 0.3:
                    g.append(br), b.append(gu)
    for s in np.flatnonzero(rng.random(n) < 0.01).tolist():
        pool = by_county[county[s]]
        members = [s, *rng.choice(pool, int(rng.integers(2, 4)), replace=False).tolist()]
        for x, y in zip(members, members[1:] + members[:1], strict=True):
            if x != y:
                g.append(x), b.append(y)
    edges = pd.DataFrame(
        {"guarantor_code": codes[g], "borrower_code": codes[b], "amount": rng.uniform(50, 5000, len(g))}
    )
    edges = edges.groupby(["guarantor_code", "borrower_code"], as_index=False)["amount"].sum()
    distressed = set(codes[rng.random(n) < 0.02])

    def ours():
        net = build_network(edges)
        return net, exposure(net, distressed)

    (net, exp), w1, c1 = timed(ours)

    def baseline():
        gr = nx.DiGraph()
        for a, c, amt in edges.itertuples(index=False):
            gr.add_edge(a, c, amount=amt)
        circles = [c for c in nx.strongly_connected_components(gr) if len(c) > 1]
        chains = list(nx.weakly_connected_components(gr))
        rows = []
        for node in gr.nodes:
            out_amt = sum(d["amount"] for _, y, d in gr.out_edges(node, data=True) if y in distressed)
            partners = set(gr.successors(node)) | set(gr.predecessors(node))
            rows.append((node, out_amt, len(partners & distressed)))
        return circles, chains, rows

    (circles, chains, rows), w2, c2 = timed(baseline)
    assert len(circles) == len(net.circles) and len(chains) == len(net.chains)
    got = exp.set_index("credit_code")
    for node, amt, k in rows[:2000]:
        assert (
            abs(got.at[node, "exposure_distressed"] - amt) < 0.05 and got.at[node, "distressed_partners"] == k
        )
    return {
        "enterprises": n,
        "in_network": len(exp),
        "guarantees": len(edges),
        "circles": len(net.circles),
        "chains": len(net.chains),
        "ours": (w1, c1),
        "networkx": (w2, c2),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--enterprises", type=int, default=100_000)
    a = p.parse_args()
    s = scoring(a.rows)
    print(
        f"scoring {s['rows']:,} enterprise-months ({s['features']} characteristics): "
        f"ours wall {s['ours'][0]:.1f} s CPU {s['ours'][1]:.1f} s; "
        f"pandas wall {s['pandas'][0]:.1f} s CPU {s['pandas'][1]:.1f} s; "
        f"CPU ratio {s['pandas'][1] / s['ours'][1]:.1f}×"
    )
    n = network(a.enterprises)
    print(
        f"network {n['enterprises']:,} enterprises ({n['in_network']:,} in the network, "
        f"{n['guarantees']:,} guarantees, {n['circles']:,} circles, {n['chains']:,} chains): "
        f"ours wall {n['ours'][0]:.1f} s CPU {n['ours'][1]:.1f} s; "
        f"networkx wall {n['networkx'][0]:.1f} s CPU {n['networkx'][1]:.1f} s; "
        f"CPU ratio {n['networkx'][1] / n['ours'][1]:.1f}×"
    )


if __name__ == "__main__":
    main()
