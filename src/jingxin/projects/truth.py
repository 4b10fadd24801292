"""The projects and cultivation scenario measured against the generated truth (manifest
``projects``): investment to date by county, the year-end forecast by county and horizon against
the year that followed, the DiD interval against the injected 技改 effect, and screening
precision and recall per rung (numbers stated in docs/projects.md)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from statistics import median
from typing import Any

from jingxin.core.warehouse import Warehouse
from jingxin.synth.manifest import Manifest

FORECAST_METRICS = ("investment", "tech_projects", "tech_completed", "attracted_projects")


def year_end_truth(truth: Mapping[str, Any], year: int) -> dict[str, dict[str, float]]:
    """What each county really did in `year` (generated): investment (万元), 技改 started and
    put into production, 招引 signed."""
    out: dict[str, dict[str, float]] = {}
    prefix = str(year)
    for p in truth["projects"]:
        row = out.setdefault(p["county_code"], dict.fromkeys(FORECAST_METRICS, 0.0))
        row["investment"] += sum(v for m, v in p["investment_by_month"].items() if m.startswith(prefix))
        signed, started, producing = p["actual"][0], p["actual"][1], p["actual"][2]
        if p["category"] == "技改项目":
            row["tech_projects"] += bool(started and started.startswith(prefix))
            row["tech_completed"] += bool(producing and producing.startswith(prefix))
        if p["category"] == "招引项目":
            row["attracted_projects"] += bool(signed and signed.startswith(prefix))
    return out


def score_forecast(
    forecast: Mapping[str, float], actual: Mapping[str, float], relative: bool
) -> dict[str, Any]:
    """Errors of one metric's forecasts by county against what happened.

    `relative`: errors as a share of the actual (investment), counties with an actual of 0 left
    out; otherwise absolute (counts). Returns the province total's error, the median and mean
    absolute error over counties, the share of counties within 10% (relative) or 1 (counts),
    the mean signed error (bias) and the error of each county."""
    counties = sorted(set(forecast) | set(actual))
    errors: dict[str, float] = {}
    for c in counties:
        f, a = float(forecast.get(c, 0.0)), float(actual.get(c, 0.0))
        if relative:
            if a > 0:
                errors[c] = (f - a) / a
        else:
            errors[c] = f - a
    total_f = sum(float(forecast.get(c, 0.0)) for c in counties)
    total_a = sum(float(actual.get(c, 0.0)) for c in counties)
    total_error: float | None = total_f - total_a
    if relative:
        total_error = (total_f - total_a) / total_a if total_a else None
    absolute = [abs(e) for e in errors.values()]
    tolerance = 0.10 if relative else 1.0
    return {
        "counties": len(errors),
        "total_forecast": round(total_f, 2),
        "total_actual": round(total_a, 2),
        "total_error": None if total_error is None else round(total_error, 4),
        "median_abs_error": round(median(absolute), 4) if absolute else None,
        "mean_abs_error": round(sum(absolute) / len(absolute), 4) if absolute else None,
        "bias": round(sum(errors.values()) / len(errors), 4) if errors else None,
        "within": round(sum(a <= tolerance for a in absolute) / len(absolute), 4) if absolute else None,
        "by_county": {c: round(e, 4) for c, e in errors.items()},
    }


def forecast_accuracy(
    wh: Warehouse, truth: Mapping[str, Any], year: int, origins: Iterable[int] = range(1, 12)
) -> dict[str, Any]:
    """The year-end forecast (全年预计) made at the end of each origin month of `year`, by county,
    against the generated year: per horizon (months left) and metric, the errors of
    `score_forecast` (investment relative, counts absolute)."""
    from jingxin.projects.progress import county_progress

    actual = year_end_truth(truth, year)
    horizons = []
    for m in origins:
        month = f"{year}-{m:02d}"
        rows = county_progress(wh, month).rows
        entry: dict[str, Any] = {"origin": month, "horizon_months": 12 - m}
        for metric in FORECAST_METRICS:
            forecast = {r["county_code"]: float(r[f"{metric}_forecast"]) for r in rows}
            expected = {c: v[metric] for c, v in actual.items()}
            entry[metric] = score_forecast(forecast, expected, relative=metric == "investment")
        horizons.append(entry)
    return {"year": year, "horizons": horizons}


def first_set_accuracy(wh: Warehouse, truth: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 首台(套) recognitions the platform holds (source `first-set`) against the generated
    lists: items found and correct (same enterprise, county, level and date), counts by year."""
    from jingxin.core.scope import Scope
    from jingxin.cultivation.config import load_first_set
    from jingxin.cultivation.service import first_set_items

    listed = truth.get("first_set")
    if not listed:
        return None
    rules = load_first_set()
    levels = {unicodedata.normalize("NFKC", v): k for k, v in rules.levels.items()}
    expected = {i["item_code"]: i for i in listed["items"]}
    found = {i.item_code: i for i in first_set_items(wh, Scope(), rules)}
    correct = [
        c
        for c, i in found.items()
        if c in expected
        and (i.credit_code, i.division_code, i.recognised_on.isoformat())
        == (expected[c]["credit_code"], expected[c]["county_code"], expected[c]["recognised_on"])
        and i.level == levels.get(unicodedata.normalize("NFKC", expected[c]["level"]))
    ]
    by_year = {
        y: {"truth": n, "found": sum(1 for i in found.values() if str(i.recognised_on.year) == y)}
        for y, n in listed["by_year"].items()
    }
    return {
        "truth": len(expected),
        "found": len(found),
        "correct": len(correct),
        "recall": round(len(correct) / len(expected), 4) if expected else None,
        "precision": round(len(correct) / len(found), 4) if found else None,
        "by_year": by_year,
    }


def _did_against_truth(did: Any, truth: Mapping[str, Any]) -> dict[str, Any]:
    effects = truth["tech_effect"]
    post = [effects[k] for _c, (k, y) in truth["treated"].items() for yy in did.years if yy > y]
    pooled = sum(post) / len(post) if post else None
    return {
        "truth_pooled": None if pooled is None else round(pooled, 4),
        **did.to_dict()["pooled"],
        "covered": pooled is not None and did.pooled.low <= pooled <= did.pooled.high,
        "by_type": [
            {**e.to_dict(), "truth": effects[e.label], "covered": e.low <= effects[e.label] <= e.high}
            for e in did.by_type
        ],
    }


def evaluate(wh: Warehouse, manifest_path: Path, month: str) -> dict[str, Any]:
    from jingxin.cultivation.screen import screen
    from jingxin.projects.did import estimate
    from jingxin.projects.facts import ProjectsError
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
    try:
        did_section = _did_against_truth(estimate(wh), truth)
    except ProjectsError as exc:  # too few completed 技改 in a small province: say so, measure the rest
        did_section = {"error": str(exc)}
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
    accuracy = forecast_accuracy(wh, truth, year, range(1, 12))
    for h in accuracy["horizons"]:  # errors by county kept for investment only
        for metric in FORECAST_METRICS[1:]:
            h[metric].pop("by_county")
    return {
        "first_set": first_set_accuracy(wh, truth),
        "forecast": accuracy,
        "investment": {
            "month": month,
            "counties": len(expected),
            "exact_share": round(sum(e < 1e-6 for e in errors) / len(errors), 4) if errors else None,
            "max_relative_error": round(max(errors), 6) if errors else None,
        },
        "did": did_section,
        "screening": {
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "rungs": rungs,
        },
    }
