"""Grading a month (月度风险分级): characteristics → rules → scorecard → grade → contagion.

`score_month` is what the CLI, the API and the pages call. The scorecard for month M is fitted
on what was observable at M: rows up to M whose six-month outcome is known by M (out of time
by construction), enterprises already in distress left out (they are 已经出险, not predicted).
Results and fitted models are kept per data version, so pages do not refit on every view.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jingxin.core.cache import data_version
from jingxin.core.warehouse import Warehouse
from jingxin.risk.config import GENERAL, KEY, NORMAL, RiskConfig, load_config
from jingxin.risk.contagion import Network, apply_contagion, build_network, exposure, guarantees_in_force
from jingxin.risk.features import CHARACTERISTICS, LINEAGE_COLUMNS, load_features
from jingxin.risk.monitoring import Monitor
from jingxin.risk.rules import add_labels, apply_rules, rule_reasons
from jingxin.risk.scorecard import FittedScorecard, fit_scorecard

MATERIALISED, HIDDEN = "已经出险", "存在隐患"


class RiskError(ValueError):
    """Bad request (unknown month, no data): the message says what and how to fix it."""


@dataclass
class MonthResult:
    month: str
    table: pd.DataFrame  # one row per enterprise (see `grade_month`)
    model: FittedScorecard
    network: Network
    lineage: dict[str, list[int]]  # source → batch ids the month's grades read
    config: RiskConfig
    counts: dict[str, int] = field(default_factory=dict)
    drift: dict[str, object] = field(default_factory=dict)
    """The month's population against the scorecard's training rows (模型稳定性): PSI of the
    score and of each characteristic, its level (stable / warning / alert) and what drifts."""


_lock = threading.Lock()
_cache: dict[tuple, object] = {}


def _memo(key: tuple, make):
    with _lock:
        if key in _cache:
            return _cache[key]
    value = make()
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = value
    return value


def prepared(wh: Warehouse, cfg: RiskConfig) -> pd.DataFrame:
    """Characteristics with rule results for every enterprise-month (kept per data version)."""
    version = data_version(wh)

    def make() -> pd.DataFrame:
        return apply_rules(load_features(wh), cfg)

    if version is None:
        return make()
    return _memo(("prepared", wh.store_key, version, cfg.source), make)  # type: ignore[return-value]


def parse_month(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(f"{str(text).strip()[:7]}-01")
    except (ValueError, TypeError):
        raise RiskError(f"月份格式应为 YYYY-MM（例如 2021-06），收到 {text!r}") from None


def fit_as_of(df: pd.DataFrame, month: pd.Timestamp, cfg: RiskConfig) -> FittedScorecard:
    """The scorecard as it could be fitted at `month`: only data up to `month`."""
    known = add_labels(df[df["month"] <= month], cfg.scorecard.horizon_months)
    return fit_scorecard(training_rows(known), cfg.scorecard)


def training_rows(known: pd.DataFrame) -> pd.DataFrame:
    """Rows a scorecard learns from: outcome known, not already in distress, and six months of
    history (before that the changes are unknown, and a model fitted on a data set's first
    months would learn "missing" as a state that never comes back)."""
    return known[~known["in_distress"] & known["target"].notna() & known["insured_change_6m"].notna()]


def base_grade(pd_: np.ndarray, materialised: np.ndarray, signals: np.ndarray, cfg: RiskConfig) -> np.ndarray:
    g = cfg.grades
    return np.where(
        materialised | (pd_ >= g.key_pd),
        KEY,
        np.where((pd_ >= g.general_pd) | (signals >= g.general_signals), GENERAL, NORMAL),
    )


def grade_rows(rows: pd.DataFrame, model: FittedScorecard, cfg: RiskConfig) -> pd.DataFrame:
    """Score, P(distress), base grade, category and reason codes of labelled feature rows
    (`in_distress` says whether the enterprise is already 已经出险)."""
    scored = model.score(rows)
    out = pd.concat([rows.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)
    mat = out["in_distress"].to_numpy(dtype=bool)
    out["materialised"] = mat
    out["grade"] = base_grade(out["pd"].to_numpy(), mat, out["signal_count"].to_numpy(), cfg)
    out["category"] = np.where(mat, MATERIALISED, np.where(out["grade"] != NORMAL, HIDDEN, ""))
    out["reason_codes"] = model.reason_codes(scored)
    return out


def score_month(wh: Warehouse, month: str, cfg: RiskConfig | None = None) -> MonthResult:
    """Grades of every enterprise followed in `month` (YYYY-MM)."""
    cfg = cfg or load_config()
    m = parse_month(month)
    version = data_version(wh)

    def make() -> MonthResult:
        return _score(wh, m, cfg)

    if version is None:
        return make()
    return _memo(("month", wh.store_key, version, cfg.source, m), make)  # type: ignore[return-value]


def _score(wh: Warehouse, m: pd.Timestamp, cfg: RiskConfig) -> MonthResult:
    df = prepared(wh, cfg)
    if df.empty:
        raise RiskError(
            "仓库中没有参保人数等风险数据，请先归集 insured、tax-monthly、utility、credit、court、guarantees"
        )
    months = df["month"]
    if m < months.min() or m > months.max():
        raise RiskError(
            f"{m:%Y-%m} 不在数据范围内（{months.min():%Y-%m} 至 {months.max():%Y-%m}），请换一个月份"
        )
    known = add_labels(df[df["month"] <= m], cfg.scorecard.horizon_months)
    model = fit_scorecard(training_rows(known), cfg.scorecard)
    rows = known[known["month"] == m]
    drift = Monitor(model, training_rows(known), cfg).month(rows)
    out = grade_rows(rows, model, cfg)
    registry = wh.execute(
        wh.current("registry").select("credit_code", "name", "county_code", "industry_code")
    ).drop_duplicates("credit_code")
    out = out.merge(registry, on="credit_code", how="left")
    net = build_network(guarantees_in_force(wh, m))
    out = apply_contagion(out, net, cfg.contagion)
    exp = exposure(net, set(out.loc[out["materialised"], "credit_code"]))
    out = out.merge(exp, on="credit_code", how="left")
    for col in ("exposure_distressed", "guaranteed_for"):
        out[col] = out[col].fillna(0.0)
    for col in ("distressed_partners", "circle_size", "chain_size"):
        out[col] = out[col].fillna(0).astype(int)
    for col in ("circle", "chain"):
        out[col] = out[col].fillna(-1).astype(int)
    lineage = {
        src: sorted(int(b) for b in out[col].dropna().unique())
        for src, col in zip(("insured", "tax-monthly", "utility", "credit"), LINEAGE_COLUMNS, strict=True)
    }
    counts = {g: int((out["grade"] == g).sum()) for g in (KEY, GENERAL, NORMAL)}
    return MonthResult(f"{m:%Y-%m}", out, model, net, lineage, cfg, counts, drift)


def explain(row: pd.Series, cfg: RiskConfig) -> list[str]:
    """The reasons of one grade in words: rules that fired, then the costliest characteristics,
    then the contagion rules."""
    words = rule_reasons(cfg)
    out = [f"{words[r][0]}：{words[r][1]}" for r in row["materialised_rules"]]
    if row["materialised"] and not out:
        out.append(f"已经出险：{row['distress_month']} 触发出险规则，12个月内按已经出险管理。")
    out += [f"{words[r][0]}：{words[r][1]}" for r in row["signals"]]
    out += [f"{CHARACTERISTICS[name]}：扣 {lost:.1f} 分" for name, lost in row["reason_codes"]]
    crules = {c.id: c for c in cfg.contagion}
    out += [f"{crules[rid].label}（{partner}）：{crules[rid].reason}" for rid, partner in row["contagion"]]
    return out


def to_records(result: MonthResult, rows: pd.DataFrame | None = None) -> list[dict]:
    """JSON-ready grades (for the API and `--json`)."""
    rows = result.table if rows is None else rows
    out = []
    for _, r in rows.iterrows():
        out.append(
            {
                "credit_code": r["credit_code"],
                "name": r.get("name"),
                "county_code": r.get("county_code"),
                "industry_code": r.get("industry_code"),
                "month": result.month,
                "grade": r["grade"],
                "grade_before_contagion": r["grade_before_contagion"],
                "category": r["category"],
                "score": float(r["score"]),
                "pd": round(float(r["pd"]), 4),
                "reason_codes": [
                    {"characteristic": n, "label": CHARACTERISTICS[n], "points_lost": p}
                    for n, p in r["reason_codes"]
                ],
                "rules": list(r["materialised_rules"]) + list(r["signals"]),
                "contagion": [{"rule": a, "partner": b} for a, b in r["contagion"]],
                "reasons": explain(r, result.config),
                "lineage": {
                    src: (None if pd.isna(r[col]) else int(r[col]))
                    for src, col in zip(
                        ("insured", "tax-monthly", "utility", "credit"), LINEAGE_COLUMNS, strict=True
                    )
                },
            }
        )
    return out


def available_months(wh: Warehouse, cfg: RiskConfig | None = None) -> list[str]:
    """Months that can be graded (YYYY-MM), oldest first; empty without risk data."""
    cfg = cfg or load_config()
    if not wh.has_table("insured"):
        return []
    df = prepared(wh, cfg)
    return sorted({f"{m:%Y-%m}" for m in df["month"].unique()})


def neighbourhood(
    result: MonthResult, code: str, radius: int = 2, limit: int = 60
) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Enterprises within `radius` guarantees of `code` (either direction, at most `limit`,
    nearest first) and the guarantees among them (guarantor, borrower, amount)."""
    import networkx as nx

    g = result.network.graph
    if code not in g:
        return [code], []
    lengths = nx.single_source_shortest_path_length(g.to_undirected(as_view=True), code, cutoff=radius)
    nodes = sorted(lengths, key=lambda n: (lengths[n], n))[:limit]
    keep = set(nodes)
    edges = [(a, b, float(d["amount"])) for a, b, d in g.edges(data=True) if a in keep and b in keep]
    return nodes, edges
