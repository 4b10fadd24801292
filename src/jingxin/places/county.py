"""The counties' 制造业高质量发展 index (县域制造业高质量发展评价): evaluation groups, ranks,
rank intervals, the indicator that moves each rank most, 天工鼎, strengths and weaknesses.

Pure functions of a year's county figures (a DataFrame indexed by division code) and the
configuration; the warehouse read and the region scope are in :mod:`jingxin.places.service`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jingxin import reference
from jingxin.places.config import CountyConfig, EvalGroupCfg
from jingxin.places.engine import IndexResult, compute, rank_desc
from jingxin.places.robust import leave_one_out, monte_carlo

__all__ = [
    "GroupResult",
    "CountyIndex",
    "group_members",
    "evaluate_year",
    "treatment_rows",
    "point_label",
    "POINT_LABELS",
]

# What happened to one place's value of an indicator (treated_points of the engine).
POINT_LABELS = {"winhi": "缩尾（调至次高值）", "winlo": "缩尾（调至次低值）"}


@dataclass(frozen=True)
class GroupResult:
    code: str
    name: str
    result: IndexResult
    table: pd.DataFrame  # per member: score, group scores, rank, interval, mover, award


@dataclass(frozen=True)
class CountyIndex:
    year: int
    config: CountyConfig
    groups: tuple[GroupResult, ...]

    def group(self, code: str) -> GroupResult:
        for g in self.groups:
            if g.code == code:
                return g
        raise KeyError(code)

    def rows(self) -> pd.DataFrame:
        """One row per (group, place), all groups."""
        parts = [g.table.assign(group=g.code, group_name=g.name) for g in self.groups]
        return pd.concat(parts) if parts else pd.DataFrame()


def group_members(cfg: EvalGroupCfg, data: pd.DataFrame) -> list[str]:
    """Codes of the places of an evaluation group in `data` (rows indexed by division code)."""
    divs = {d.code: d for d in reference.divisions()}
    codes = [c for c in data.index if c in divs and divs[c].level == cfg.level]
    if cfg.codes is not None:
        return [c for c in codes if c in set(cfg.codes)]
    if cfg.mountain26 is not None:
        codes = [c for c in codes if divs[c].mountain26 == cfg.mountain26]
    if cfg.top_by is not None and cfg.count is not None:
        size = pd.to_numeric(data.loc[codes, cfg.top_by], errors="coerce").fillna(-np.inf)
        codes = list(size.sort_values(ascending=False, kind="stable").index[: cfg.count])
    return sorted(codes)


def _frame(data: pd.DataFrame) -> pd.DataFrame:
    """Add the city of each place: the imputation group (a city is its own group)."""
    out = data.copy()
    out["city"] = [c[:4] + "00" for c in out.index]
    return out


def evaluate_year(
    data: pd.DataFrame, cfg: CountyConfig, year: int, draws: int | None = None, robustness: bool = True
) -> CountyIndex:
    """The index of every evaluation group for one year."""
    spec = cfg.spec()
    frame = _frame(data)
    groups = []
    for eg in cfg.evaluation_groups:
        members = group_members(eg, frame)
        if len(members) < 2:
            continue
        sub = frame.loc[members]
        result = compute(spec, sub)
        table = result.scores.rename(columns={"index": "score"}).copy()
        table["rank"] = rank_desc(result.index).astype(int)
        table["imputed"] = result.imputed_mask.sum(axis=1).astype(int)
        if robustness:
            mc = monte_carlo(spec, sub, cfg.uncertainty_assumptions(draws))
            table["rank_low"] = mc.rank_low
            table["rank_high"] = mc.rank_high
            table["median_rank"] = mc.median_rank
            loo = leave_one_out(spec, sub)
            mover = loo.abs().idxmax(axis=1).where(loo.abs().max(axis=1) > 0, "")
            table["mover"] = mover
            table["mover_shift"] = [int(loo.at[c, m]) if m else 0 for c, m in mover.items()]
        else:
            table["rank_low"] = table["rank_high"] = table["rank"]
            table["median_rank"] = table["rank"].astype(float)
            table["mover"], table["mover_shift"] = "", 0
        table["tiangongding"] = _awards(table, cfg, eg.code)
        groups.append(GroupResult(eg.code, eg.name, result, table.sort_values("rank")))
    return CountyIndex(year=year, config=cfg, groups=tuple(groups))


def _awards(table: pd.DataFrame, cfg: CountyConfig, group: str) -> pd.Series:
    n = cfg.tiangongding.groups.get(group, 0)
    won = table["rank"] <= n
    if cfg.tiangongding.robust:
        won &= table["rank_high"] <= n
    return won


def strengths_weaknesses(gr: GroupResult, code: str, k: int = 3) -> dict[str, list[dict[str, Any]]]:
    """The indicators where a place ranks best and worst within its group (COINr's get_str_weak)."""
    norm = gr.result.normalised
    ranks = norm.rank(ascending=False, method="min")
    spec = gr.result.spec
    rows = [
        {
            "code": i.code,
            "name": i.name,
            "rank": int(ranks.at[code, i.code]),
            "value": _num(gr.result.imputed.at[code, i.code]),
            "unit": i.unit,
            "imputed": bool(gr.result.imputed_mask.at[code, i.code]),
        }
        for i in spec.indicators
    ]
    rows.sort(key=lambda r: (r["rank"], r["code"]))
    return {"strengths": rows[:k], "weaknesses": list(reversed(rows[-k:]))}


def treatment_rows(gr: GroupResult) -> list[dict[str, Any]]:
    """The group's indicators that the outlier check flagged: skewness and kurtosis before and
    after, points winsorised, transform, status (in Chinese) — shown on the ranking page and
    in the Excel, so nobody reads a treated indicator as untouched."""
    from jingxin.places.treat import STATUS_LABELS

    table = gr.result.treatment
    if table.empty:
        return []
    names = {i.code: i.name for i in gr.result.spec.indicators}
    out = []
    for code, r in table.iterrows():
        if r["status"] in ("off", "passed", "undetermined"):
            continue
        out.append(
            {
                "code": code,
                "name": names[str(code)],
                "status": r["status"],
                "label": STATUS_LABELS[str(r["status"])],
                "skew": _num(r["skew"]),
                "kurt": _num(r["kurt"]),
                "winsorised": int(r["winsorised"]),
                "win_high": int(r["win_high"]),
                "win_low": int(r["win_low"]),
                "transform": str(r["transform"]),
                "skew_after": _num(r["skew_after"]),
                "kurt_after": _num(r["kurt_after"]),
            }
        )
    return out


def point_label(gr: GroupResult, code: str, indicator: str) -> str:
    """How this place's value of `indicator` entered normalisation ("" = as reported/imputed)."""
    p = str(gr.result.treated_points.at[code, indicator])
    if not p:
        return ""
    return POINT_LABELS.get(p, "对数变换")


def _num(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return None if np.isnan(f) else f
