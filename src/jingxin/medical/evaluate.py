"""The medical scenario measured against generated truth (jingxin.synth.medical).

For each injected fact — a region-item below its physical norm, short of its agreement norm, a
lot expiring inside the warning window, a supplier that did not report (no row in the ingested
file of the day, or a row rejected at ingestion) — the platform's own warnings and missing list
are compared with the truth: precision (share of warnings that are
true) and recall (share of true facts warned). The scenario's document states the figures.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.scope import EVERYTHING
from jingxin.medical import suppliers, supply
from jingxin.medical.models import Reserve


def _pr(found: set[Any], truth: set[Any]) -> dict[str, float]:
    hit = len(found & truth)
    return {
        "found": len(found),
        "truth": len(truth),
        "precision": hit / len(found) if found else 1.0,
        "recall": hit / len(truth) if truth else 1.0,
    }


def measure(
    db: Session, manifest: dict[str, Any], facts: Any, counties: set[str] | None = None
) -> dict[str, dict[str, float]]:
    """`facts`: the warehouse's live rows of the source medical-supply (the ingested reports)."""
    on = date.fromisoformat(manifest["as_of"])
    warns = supply.warnings(db, EVERYTHING, on, "normal")
    inside = (lambda code: code in counties) if counties else (lambda code: True)  # noqa: E731
    codes = {r.id: r.code for r in db.scalars(select(Reserve))}
    phys = {
        (w.division_code, w.item_id)
        for w in warns
        if w.kind == "below_norm" and "实物" in w.text and inside(w.division_code)
    }
    agree = {
        (w.division_code, w.item_id)
        for w in warns
        if w.kind == "below_norm" and "协议" in w.text and inside(w.division_code)
    }
    expiring = {
        (codes[w.reserve_id], w.lot)
        for w in warns
        if w.kind == "expiry" and w.reserve_id and inside(w.division_code)
    }
    missing = {m.credit_code for m in suppliers.missing(db, EVERYTHING, on, facts) if inside(m.division_code)}
    return {
        "below_norm": _pr(phys, {tuple(x) for x in manifest["below_norm"]}),
        "agreement_short": _pr(agree, {tuple(x) for x in manifest["agreement_short"]}),
        "expiring": _pr(expiring, {tuple(x) for x in manifest["expiring"]}),
        "missing_reports": _pr(missing, set(manifest["missing_reports"])),
    }
