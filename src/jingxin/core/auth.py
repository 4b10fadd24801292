"""Roles, password hashing and the mapping from a user to a region scope (权限).

This module says *who may do what*: the roles of the platform, which of them is cleared
to read sensitive fields (tax, debts, court cases), how passwords are hashed, and how a user's
role and division become a `Scope` (what data they may see). It knows nothing about HTTP or
about the users table, so the web app, the CLI and the tests all share one definition.

Roles decide *features* (which pages and actions a user gets); the `Scope` decides *data*
(which rows those pages show). Keeping the two apart is what lets a county analyst and the
province analyst use the same page and see different rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from jingxin.core.scope import Scope


class Role(StrEnum):
    """The roles (角色) of the platform; the value is what the database stores."""

    ADMIN = "admin"
    PROVINCE_ANALYST = "province_analyst"
    CITY_ANALYST = "city_analyst"
    COUNTY_ANALYST = "county_analyst"
    LIAISON = "liaison"
    SERVICE_STAFF = "service_staff"
    ENTERPRISE = "enterprise"
    OPERATOR = "operator"
    """A telecom operator (通信运营商) filing 5G site applications: pinned, like an enterprise,
    to its own credit code, so it sees its own applications and nothing of a region."""
    FINANCE = "finance"
    """A finance bureau (财政部门) of a county, city or the province: records the payment of
    policy payouts (政策直兑、申请兑现) confirmed in its region, and sees nothing else (its scope
    holds the payout cases only, see `FINANCE_WORKFLOWS`)."""

    @property
    def label(self) -> str:
        """The Chinese name shown to users."""
        return ROLE_LABELS[self]

    @property
    def clearance(self) -> bool:
        """Whether this role reads sensitive fields (税收、负债、涉诉) unmasked.

        Analysts need the figures to evaluate; an enterprise sees its own figures (its scope
        holds nothing else). A liaison uploads data but does not analyse it, and service staff
        help enterprises without needing their tax figures, so both see masks. Finance pays
        the amounts a county confirmed: it needs who is paid how much (the payout lines, not
        sensitive fields) and never the tax, debt or court figures behind an eligibility, so
        it has no clearance (and its scope reads no warehouse row anyway).
        """
        return self in CLEARED_ROLES


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.PROVINCE_ANALYST: "省级分析员",
    Role.CITY_ANALYST: "市级分析员",
    Role.COUNTY_ANALYST: "县级分析员",
    Role.LIAISON: "部门数据联络员",
    Role.SERVICE_STAFF: "驻企服务员",
    Role.ENTERPRISE: "企业",
    Role.OPERATOR: "通信运营商",
    Role.FINANCE: "财政部门",
}

ALL_ROLES: frozenset[Role] = frozenset(Role)
ANALYSTS: frozenset[Role] = frozenset({Role.PROVINCE_ANALYST, Role.CITY_ANALYST, Role.COUNTY_ANALYST})
CLEARED_ROLES: frozenset[Role] = frozenset({Role.ADMIN, *ANALYSTS, Role.ENTERPRISE})

FINANCE_WORKFLOWS: frozenset[str] = frozenset({"policy_payout", "policy_application"})
"""The cases a finance bureau handles: the payout workflows (政策直兑, 政策申请) declared in
`core/workflow/definitions`, whose payment step (记录拨付) is finance's alone."""

# The division level each role must be bound to (None = any level of the province's tree).
ROLE_DIVISION_LEVEL: dict[Role, str | None] = {
    Role.ADMIN: "province",
    Role.PROVINCE_ANALYST: "province",
    Role.CITY_ANALYST: "city",
    Role.COUNTY_ANALYST: "county",
    Role.LIAISON: None,
    Role.SERVICE_STAFF: None,
    Role.ENTERPRISE: None,
    Role.OPERATOR: None,
    Role.FINANCE: None,  # a county, city or province finance bureau
}


def departments() -> list[str]:
    """The departments that send data (部门), in contract order: a liaison belongs to one."""
    from jingxin.core.contracts import load_contracts

    seen: dict[str, None] = {}
    for src in load_contracts().sources.values():
        seen.setdefault(src.department, None)
    return list(seen)


def scope_for(
    role: Role | str,
    division: str,
    department: str | None = None,
    credit_code: str | None = None,
    enterprises: frozenset[str] | set[str] | tuple[str, ...] = (),
) -> Scope:
    """The `Scope` of a user: the single rule that turns an account into what it may see.

    - admin: everything (no division filter).
    - analysts: their division and everything under it.
    - liaison: their division, and among batches only their own department's.
    - service staff: the enterprises assigned to them, nothing else.
    - enterprise: its own credit code, nothing else.
    - operator: its own credit code (its own applications), nothing else.
    - finance: the payout cases (`FINANCE_WORKFLOWS`) of its division and everything under it,
      nothing else.
    """
    role = Role(role)
    if role is Role.ADMIN:
        return Scope()
    if role is Role.ENTERPRISE:
        if not credit_code:
            raise ValueError("企业用户必须绑定统一社会信用代码")
        return Scope(division=division, credit_code=credit_code)
    if role is Role.OPERATOR:
        if not credit_code:
            raise ValueError("通信运营商用户必须绑定统一社会信用代码")
        return Scope(division=division, credit_code=credit_code)
    if role is Role.SERVICE_STAFF:
        return Scope(division=division, enterprises=frozenset(enterprises))
    if role is Role.LIAISON:
        if not department:
            raise ValueError("部门数据联络员必须指定所属部门")
        return Scope(division=division, department=department)
    if role is Role.FINANCE:
        return Scope(division=division, workflows=FINANCE_WORKFLOWS)
    return Scope(division=division)


# ---- passwords ----------------------------------------------------------------------------

_hasher = PasswordHasher()
_DUMMY_HASH: str | None = None

PASSWORD_MIN_LENGTH = 10


def configure_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (tests use cheap ones; production keeps the defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; a malformed stored hash counts as a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_verification(password: str) -> None:
    """Spend the time of one verification, so an unknown username answers as slowly as a
    wrong password and login timing does not reveal which accounts exist."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
    verify_password(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Why a new password is refused (in Chinese), or None if it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"密码至少{PASSWORD_MIN_LENGTH}位"
    if len(password) > 128:
        return "密码不能超过128位"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "密码须同时包含字母和数字"
    return None


# ---- tokens -------------------------------------------------------------------------------


def new_token() -> str:
    """A random, URL-safe secret (256 bits) for session ids and CSRF tokens."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database stores of a session id: its SHA-256, so a copy of the sessions table
    does not let anyone take over a session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (None never matches)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
