"""Who sees risk grades (风险分级可见性): the one place for the risk scenario.

Grades and their reasons are sensitive: an enterprise on a list may lose credit if it leaks.

- Administrators and analysts see the grades of their region (`core/scope.py`): a county
  official his county, a city analyst his city, the province everything.
- Service staff (驻企服务员) see the enterprises assigned to them, nothing else, and no
  regional aggregate (their scope is pinned).
- An enterprise never sees its own grade or reasons unless the risk configuration says so
  (`visibility.enterprise_sees_own_grade`); when it does, its scope holds only itself.
- A data liaison sees none.

Every view of a grade (a list, an enterprise, an export, an API answer) is written to the
audit log (`core/audit.py`, action 查看风险分级) with what was shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.scope import Scope
from jingxin.risk.config import RiskConfig

READERS: frozenset[Role] = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF})
CASE_OPENERS: frozenset[Role] = frozenset({Role.ADMIN, *ANALYSTS})


class GradeHidden(PermissionError):
    pass


def may_read(role: Role, cfg: RiskConfig) -> bool:
    return role in READERS or (role == Role.ENTERPRISE and cfg.visibility.enterprise_sees_own_grade)


def check_read(role: Role, cfg: RiskConfig) -> None:
    if not may_read(role, cfg):
        if role == Role.ENTERPRISE:
            raise GradeHidden("企业风险分级及其原因不向企业本身展示")
        raise GradeHidden("您的角色无权查看企业风险分级")


def visible(table: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """Rows of graded enterprises inside `scope` (by credit code and county)."""
    if table.empty:
        return table
    keep = [
        scope.allows_enterprise(str(c), None if pd.isna(d) else str(d))
        for c, d in zip(table["credit_code"], table["county_code"], strict=True)
    ]
    return table[keep]


def audit_view(
    db: Session, actor: audit.Actor, what: str, month: str, codes: list[str], **detail: Any
) -> None:
    """Record that `actor` saw the grades of `codes` (a list keeps at most 200 codes and the count)."""
    audit.record(
        db,
        actor,
        audit.Action.RISK_GRADE_VIEW,
        "risk_grade",
        f"{what}:{month}"[:128],
        {"month": month, "count": len(codes), "credit_codes": codes[:200], **detail},
        commit=True,
    )
