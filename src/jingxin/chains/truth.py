"""The chains analysis measured against the generator's truth (manifest ``chains``).

Measures: the largest error (percentage points) of the local supporting rate at county, city
and province level, by chain and by county; the injected weak links found; precision and
recall of the outside-province weak links against the realised outside shares; recall of the
injected single-supplier dependencies and precision/recall against the realised ones; the
cross-industry sellers found as chain members through their invoices.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jingxin.chains import compute
from jingxin.chains.compute import LEVELS, WEAK_OUTSIDE, ChainsError
from jingxin.core.scope import EVERYTHING
from jingxin.core.warehouse import Warehouse


def load_truth(manifest: str | Path) -> dict:
    path = Path(manifest)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.exists():
        raise ChainsError(f"找不到生成清单 {path}；请给出 jingxin generate 的输出目录")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not data.get("chains"):
        raise ChainsError(f"{path} 中没有产业链真值：请用 jingxin generate --chains 生成")
    return data["chains"]


def _max_error(found, truth: dict, key) -> tuple[float, str | None]:
    worst, where = 0.0, None
    for r in found.itertuples():
        t = truth.get(key(r))
        if t is None:
            continue
        for level in LEVELS:
            err = abs(getattr(r, level) - t[level]) * 100
            if err > worst:
                worst, where = err, f"{key(r)}:{level}"
    return worst, where


def check(wh: Warehouse, manifest: str | Path, month: str) -> dict:
    truth = load_truth(manifest)
    year = str(month)[:4]
    rates = truth["local_rates"].get(year)
    if rates is None or not str(month).endswith("-12"):
        raise ChainsError(f"真值按自然年记录：请用 --month {sorted(truth['local_rates'])[-1]}-12")
    by_chain = compute.local_rates(wh, month, EVERYTHING, "chain")
    by_county = compute.local_rates(wh, month, EVERYTHING, "county")
    chain_err, chain_at = _max_error(by_chain, rates["chain"], lambda r: r.chain_id)
    county_err, county_at = _max_error(by_county, rates["county"], lambda r: r.buyer_county)
    missing_counties = sorted(set(rates["county"]) - set(by_county["buyer_county"]))

    weak = compute.weak_links(wh, month, EVERYTHING)
    flagged = {f"{r.chain_id}.{r.segment_id}" for r in weak.itertuples() if r.weak_outside}
    realised = {k for k, v in rates["segment"].items() if 1 - v["province"] >= WEAK_OUTSIDE}
    injected = {f"{w['chain']}.{w['segment']}" for w in truth["weak_links"]}

    single = compute.single_supplier(wh, month, EVERYTHING)
    found = {f"{r.buyer_code}|{r.keyword}" for r in single.itertuples()}
    real_single = set(rates["single_supplier_pairs"])
    injected_single = {f"{s['buyer']}|{s['keyword']}" for s in truth["single_supplier"]}

    members = wh.execute(compute.membership(wh, compute.window(month)))
    inv_members = {
        (r.credit_code, r.chain_id, r.segment_id) for r in members.itertuples() if r.basis == "invoice"
    }
    selling = set(rates.get("goods_members_selling", []))  # those that sold in the year
    cross = [
        (g["credit_code"], g["chain"], g["segment"])
        for g in truth["goods_members"]
        if g["credit_code"] in selling
    ]
    cross_found = sum(1 for c in cross if c in inv_members)

    def pr(found_set: set, true_set: set) -> dict:
        hit = len(found_set & true_set)
        return {
            "found": len(found_set),
            "true": len(true_set),
            "hit": hit,
            "precision": round(hit / len(found_set), 4) if found_set else None,
            "recall": round(hit / len(true_set), 4) if true_set else None,
        }

    report: dict[str, Any] = {
        "month": month,
        "local_rate": {
            "max_error_points_by_chain": round(chain_err, 3),
            "worst_chain": chain_at,
            "max_error_points_by_county": round(county_err, 3),
            "worst_county": county_at,
            "counties": len(by_county),
            "counties_in_truth": len(rates["county"]),
            "missing_counties": missing_counties,
        },
        "weak_links": {
            "injected": sorted(injected),
            "injected_found": sorted(injected & flagged),
            "against_realised": pr(flagged, realised),
        },
        "single_supplier": {
            "injected": len(injected_single),
            "injected_found": len(injected_single & found),
            "against_realised": pr(found, real_single),
        },
        "invoice_members": {"cross_industry_sellers": len(cross), "found": cross_found},
    }
    lr = report["local_rate"]
    report["summary"] = (
        f"本地配套率最大误差：按产业链 {lr['max_error_points_by_chain']} 个百分点，按区县 "
        f"{lr['max_error_points_by_county']} 个百分点；注入薄弱环节 {len(injected)} 个，识别 "
        f"{len(injected & flagged)} 个；注入单一供应商依赖 {len(injected_single)} 个，识别 "
        f"{len(injected_single & found)} 个；跨行业供货企业 {len(cross)} 家，按发票识别 {cross_found} 家"
    )
    return report
