"""Generated places (合成地方数据): yearly county figures (county-stats) and 小微企业园 operating
reports (park-reports), with their hidden truth for the manifest.

The truth is a latent quality per county and year (制造业高质量发展水平, N(0, 1), lower in the
山区26县) and per park; every figure is drawn from it plus noise, so an index that measures
well ranks places as their latent quality does. The figures are drawn on their own stream
(seed, 16) and are NOT summed from the generated enterprises: the county statistics are a
separate source in reality too. Every mean, slope and noise below is the project's own
assumption, set to the order of magnitude of Zhejiang's 2021 provincial figures (e.g. 规上工业
增加值 about 2.0万亿元 over 90 counties, 增速 12.9%, 研发费用占营收 about 2–3%); none is a
published county figure. Cities are consistent with their counties: totals are sums, ratios and
growths are means weighted by county size.

The truth the manifest records (`places`): each county's and city's latent quality per year,
each park's latent quality, opening year and recognition; docs/places.md states what the
index recovers of it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jingxin import reference
from jingxin.core.contracts import load_contracts
from jingxin.synth.manifest import FileEntry

__all__ = ["PlacesTruth", "draw_places", "write_places", "INDICATOR_PARAMS"]

# name: (kind, mean or base, slope on quality, noise sd, lower clip, upper clip).
# kind "ratio": mean + slope·q + noise·ε; "abs": base·size·exp(slope·q + noise·ε) (亿元 or counts,
# counts Poisson-drawn around it). Project's assumptions (see the module docstring).
INDICATOR_PARAMS: dict[str, tuple[str, float, float, float, float, float]] = {
    "mfg_va_share_gdp": ("ratio", 33.0, 6.0, 4.0, 5.0, 70.0),
    "above_va": ("abs", 220.0, 0.35, 0.25, 1.0, 1e5),
    "above_va_growth": ("ratio", 12.0, 3.0, 3.0, -30.0, 60.0),
    "profit_margin": ("ratio", 7.0, 1.2, 1.5, -10.0, 30.0),
    "first_sets": ("count", 6.0, 0.5, 0.3, 0, 1e4),
    "pinzibiao": ("count", 25.0, 0.4, 0.3, 0, 1e4),
    "patents_per_10bn": ("ratio", 60.0, 15.0, 12.0, 0.0, 1e5),
    "labour_productivity": ("ratio", 30.0, 6.0, 5.0, 3.0, 200.0),
    "cost_per_100": ("ratio", 84.0, -1.5, 1.5, 60.0, 99.0),
    "tech_invest_growth": ("ratio", 10.0, 6.0, 8.0, -60.0, 200.0),
    "energy_per_va": ("ratio", 0.55, -0.08, 0.08, 0.1, 5.0),
    "va_per_mu": ("ratio", 150.0, 35.0, 25.0, 10.0, 2000.0),
    "tax_per_mu": ("ratio", 32.0, 8.0, 6.0, 1.0, 500.0),
    "rd_ratio": ("ratio", 2.4, 0.5, 0.4, 0.1, 15.0),
    "hightech_share": ("ratio", 60.0, 8.0, 8.0, 5.0, 100.0),
    "digital_core_share": ("ratio", 9.0, 3.0, 3.0, 0.5, 60.0),
    "industrial_investment": ("abs", 80.0, 0.3, 0.3, 0.5, 1e5),
    "big_firms_5bn": ("count", 1.2, 0.6, 0.3, 0, 1000),
    "industrial_land_share": ("ratio", 30.0, 6.0, 8.0, 0.0, 90.0),
    "industrial_invest_share": ("ratio", 25.0, 5.0, 5.0, 2.0, 80.0),
}
MISSING_SHARE = 0.02  # share of county cells left blank (imputation is shown), assumption
UNRECOGNISED_SHARE = 0.04  # parks failing the recognition conditions (D outright), assumption


@dataclass
class PlacesTruth:
    years: tuple[int, ...]
    county_codes: list[str]
    county_quality: dict[int, np.ndarray]  # year → latent quality per county
    county_size: np.ndarray
    city_codes: list[str]
    city_quality: dict[int, np.ndarray]
    county_rows: dict[int, list[dict[str, Any]]]
    park_rows: dict[int, list[dict[str, Any]]]
    park_quality: dict[str, float]
    park_opened: dict[str, int]
    park_unrecognised: dict[int, list[str]]

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "rule": "latent quality q ~ N(0,1) − 0.6 for the 山区26县, drifting by N(0, 0.15) a year; "
            "every county figure = f(q, size) + noise (synth/places.py); cities = size-weighted "
            "means of their counties; park quality = N(0,1) + 0.3·county q",
            "counties": {
                str(y): {
                    c: round(float(q), 6)
                    for c, q in zip(self.county_codes, self.county_quality[y], strict=True)
                }
                for y in self.years
            },
            "cities": {
                str(y): {
                    c: round(float(q), 6) for c, q in zip(self.city_codes, self.city_quality[y], strict=True)
                }
                for y in self.years
            },
            "parks": {
                pid: {"quality": round(q, 6), "opened_year": self.park_opened[pid]}
                for pid, q in self.park_quality.items()
            },
            "unrecognised": {str(y): v for y, v in self.park_unrecognised.items()},
        }


def _draw_value(
    kind: str,
    p: tuple[str, float, float, float, float, float],
    q: np.ndarray,
    size: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    _, mean, slope, noise, lo, hi = p
    eps = rng.standard_normal(q.size)
    if kind == "ratio":
        v = mean + slope * q + noise * eps
    else:
        v = mean * size * np.exp(slope * q + noise * eps)
        if kind == "count":
            v = rng.poisson(np.maximum(v, 0.0)).astype(float)
    return np.clip(v, lo, hi)


def draw_places(years: tuple[int, ...], seed: int, parks_per_county: float = 3.0) -> PlacesTruth:
    """Draw the county figures and park reports of `years` (pure: no file is written)."""
    rng = np.random.default_rng([int(seed), 16])
    counties = reference.counties()
    cities = reference.cities()
    codes = [c.code for c in counties]
    names = {d.code: d.name for d in reference.divisions()}
    mountain = np.array([c.mountain26 for c in counties], dtype=float)
    q0 = rng.standard_normal(len(codes)) - 0.6 * mountain
    size = np.exp(0.8 * rng.standard_normal(len(codes)) + 0.3 * q0 - 0.8 * mountain)
    size = size / size.mean()
    city_of = np.array([c.parent_code for c in counties])
    quality: dict[int, np.ndarray] = {}
    city_quality: dict[int, np.ndarray] = {}
    county_rows: dict[int, list[dict[str, Any]]] = {}
    q = q0
    for k, year in enumerate(years):
        if k:
            q = q + 0.15 * rng.standard_normal(len(codes))
        quality[year] = q.copy()
        values = {n: _draw_value(p[0], p, q, size, rng) for n, p in INDICATOR_PARAMS.items()}
        rows = []
        for i, code in enumerate(codes):
            row: dict[str, Any] = {"region_code": code, "region_name": names[code], "year": year}
            for n in INDICATOR_PARAMS:
                row[n] = None if rng.random() < MISSING_SHARE else float(values[n][i])
            rows.append(row)
        cq = []
        for city in cities:
            members = np.flatnonzero(city_of == city.code)
            w = size[members]
            cq.append(float((q[members] * w).sum() / w.sum()))
            row = {"region_code": city.code, "region_name": city.name, "year": year}
            for n, p in INDICATOR_PARAMS.items():
                v = values[n][members]
                row[n] = float(v.sum()) if p[0] != "ratio" else float((v * w).sum() / w.sum())
            rows.append(row)
        city_quality[year] = np.array(cq)
        county_rows[year] = rows
    park_rows, park_q, opened, unrec = _draw_parks(years, codes, q0, size, rng, parks_per_county)
    return PlacesTruth(
        years=years,
        county_codes=codes,
        county_quality=quality,
        county_size=size,
        city_codes=[c.code for c in cities],
        city_quality=city_quality,
        county_rows=county_rows,
        park_rows=park_rows,
        park_quality=park_q,
        park_opened=opened,
        park_unrecognised=unrec,
    )


def _draw_parks(
    years: tuple[int, ...],
    codes: list[str],
    q: np.ndarray,
    size: np.ndarray,
    rng: np.random.Generator,
    per_county: float,
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, float], dict[str, int], dict[int, list[str]]]:
    names = {d.code: d.name for d in reference.divisions()}
    parks: list[tuple[str, str, str, float, int, float]] = []
    for i, code in enumerate(codes):
        n = 1 + int(rng.poisson(per_county * min(size[i], 4.0)))
        for k in range(n):
            pid = f"XW{code}{k + 1:03d}"
            quality = float(rng.standard_normal() + 0.3 * q[i])
            opened_year = int(rng.integers(2014, years[-1] + 1))
            area = float(np.round(rng.uniform(30, 300), 2))
            parks.append(
                (pid, f"{names[code].rstrip('区县市')}第{k + 1}小微企业园", code, quality, opened_year, area)
            )
    rows: dict[int, list[dict[str, Any]]] = {}
    unrec: dict[int, list[str]] = {}
    for year in years:
        out, bad = [], []
        for pid, name, code, p, opened_year, area in parks:
            if opened_year > year:
                continue
            e = lambda s: float(rng.standard_normal() * s)  # noqa: E731
            recognised = rng.random() >= UNRECOGNISED_SHARE
            if not recognised:
                bad.append(pid)
            firms = max(5, int(40 * np.exp(0.3 * p + e(0.3))))
            lead_out = float(np.clip(55 + 12 * p + e(8), 10, 100))
            out.append(
                {
                    "park_id": pid,
                    "park_name": name,
                    "division_code": code,
                    "year": year,
                    "opened_year": opened_year,
                    "area_mu": area,
                    "recognised": "是" if recognised else "否",
                    "occupancy": float(np.clip(85 + 6 * p + e(5), 20, 100)),
                    "enterprises": firms,
                    "output": float(area * 300 * np.exp(0.4 * p + e(0.25))),
                    "tax": float(area * 12 * np.exp(0.45 * p + e(0.3))),
                    "employment": int(firms * 25 * np.exp(e(0.2))),
                    "leading_output_share": lead_out,
                    "leading_firm_share": float(np.clip(lead_out + e(6), 5, 100)),
                    "services": int(max(0, 6 + 2 * p + e(2))),
                    "digital_level": int(np.clip(round(2.5 + p + e(0.6)), 0, 5)),
                    "safety_incidents": int(rng.poisson(max(0.05, 0.3 - 0.15 * p))),
                    "integrity_issues": int(rng.poisson(0.03)),
                    "new_above": int(rng.poisson(max(0.1, 1.5 + 0.8 * p))),
                    "new_champions": int(rng.poisson(max(0.0, 0.02 + 0.02 * p))),
                    "new_listed": int(rng.poisson(max(0.0, 0.03 + 0.03 * p))),
                    "new_little_giants": int(rng.poisson(max(0.0, 0.1 + 0.08 * p))),
                    "new_specialised": int(rng.poisson(max(0.1, 1.0 + 0.5 * p))),
                    "first_sets": int(rng.poisson(max(0.0, 0.1 + 0.08 * p))),
                }
            )
        rows[year] = out
        unrec[year] = bad
    return rows, {p[0]: p[3] for p in parks}, {p[0]: p[4] for p in parks}, unrec


def _cell(value: Any, kind: str) -> object:
    if value is None:
        return ""
    if kind == "integer":
        return int(round(float(value)))
    return f"{value:.4f}" if isinstance(value, float) else value


def _write(out_dir: Path, source: str, year: int, rows: list[dict[str, Any]]) -> FileEntry:
    spec = load_contracts().sources[source]
    headers = [c.header if not c.unit else f"{c.header}({c.unit})" for c in spec.columns]
    name = f"{source.replace('-', '_')}_{year}.csv"
    path = out_dir / name
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(headers)
        for row in rows:
            w.writerow([_cell(row.get(c.name), c.type) for c in spec.columns])
    return FileEntry(
        source=source,
        department=spec.department,
        period=str(year),
        file=name,
        format="csv",
        encoding="utf-8-sig",
        rows=len(rows),
        headers=headers,
        units={c.header: c.unit for c in spec.columns if c.unit},
        unit_variant=False,
        title_rows=[],
        header_rows=[1],
        first_data_row=2,
        footer_rows=[],
        line_terminator="\n",
        bytes=path.stat().st_size,
    )


def write_places(out_dir: Path, years: tuple[int, ...], seed: int) -> tuple[list[FileEntry], dict[str, Any]]:
    """Write county-stats and park-reports per year into `out_dir`; (file entries, truth)."""
    truth = draw_places(years, seed)
    entries = []
    for year in years:
        entries.append(_write(out_dir, "county-stats", year, truth.county_rows[year]))
        entries.append(_write(out_dir, "park-reports", year, truth.park_rows[year]))
    return entries, truth.manifest_entry()
