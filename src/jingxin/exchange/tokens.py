"""API tokens for data sharing (数据共享接口令牌): issued by administrators to a department or a
system, each limited to named datasets and fields, a region, a rate and an expiry.

A token reads `jxt_<prefix>_<secret>`. The platform keeps the prefix (to find the token and to
name it in lists and the audit log) and the SHA-256 of the whole token; the token itself is
shown once, when it is issued. `check_call` is the one gate every token call passes: it
answers with a `TokenCall` (the grant and the `Scope` the warehouse queries go through) or
raises `TokenRefused` with the HTTP status and a Chinese reason. Every call, served or refused,
is written to the audit log (`exchange_read` / `exchange_refused`, user `token:<prefix>`), and
the rate limit counts the served calls of the last minute in that log, so it holds across
processes and restarts; a call locks its token while it counts, so racing calls cannot pass
the rate together.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.auth import token_digest, tokens_equal
from jingxin.core.contracts import load_contracts
from jingxin.core.db import clean_text, utcnow, write_turn
from jingxin.core.scope import Scope, division_prefix
from jingxin.exchange.models import ExchangeToken

TOKEN_PATTERN = re.compile(r"^jxt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
READ = audit.Action.EXCHANGE_READ
REFUSED = audit.Action.EXCHANGE_REFUSED
ISSUE = audit.Action.EXCHANGE_TOKEN_ISSUE
REVOKE = audit.Action.EXCHANGE_TOKEN_REVOKE
MAX_DAYS = 366
MAX_RATE = 6000


class TokenError(ValueError):
    """A token cannot be issued as asked (message in Chinese, says what to fix)."""


class TokenRefused(Exception):
    """A call refused: `status` is the HTTP status (401, 403, 429), `reason` is Chinese."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Issued:
    token: ExchangeToken
    secret: str  # the whole token, shown once


def _check_grants(grants: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    from jingxin.exchange.catalogue import shareable

    datasets = shareable()
    if not grants:
        raise TokenError("请至少授权一个数据集")
    clean: dict[str, list[str]] = {}
    for dataset, fields in grants.items():
        if dataset not in datasets:
            raise TokenError(f"数据集 {dataset!r} 不在共享目录中；可选：{', '.join(datasets)}")
        names = [c.name for c in datasets[dataset].columns]
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise TokenError(f"数据集 {dataset} 没有字段 {', '.join(unknown)}；可选：{', '.join(names)}")
        if not fields:
            raise TokenError(f"数据集 {dataset} 请至少授权一个字段")
        clean[dataset] = [n for n in names if n in set(fields)]  # contract order
    return clean


def _check_division(division: str | None) -> str | None:
    if not division:
        return None
    from jingxin.reference import loaders

    try:
        division_prefix(division)
        loaders.division(division)
    except (ValueError, KeyError, LookupError):
        raise TokenError(f"区划代码 {division!r} 不是本省的区划（6位 GB/T 2260 代码，如 330106）") from None
    return division


def issue_token(
    db: Session,
    actor: audit.Actor,
    *,
    name: str,
    holder: str,
    grants: Mapping[str, Sequence[str]],
    division: str | None,
    rate_per_minute: int,
    expires_at: datetime,
    now: datetime | None = None,
) -> Issued:
    """Issue a token (admins only: the caller checks the role). Audited; commits."""
    now = now or utcnow()
    name, holder = clean_text(name).strip()[:100], clean_text(holder).strip()[:100]
    if not name or not holder:
        raise TokenError("请填写令牌名称和使用单位（部门或系统）")
    if not 1 <= rate_per_minute <= MAX_RATE:
        raise TokenError(f"每分钟调用上限应在 1～{MAX_RATE} 之间")
    if expires_at.tzinfo is None:
        raise TokenError("有效期须带时区")
    if expires_at <= now:
        raise TokenError("有效期须晚于现在")
    if expires_at > now + timedelta(days=MAX_DAYS):
        raise TokenError(f"有效期最长 {MAX_DAYS} 天，到期后可重新签发")
    clean = _check_grants(grants)
    division = _check_division(division)
    prefix = secrets.token_hex(6)
    secret = f"jxt_{prefix}_{secrets.token_urlsafe(32)}"
    token = ExchangeToken(
        prefix=prefix,
        secret_hash=token_digest(secret),
        name=name,
        holder=holder,
        grants=clean,
        division=division,
        rate_per_minute=rate_per_minute,
        expires_at=expires_at,
        created_at=now,
        created_by=actor.username or "cli",
    )
    with write_turn(db):
        db.add(token)
        db.flush()
        audit.record(
            db,
            actor,
            ISSUE,
            "exchange_token",
            token.id,
            {
                "prefix": prefix,
                "holder": holder,
                "grants": clean,
                "division": division,
                "rate_per_minute": rate_per_minute,
                "expires_at": expires_at.isoformat(),
            },
        )
        db.commit()
    return Issued(token, secret)


def revoke_token(
    db: Session, actor: audit.Actor, token_id: int, now: datetime | None = None
) -> ExchangeToken:
    token = db.get(ExchangeToken, token_id)
    if token is None:
        raise LookupError(token_id)
    if token.revoked_at is None:
        with write_turn(db):
            token.revoked_at, token.revoked_by = now or utcnow(), actor.username or "cli"
            audit.record(db, actor, REVOKE, "exchange_token", token.id, {"prefix": token.prefix})
            db.commit()
    return token


def list_tokens(db: Session) -> list[ExchangeToken]:
    return list(db.scalars(select(ExchangeToken).order_by(ExchangeToken.id.desc())))


def token_status(token: ExchangeToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if token.revoked_at is not None:
        return "已吊销"
    if token.expires_at <= now:
        return "已过期"
    return "有效"


# ---- the gate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCall:
    """A call let through: which token, the fields it reads and the Scope its rows pass."""

    token_id: int
    prefix: str
    dataset: str | None
    fields: list[str]
    scope: Scope
    actor: audit.Actor


def token_scope(token: ExchangeToken, region: str | None = None) -> Scope:
    """The `Scope` of a token's grant (narrowed to `region` when asked): the same
    `Scope.restrict` then filters the warehouse queries as for a user of that division."""
    return Scope(division=region or token.division)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    kind, _, value = authorization.partition(" ")
    return value.strip() if kind.lower() == "bearer" and value.strip() else None


def _served_last_minute(db: Session, username: str, now: datetime) -> int:
    query = (
        select(func.count())
        .select_from(audit.AuditEntry)
        .where(
            audit.AuditEntry.username == username,
            audit.AuditEntry.action == READ,
            audit.AuditEntry.at > now - timedelta(minutes=1),
        )
    )
    return int(db.scalar(query) or 0)


def check_call(
    db: Session,
    secret: str | None,
    *,
    ip: str | None,
    dataset: str | None,
    fields: Sequence[str] | None = None,
    region: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TokenCall:
    """Let a call through or refuse it; either way the call is audited (committed at once).

    `dataset` None is a call that reads no data (the list of the token's datasets).
    `fields` None means every granted field of the dataset.
    """
    now = now or utcnow()
    match = TOKEN_PATTERN.match(secret or "")
    prefix = match.group(1) if match else None
    actor = audit.Actor(None, f"token:{prefix or 'unknown'}", ip)
    asked = {
        "dataset": dataset,
        "fields": list(fields) if fields is not None else None,
        "region": region,
        **(detail or {}),
    }

    def refuse(
        status: int, reason: str, token_id: int | None = None, retry: int | None = None
    ) -> TokenRefused:
        audit.record(
            db,
            actor,
            REFUSED,
            "exchange_token",
            token_id,
            {**asked, "status": status, "reason": reason},
            commit=True,
        )
        return TokenRefused(status, reason, retry)

    if not secret:
        raise refuse(401, "缺少接口令牌：请在请求头 Authorization: Bearer <令牌> 中提供")
    token = db.scalar(select(ExchangeToken).where(ExchangeToken.prefix == prefix)) if prefix else None
    if token is None or not tokens_equal(token.secret_hash, token_digest(secret)):
        raise refuse(401, "接口令牌无效")
    if token.revoked_at is not None:
        raise refuse(401, "接口令牌已被吊销，请联系平台管理员", token.id)
    if token.expires_at <= now:
        raise refuse(
            401, f"接口令牌已于 {token.expires_at.isoformat()} 过期，请联系平台管理员重新签发", token.id
        )
    granted = token.grants or {}
    chosen: list[str] = []
    if dataset is not None:
        if dataset not in granted:
            raise refuse(
                403, f"该令牌无权读取数据集 {dataset}；已授权：{', '.join(granted) or '无'}", token.id
            )
        allowed = list(granted[dataset])
        chosen = allowed if not fields else list(fields)
        extra = [f for f in chosen if f not in allowed]
        if extra:
            raise refuse(
                403, f"该令牌无权读取字段 {', '.join(extra)}；已授权：{', '.join(allowed)}", token.id
            )
        if dataset not in load_contracts().sources:
            raise refuse(403, f"数据集 {dataset} 已不在共享目录中", token.id)
    if region:
        try:
            inside = Scope(division=token.division).allows_division(region) and bool(division_prefix(region))
        except ValueError:
            inside = False
        if not inside:
            raise refuse(403, f"区划 {region} 不在该令牌的数据范围（{token.division or '全省'}）内", token.id)
    token_id, rate = token.id, token.rate_per_minute
    with write_turn(db):
        # Written before counting: the token's row (PostgreSQL) or the database (SQLite) stays
        # locked until this call is counted and committed, so calls racing on one token, in
        # any process, count each other and cannot pass its rate together.
        token.last_used_at = now
        db.flush()
        over = _served_last_minute(db, actor.username or "", now) >= rate
        if over:
            db.rollback()
        else:
            audit.record(
                db, actor, READ, "exchange_token", token_id, {**asked, "fields": chosen, "status": 200}
            )
            db.commit()
    if over:
        raise refuse(429, f"调用过于频繁：该令牌每分钟最多 {rate} 次，请稍后再试", token_id, 60)
    return TokenCall(token_id, token.prefix, dataset, chosen, token_scope(token, region), actor)
