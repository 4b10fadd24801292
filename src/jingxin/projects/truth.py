"""The projects and cultivation scenario measured against the generated truth (manifest
``projects``): investment to date by county, the DiD interval against the injected 技改 effect,
and screening precision and recall per rung (numbers stated in docs/projects.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jingxin.core.warehouse import Warehouse
from jingxin.synth.manifest import Manifest


def evaluate(wh: Warehouse, manifest_path: Path, month: str) -> dict[str, Any]:
    from jingxin.cultivation.screen import screen
    from jingxin.projects.did import estimate
    from jingxin.projects.progress import county_progress

    truth = Manifest.load(manifest_path).projects
    if not truth:
        raise ValueError("清单中没有 projects 真值：请用 jingxin generate --projects 生成")
    year = int(month[:4])
    months = {f"{year}-{m:02d}" for m in range(1, int(month[5:]) + 1)}
    expected: dict[str, float] = {}
    for p in truth["projects"]:
        expected[p["county_code"]] = expected.get(p["county_code"], 0.0) + sum(
            v for m, v in p["investment_by_month"].items() if m in months
        )
    measured = {r["county_code"]: r["investment"] for r in county_progress(wh, month).rows}
    errors = [abs(measured.get(c, 0.0) - v) / v for c, v in expected.items() if v > 0]
    did = estimate(wh)
    effects = truth["tech_effect"]
    post = [effects[k] for _c, (k, y) in truth["treated"].items() for yy in did.years if yy > y]
    pooled = sum(post) / len(post) if post else None
    s = screen(wh, year)
    rungs = {}
    tp = fp = fn = 0
    for rung, codes in truth["qualifies"].items():
        found, exp = set(s.qualifying(rung)), set(codes)
        a, b, c = len(found & exp), len(found - exp), len(exp - found)
        tp, fp, fn = tp + a, fp + b, fn + c
        rungs[rung] = {
            "truth": len(exp),
            "found": len(found),
            "true_positive": a,
            "precision": round(a / (a + b), 4) if a + b else None,
            "recall": round(a / (a + c), 4) if a + c else None,
        }
    return {
        "investment": {
            "month": month,
            "counties": len(expected),
            "exact_share": round(sum(e < 1e-6 for e in errors) / len(errors), 4) if errors else None,
            "max_relative_error": round(max(errors), 6) if errors else None,
        },
        "did": {
            "truth_pooled": None if pooled is None else round(pooled, 4),
            **did.to_dict()["pooled"],
            "covered": pooled is not None and did.pooled.low <= pooled <= did.pooled.high,
            "by_type": [
                {**e.to_dict(), "truth": effects[e.label], "covered": e.low <= effects[e.label] <= e.high}
                for e in did.by_type
            ],
        },
        "screening": {
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "rungs": rungs,
        },
    }
