"""Chain maps and local supporting rates (本地配套率) over many invoice lines: DuckDB and PySpark
(local) through the same Ibis expressions, with a pandas baseline of the same computation.

Facts are built directly with NumPy: E enterprises (N / 200) with registry rows, 60% of them
in a flagship chain segment (industry classes of `chains/data/segments.yaml`), and N invoice
lines of 2021: a line's seller sells a keyword of its own segment (or is one of 400 outside
suppliers, 15% of lines), its buyer is a member of the same chain, amounts log-normal. Goods
names are the keyword with one of six e-invoice variants, so the jieba rule classifies a few
hundred distinct names, as in real files.

Timed (`ibis_run`): what the chain map page shows for the province — local rates by chain and
by segment (`compute.local_rates`), weak links with supplier concentration
(`compute.weak_links`) and the chain owners (`network.chain_owners`). pandas does the same
membership, purchases and groupbys on the same rows in memory (load time reported apart).

    .venv/bin/python bench/bench_chains.py --lines 10000000                 # stated scale
    .venv/bin/python bench/bench_chains.py --lines 1000000 --pandas --spark   # baseline size

With `--spark-cache` the fact tables are cached in Spark's memory first (`cache_facts`, timed
apart as `spark_cache_s`); without it Spark reads the Parquet files on every query. Each step's
time is printed to stderr as it ends, so a run cut short still tells how far it got.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from jingxin.chains import compute, network
from jingxin.chains.definitions import _classes_under, classify_goods, definitions
from jingxin.core.scope import EVERYTHING
from jingxin.core.warehouse import open_warehouse, publish_parquet
from jingxin.evaluation.sample import credit_codes, load_facts
from jingxin.reference import counties, industries

MONTH = "2021-12"
OUTSIDE = ("310115", "320505", "440305", "370212")
VARIANTS = ("", " 标准型", " A级", " XK-2031", "（定制）", " 150D")


def build(lines: int, seed: int = 1) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    defs = definitions()
    segs = [(c.id, s) for c in defs.chains for s in c.segments]
    n = max(2_000, lines // 200)
    county_list = np.array(sorted(c.code for c in counties()))
    county = rng.choice(county_list, n)
    codes = credit_codes(county)
    seg_of = np.where(rng.random(n) < 0.6, rng.integers(0, len(segs), n), -1)
    other = np.array([i.code for i in industries() if i.level == "class" and i.section == "C"])
    seg_classes = [np.array(sorted(_classes_under(s.industry_codes))) for _, s in segs]
    industry = rng.choice(other, n).astype("U4")
    for k, classes in enumerate(seg_classes):
        idx = np.flatnonzero(seg_of == k)
        industry[idx] = rng.choice(classes, idx.shape[0])
    registry = pa.table(
        {
            "credit_code": codes,
            "name": codes,
            "county_code": county,
            "industry_code": industry,
            "status": np.full(n, "存续"),
        }
    )
    out_codes = credit_codes(rng.choice(np.array(OUTSIDE), 400), start=10**7)
    size = rng.lognormal(0, 1.0, n)
    chain_of_seg = np.array([defs.chains.index(defs.chain(c)) for c, _ in segs])
    members_by_chain = [
        np.flatnonzero((seg_of >= 0) & (chain_of_seg[np.maximum(seg_of, 0)] == c))
        for c in range(len(defs.chains))
    ]
    sellers = np.flatnonzero(seg_of >= 0)
    p = size[sellers] / size[sellers].sum()
    months = pa.array(pd.date_range("2021-01-01", "2021-12-01", freq="MS").date)
    # Strings as dictionaries (indices into the distinct values): 10 million lines fit in memory.
    names = [f"*产品*{kw}{v}" for _, s in segs for kw in s.keywords for v in VARIANTS]
    first_name = np.cumsum([0] + [len(s.keywords) * len(VARIANTS) for _, s in segs])[:-1]
    goods_dict = pa.array(names)
    seller_dict = pa.array(np.concatenate([codes, out_codes]))
    buyer_dict = pa.array(codes)
    chunks = []
    for start in range(0, lines, 2_000_000):
        m = min(lines, start + 2_000_000) - start
        outside = rng.random(m) < 0.15
        seller = rng.choice(sellers, m, p=p)
        seg = np.where(outside, rng.integers(0, len(segs), m), seg_of[seller])
        n_kw = np.array([len(s.keywords) for _, s in segs])
        kw = (rng.random(m) * n_kw[seg]).astype(np.int64)
        goods = first_name[seg] + kw * len(VARIANTS) + rng.integers(0, len(VARIANTS), m)
        seller_idx = np.where(outside, n + rng.integers(0, len(out_codes), m), seller)
        chain = chain_of_seg[seg]
        buyer = np.empty(m, dtype=np.int64)
        for c, members in enumerate(members_by_chain):
            idx = np.flatnonzero(chain == c)
            buyer[idx] = rng.choice(members, idx.shape[0])
        chunks.append(
            pa.table(
                {
                    "seller_code": pa.DictionaryArray.from_arrays(
                        pa.array(seller_idx, pa.int32()), seller_dict
                    ),
                    "buyer_code": pa.DictionaryArray.from_arrays(pa.array(buyer, pa.int32()), buyer_dict),
                    "month": months.take(pa.array(rng.integers(0, 12, m))),
                    "amount": rng.lognormal(1.0, 1.2, m).round(2),
                    "goods": pa.DictionaryArray.from_arrays(pa.array(goods, pa.int32()), goods_dict),
                }
            )
        )
    return {"registry": registry, "invoices": pa.concat_tables(chunks)}


def ibis_run(wh) -> dict[str, float]:
    t = {}
    steps = {
        "rates_s": lambda: [compute.local_rates(wh, MONTH, EVERYTHING, by) for by in ("chain", "segment")],
        "weak_s": lambda: compute.weak_links(wh, MONTH, EVERYTHING),
        "owners_s": lambda: network.chain_owners(wh, MONTH, EVERYTHING),
    }
    for name, step in steps.items():
        t0 = time.perf_counter()
        step()
        t[name] = time.perf_counter() - t0
        # each step as it ends: a run cut short still tells how far it got
        print(f"{wh.kind} {name} {t[name]:.1f}", file=sys.stderr, flush=True)
    t["total_s"] = sum(t.values())
    return {k: round(v, 1) for k, v in t.items()}


def cache_facts(wh) -> float:
    """Cache the fact tables in Spark's memory and fill the cache (timed apart). Each analysis
    reads the invoices several times (distinct goods names, sales for membership, the purchase
    lines) and the registry three times, and the four analyses repeat that: without the cache
    Spark scans and decodes the Parquet files on every read."""
    t0 = time.perf_counter()
    session = wh.spark.session
    for name in ("registry", "invoices", "batches"):
        session.catalog.cacheTable(name)
        session.table(name).count()
    return round(time.perf_counter() - t0, 1)


def pandas_baseline(reg: pd.DataFrame, inv: pd.DataFrame) -> tuple[float, pd.Series]:
    """Membership (industry or ≥20% of sales), purchases with rings, rates by chain and segment,
    supplier HHI by segment: the same computation as `ibis_run` without the owners."""
    t0 = time.perf_counter()
    defs = definitions()
    names = inv.goods.unique().tolist()
    g = pd.DataFrame(
        [(x.goods, x.keyword, x.chain_id, x.segment_id) for x in classify_goods(names, defs) if x.keyword],
        columns=["goods", "keyword", "chain_id", "segment_id"],
    )
    ind = pd.DataFrame(
        [(code, c.id) for c in defs.chains for s in c.segments for code in _classes_under(s.industry_codes)],
        columns=["industry_code", "chain_id"],
    )
    by_ind = reg.merge(ind, on="industry_code")[["credit_code", "chain_id"]]
    lines = inv.merge(g, on="goods")
    sales = inv.groupby("seller_code").amount.sum()
    seg_sales = lines.groupby(["seller_code", "chain_id"]).amount.sum().reset_index()
    seg_sales = seg_sales[seg_sales.amount >= 0.2 * seg_sales.seller_code.map(sales)]
    seg_sales = seg_sales[seg_sales.seller_code.isin(reg.credit_code)]
    members = pd.concat(
        [by_ind, seg_sales.rename(columns={"seller_code": "credit_code"})[["credit_code", "chain_id"]]]
    )
    members = members.drop_duplicates()
    p = lines.merge(members, left_on=["buyer_code", "chain_id"], right_on=["credit_code", "chain_id"])
    county = reg.set_index("credit_code").county_code
    p["buyer_county"] = p.buyer_code.map(county)
    p["seller_county"] = p.seller_code.map(county).fillna(p.seller_code.str[2:8])
    p["in_county"] = p.seller_county == p.buyer_county
    p["in_city"] = p.seller_county.str[:4] == p.buyer_county.str[:4]
    p["in_province"] = p.seller_county.str[:2] == "33"
    rates = {}
    for keys in (["chain_id"], ["chain_id", "segment_id"]):
        agg = (
            p.assign(
                c=p.amount.where(p.in_county, 0),
                ci=p.amount.where(p.in_city, 0),
                pr=p.amount.where(p.in_province, 0),
            )
            .groupby(keys)[["amount", "c", "ci", "pr"]]
            .sum()
        )
        rates[len(keys)] = pd.DataFrame(
            {"county": agg.c / agg.amount, "city": agg.ci / agg.amount, "province": agg.pr / agg.amount}
        )
    sup = p.groupby(["chain_id", "segment_id", "seller_code"]).amount.sum()
    share = sup / sup.groupby(level=[0, 1]).transform("sum")
    (share**2).groupby(level=[0, 1]).sum()
    return time.perf_counter() - t0, rates[1].province


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--pandas", action="store_true", help="also run the pandas baseline")
    ap.add_argument("--spark", action="store_true", help="also run on PySpark local mode")
    ap.add_argument("--spark-only", action="store_true", help="load DuckDB only to publish for Spark")
    ap.add_argument(
        "--spark-cache",
        action="store_true",
        help="cache the fact tables in Spark memory first (not a measured gain: docs/benchmarks.md)",
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (spills to disk beyond)")
    args = ap.parse_args()
    out: dict[str, object] = {"lines": args.lines}
    t0 = time.perf_counter()
    facts = build(args.lines)
    out["enterprises"] = facts["registry"].num_rows
    out["build_s"] = round(time.perf_counter() - t0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        wh = open_warehouse(f"duckdb:///{tmp}/wh.duckdb")
        wh.sql(f"SET memory_limit = '{args.memory_limit}'")
        wh.sql(f"SET temp_directory = '{tmp}/spill'")
        wh.sql("SET preserve_insertion_order = false")
        print(f"built {args.lines} lines in {out['build_s']} s; loading", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        load_facts(wh, facts)
        out["duckdb_load_s"] = round(time.perf_counter() - t0, 1)
        print(f"loaded in {out['duckdb_load_s']} s; running on DuckDB", file=sys.stderr, flush=True)
        if not args.spark_only:
            out["duckdb"] = ibis_run(wh)
            print(f"DuckDB {out['duckdb']}", file=sys.stderr, flush=True)
        if args.pandas:
            t0 = time.perf_counter()
            reg, inv = facts["registry"].to_pandas(), facts["invoices"].to_pandas()
            for col in ("seller_code", "buyer_code", "goods"):  # plain strings, as read from a file
                inv[col] = inv[col].astype(str)
            out["pandas_load_s"] = round(time.perf_counter() - t0, 1)
            seconds, province = pandas_baseline(reg, inv)
            out["pandas_s"] = round(seconds, 1)
            duck_rates = compute.local_rates(wh, MONTH, EVERYTHING, "chain").set_index("chain_id").province
            out["max_rate_difference"] = float((duck_rates - province.reindex(duck_rates.index)).abs().max())
            del reg, inv
            duck = out["duckdb"]["rates_s"] + out["duckdb"]["weak_s"]  # type: ignore[index]
            out["duckdb_vs_pandas"] = round(out["pandas_s"] / duck, 2)  # type: ignore[operator]
        del facts
        if args.spark or args.spark_only:
            folder = Path(tmp) / "parquet"
            publish_parquet(wh, folder, ["registry", "invoices", "batches"])
            wh.close()
            spark = open_warehouse(f"spark://{folder}")
            if args.spark_cache:
                out["spark_cache_s"] = cache_facts(spark)
            out["spark"] = ibis_run(spark)
        else:
            wh.close()
    print(json.dumps(out, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
