"""The county index against the generated truth (synth/places.py, manifest ``places``).

Measures per evaluation group: Spearman rank correlation of the index with the latent quality,
how many of the truth's top N (N = the group's 天工鼎 count, at least 3) the index puts in its
top N, and the share of places whose true rank lies in the Monte Carlo rank interval.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from jingxin.places.county import CountyIndex

__all__ = ["county_truth_measures"]


def county_truth_measures(ci: CountyIndex, truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    year = str(ci.year)
    latent = {**truth["counties"][year], **truth["cities"][year]}
    out: dict[str, dict[str, Any]] = {}
    for g in ci.groups:
        t = g.table
        q = pd.Series({c: latent[c] for c in t.index})
        true_rank = q.rank(ascending=False, method="min")
        n = max(3, ci.config.tiangongding.groups.get(g.code, 0))
        top_true = set(true_rank[true_rank <= n].index)
        top_index = set(t.index[t["rank"] <= n])
        inside = ((true_rank >= t["rank_low"]) & (true_rank <= t["rank_high"])).mean()
        out[g.code] = {
            "places": len(t),
            "spearman": float(t["score"].corr(q, method="spearman")),
            "top_n": n,
            "top_hit": len(top_true & top_index),
            "truth_in_interval": float(inside),
        }
    return out
