"""Measuring the risk grades against the generated truth (生成真值检验), for docs/risk.md.

Out of time: the scorecard is fitted as of `fit_month` (rows up to six months earlier, whose
outcome is known by then) and tested on the following twelve months, whose outcome the
generator's manifest knows. Compared side by side on the same rows:

- the scorecard (optbinning: monotonic bins, WoE, logistic regression);
- a rules-only baseline: the number of hidden-danger signals that fire;
- a plain logistic regression on the raw characteristics (missing as 0, standardised).

Also: the realised distress rate by grade (it must rise from 正常 to 重点关注), and the lead
time of the contagion rules on distress that spread along guarantees (months before the true
出险 that an enterprise was first graded, with and without the contagion rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.preprocessing import StandardScaler

from jingxin.core.warehouse import Warehouse
from jingxin.risk.config import GENERAL, KEY, RiskConfig
from jingxin.risk.contagion import apply_contagion, build_network, guarantees_in_force
from jingxin.risk.features import CHARACTERISTICS
from jingxin.risk.monitoring import Monitor, realised_by_grade
from jingxin.risk.rules import add_labels
from jingxin.risk.service import fit_as_of, grade_rows, prepared, training_rows


def ks(y: np.ndarray, score: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def truth_labels(df: pd.DataFrame, manifest: dict[str, Any], horizon: int) -> pd.DataFrame:
    """Add `true_target` (the generator's 出险 within the next `horizon` months) and
    `true_in_distress` (出险 already happened)."""
    onset = {e["credit_code"]: pd.Timestamp(e["onset"] + "-01") for e in manifest["distress"]["enterprises"]}
    cause = {e["credit_code"]: e["cause"] for e in manifest["distress"]["enterprises"]}
    out = df.copy()
    on = out["credit_code"].map(onset)
    months_to = (on.dt.year - out["month"].dt.year) * 12 + (on.dt.month - out["month"].dt.month)
    out["true_in_distress"] = months_to.notna() & (months_to <= 0)
    out["true_target"] = (months_to.notna() & (months_to > 0) & (months_to <= horizon)).astype(float)
    out["true_onset"] = on
    out["true_cause"] = out["credit_code"].map(cause)
    return out


def _metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"auc": round(float(roc_auc_score(y, s)), 4), "ks": round(ks(y, s), 4)}


def evaluate(wh: Warehouse, manifest: dict[str, Any], cfg: RiskConfig, fit_month: str) -> dict[str, Any]:
    h = cfg.scorecard.horizon_months
    df = prepared(wh, cfg)
    fit_m = pd.Timestamp(fit_month + "-01")
    last = df["month"].max()
    model = fit_as_of(df, fit_m, cfg)
    labelled = truth_labels(add_labels(df, h), manifest, h)
    test_end = last - pd.DateOffset(months=h)
    test = labelled[(labelled["month"] > fit_m) & (labelled["month"] <= test_end) & ~labelled["in_distress"]]
    test = test[~test["true_in_distress"]]
    train_known = add_labels(df[df["month"] <= fit_m], h)
    train = training_rows(train_known)

    graded = grade_rows(test, model, cfg)
    raw = list(CHARACTERISTICS)
    scaler = StandardScaler().fit(train[raw].fillna(0).to_numpy())
    lr = LogisticRegression(max_iter=2000).fit(
        scaler.transform(train[raw].fillna(0).to_numpy()), train["target"].astype(int)
    )
    lr_score = lr.predict_proba(scaler.transform(test[raw].fillna(0).to_numpy()))[:, 1]
    comparison = {}
    for label, y in (("truth", graded["true_target"].to_numpy()), ("observed", graded["target"].to_numpy())):
        ok = ~np.isnan(y)
        comparison[label] = {
            "rows": int(ok.sum()),
            "events": int(np.nansum(y)),
            "scorecard": _metrics(y[ok], graded["pd"].to_numpy()[ok]),
            "rules_only": _metrics(y[ok], graded["signal_count"].to_numpy()[ok]),
            "logistic_raw": _metrics(y[ok], lr_score[ok]),
        }
    by_grade = realised_by_grade(graded.assign(t=graded["true_target"]), target="t")
    monitor = Monitor(model, train, cfg)
    psi_rows = [
        {"month": f"{m:%Y-%m}", **monitor.month(part)}
        for m, part in labelled[labelled["month"] > fit_m].groupby("month")
    ]
    return {
        "fit_month": fit_month,
        "trained_on": model.trained_on,
        "train_rows": model.train_rows,
        "train_events": model.train_events,
        "test_months": [f"{fit_m + pd.DateOffset(months=1):%Y-%m}", f"{test_end:%Y-%m}"],
        "comparison": comparison,
        "by_grade": by_grade,
        "scorecard": model.summary(),
        "psi": psi_rows,
        "lead": lead_times(wh, labelled, model, cfg, fit_m),
    }


def lead_times(
    wh: Warehouse, labelled: pd.DataFrame, model, cfg: RiskConfig, fit_m: pd.Timestamp
) -> dict[str, Any]:
    """For enterprises whose true distress spread along a guarantee, months between the first
    grade of concern and the true 出险, scorecard and rules alone vs with contagion rules."""
    months = sorted(m for m in labelled["month"].unique() if m > fit_m)
    first: dict[str, dict[str, pd.Timestamp]] = {"alone": {}, "contagion": {}}
    first_key: dict[str, dict[str, pd.Timestamp]] = {"alone": {}, "contagion": {}}
    for m in months:
        rows = labelled[labelled["month"] == m]
        graded = grade_rows(rows, model, cfg)
        graded = apply_contagion(
            graded, build_network(guarantees_in_force(wh, pd.Timestamp(m))), cfg.contagion
        )
        for kind, col in (("alone", "grade_before_contagion"), ("contagion", "grade")):
            for code in graded.loc[graded[col].isin([KEY, GENERAL]), "credit_code"]:
                first[kind].setdefault(code, m)
            for code in graded.loc[graded[col] == KEY, "credit_code"]:
                first_key[kind].setdefault(code, m)
    truth = labelled.drop_duplicates("credit_code")
    spread = truth[
        (truth["true_cause"] == "contagion") & (truth["true_onset"] > fit_m + pd.DateOffset(months=2))
    ]
    out: dict[str, Any] = {"cases": int(len(spread))}
    for name, table in (("concern", first), ("key", first_key)):
        for kind in ("alone", "contagion"):
            leads = []
            for code, onset in spread[["credit_code", "true_onset"]].itertuples(index=False):
                f = table[kind].get(code)
                if f is not None and f <= onset:
                    leads.append((onset.year - f.year) * 12 + onset.month - f.month)
            out[f"{name}_{kind}"] = {
                "caught_by_onset": len(leads),
                "caught_before_onset": int(sum(1 for x in leads if x > 0)),
                "mean_lead_months": round(float(np.mean(leads)), 2) if leads else None,
                "median_lead_months": float(np.median(leads)) if leads else None,
            }
    return out
