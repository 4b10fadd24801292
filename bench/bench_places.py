"""Places at scale: the county index's Monte Carlo and 10,000 小微企业园 rated.

    .venv/bin/python bench/bench_places.py [--draws 1000] [--parks 10000]

1. The county index of the 90 counties (generated figures, `synth/places.py`) with `draws`
   Monte Carlo draws over weights (±25%), normalisation (min–max, z-score) and aggregation
   (arithmetic, geometric): `places.robust.monte_carlo` (normalised matrices once per method,
   draws re-weighted and aggregated as one einsum per method pair) against a pandas baseline
   that recomputes each draw as a DataFrame pipeline (normalise, group means, index, rank).
2. `parks` parks' operating reports (the generator's parks, resampled with noise to the size)
   rated by `parks.rating.rate_parks` (the engine's min–max and weighted means over the nine
   dimensions, points, grades, stars as arrays) against a pandas baseline that scores
   row by row (`DataFrame.apply`) after the same normalisation.
CPU seconds (`time.process_time`) are reported next to wall-clock: the machine is shared.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from jingxin.parks.config import load_park_config
from jingxin.parks.rating import rate_parks
from jingxin.places.config import load_county_config
from jingxin.places.engine import compute
from jingxin.places.robust import Uncertainty, monte_carlo
from jingxin.synth.places import draw_places


def timed(fn):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def pandas_mc(data: pd.DataFrame, cfg, draws: int, seed: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Baseline: every draw a pandas pipeline."""
    rng = np.random.default_rng(seed)
    inds = cfg.indicators
    dirs = pd.Series({i.code: i.direction for i in inds})
    group_of = pd.Series({i.code: i.group for i in inds})
    ranks = []
    for _ in range(draws):
        w = pd.Series({i.code: i.weight for i in inds}) * rng.uniform(0.75, 1.25, len(inds))
        gw = pd.Series({g.code: g.weight for g in cfg.groups}) * rng.uniform(0.75, 1.25, len(cfg.groups))
        x = data[list(dirs.index)] * dirs
        if rng.integers(0, 2) == 0:
            n = (x - x.min()) / (x.max() - x.min()) * 99 + 1
        else:
            n = ((x - x.mean()) / x.std()) * 10 + 50
            n = n.clip(lower=1)
        geo = rng.integers(0, 2) == 1
        groups = {}
        for g, cols in group_of.groupby(group_of).groups.items():
            ww = w[list(cols)]
            groups[g] = (
                np.exp((np.log(n[list(cols)]) * ww).sum(axis=1) / ww.sum())
                if geo
                else (n[list(cols)] * ww).sum(axis=1) / ww.sum()
            )
        gdf = pd.DataFrame(groups)
        score = (
            np.exp((np.log(gdf) * gw).sum(axis=1) / gw.sum()) if geo else (gdf * gw).sum(axis=1) / gw.sum()
        )
        ranks.append(score.rank(ascending=False))
    r = pd.DataFrame(ranks)
    return pd.DataFrame({"low": r.quantile(0.05), "high": r.quantile(0.95)})


def pandas_parks(reports: pd.DataFrame, cfg) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    x = pd.DataFrame(
        {
            i.code: reports[i.code] / (reports[i.denominator] if i.denominator else 1) * i.direction
            for i in cfg.indicators
        }
    )
    n = (x - x.min()) / (x.max() - x.min()) * 100
    dims = {d.code: d.weight for d in cfg.dimensions}
    dim_of = {i.code: i.dimension for i in cfg.indicators}
    p = cfg.points

    def one(row: pd.Series) -> pd.Series:
        d = {k: np.mean([row[c] for c in n.columns if dim_of[c] == k]) for k in dims}
        base = sum(d[k] * w for k, w in dims.items()) / sum(dims.values())
        r = reports.loc[row.name]
        lead = min(r["leading_output_share"], r["leading_firm_share"])
        pts = (
            max(0, (lead - p.leading_threshold) // p.leading_step) * p.leading_points
            if lead > p.leading_threshold
            else 0
        )
        pts = min(pts + sum(r[c] * v for c, v in p.per_item.items()), p.cap or np.inf)
        total = base + pts
        grade = (
            "A"
            if total >= cfg.grades["A"]
            else "B"
            if total >= cfg.grades["B"]
            else "C"
            if total >= cfg.grades["C"]
            else "D"
        )
        if r["recognised"] != "是":
            grade = "D"
        return pd.Series({"total": total, "grade": grade})

    return n.apply(one, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--parks", type=int, default=10_000)
    args = ap.parse_args()
    cfg = load_county_config()
    truth = draw_places((2021,), seed=1)
    data = pd.DataFrame(truth.county_rows[2021]).set_index("region_code")
    counties = data.loc[truth.county_codes].drop(columns=["region_name", "year"]).astype(float)
    counties = counties.fillna(counties.mean())
    counties["city"] = [c[:4] + "00" for c in counties.index]
    u = Uncertainty(draws=args.draws)
    mc, w1, c1 = timed(lambda: monte_carlo(cfg.spec(), counties, u))
    # The baseline draws on the same input as the engine: the values after the index's outlier
    # treatment, which runs once per index (not per draw) in both.
    treated = compute(cfg.spec(), counties).treated
    base, w2, c2 = timed(lambda: pandas_mc(treated, cfg, args.draws, 1))
    print(
        f"county MC: {args.draws} draws × {len(counties)} counties: engine {w1:.2f} s wall / {c1:.2f} s CPU; "
        f"pandas {w2:.2f} s / {c2:.2f} s; CPU ratio {c2 / max(c1, 1e-9):.1f}×; "
        f"mean interval width {float((mc.rank_high - mc.rank_low).mean()):.1f} "
        f"vs {float((base.high - base.low).mean()):.1f}"
    )
    pcfg = load_park_config()
    reports = pd.DataFrame(truth.park_rows[2021])
    rng = np.random.default_rng(2)
    pick = rng.integers(0, len(reports), args.parks)
    big = reports.iloc[pick].reset_index(drop=True)
    big["park_id"] = [f"B{i:06d}" for i in range(len(big))]
    for col in ("occupancy", "output", "tax", "leading_output_share", "leading_firm_share"):
        big[col] = (big[col] * rng.uniform(0.9, 1.1, len(big))).clip(
            upper=100 if "share" in col or col == "occupancy" else None
        )
    big = big.set_index("park_id")
    t, w3, c3 = timed(lambda: rate_parks(big, pcfg, 2021))
    b, w4, c4 = timed(lambda: pandas_parks(big, pcfg))
    agree = float((t["grade"].reindex(b.index) == b["grade"]).mean())
    print(
        f"parks: {len(big)} rated: engine {w3:.2f} s wall / {c3:.2f} s CPU; "
        f"pandas row-wise {w4:.2f} s / {c4:.2f} s; "
        f"CPU ratio {c4 / max(c3, 1e-9):.1f}×; grades agree {agree:.1%} (baseline has no transition floor)"
    )


if __name__ == "__main__":
    main()
