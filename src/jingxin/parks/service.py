"""小微企业园 operations: rate a year's parks (warehouse reads through Ibis), open and move the
star-rating cases (core/workflow `park_rating`) with the rule of which level decides which star.

Scores are relative to every park of the province (min–max), so the rating is computed over the
province and what a user sees is restricted by `Scope.allows_division` of the park's county.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from jingxin.core import workflow as _wf  # noqa: F401  (package import registers models)
from jingxin.core.cache import cached_read
from jingxin.core.scope import Scope
from jingxin.core.workflow import service as wf
from jingxin.parks.config import ParkConfig, load_park_config
from jingxin.parks.rating import rate_parks

__all__ = [
    "NoParkData",
    "RatingRefused",
    "park_reports",
    "rated_parks",
    "visible_parks",
    "open_rating",
    "take_step",
    "rating_cases",
    "WORKFLOW",
]

WORKFLOW = "park_rating"
# Which transition decides at which level (the star it may give is checked against `authority`).
DECIDING = {"county_rate": "county", "city_rate": "city", "province_rate": "province"}
SUBMITTING = {"county_submit": "county", "city_submit": "city"}
LEVEL_NAMES = {"county": "县级", "city": "市级", "province": "省级"}


class NoParkData(LookupError):
    pass


class RatingRefused(ValueError):
    """A step breaks the rule of who rates which star; the message says who should."""


def park_reports(wh: Any, year: int) -> pd.DataFrame:
    t = wh.current("park_reports")
    df = wh.execute(t.filter(t.year == int(year)).drop("batch_id", "source_row"))
    if df.empty:
        raise NoParkData(f"仓库中没有 {year} 年的小微企业园运营报告（数据源 park-reports）；请先归集该年文件")
    return df.set_index("park_id")


@cached_read
def _rated(wh: Any, year: int, cfg_json: str) -> pd.DataFrame:
    return rate_parks(park_reports(wh, year), ParkConfig.model_validate_json(cfg_json), year)


def rated_parks(wh: Any, year: int, cfg: ParkConfig | None = None) -> pd.DataFrame:
    """Every park of the province, rated (not yet restricted; kept by the data version)."""
    return _rated(wh, int(year), (cfg or load_park_config()).model_dump_json())


def visible_parks(table: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    return table[[scope.allows_division(str(c)) for c in table["division_code"]]]


def rating_cases(db: Session, scope: Scope, year: int | None = None) -> dict[str, Any]:
    """The park_rating cases inside `scope`, by park id (the newest case of each park and year)."""
    items, _ = wf.list_items(db, scope, workflow=WORKFLOW, limit=100_000)
    out: dict[str, Any] = {}
    for item in items:  # newest first
        f = item.fields or {}
        if year is not None and str(f.get("year")) != str(year):
            continue
        out.setdefault(str(f.get("park_id")), item)
    return out


def open_rating(db: Session, user: Any, row: pd.Series, park_id: str, year: int, now: Any = None) -> Any:
    """Start the rating case of one park (idempotent per park and year)."""
    if not user.scope.allows_division(str(row["division_code"])):
        raise LookupError(park_id)
    return wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=str(row["division_code"]),
        fields={
            "title": f"{row['park_name']} {year}年星级评定",
            "park_id": park_id,
            "year": str(year),
            "score": f"{float(row['total']):.2f}",
            "grade": str(row["grade"]),
            "proposed_star": str(int(row["proposed_star"])),
        },
        key=f"park:{park_id}:{year}",
        now=now,
    )


def _rated_level(db: Session, scope: Scope, item: Any) -> str | None:
    """The level whose decision put the case into publicity last."""
    for step in reversed(wf.history(db, scope, item.id)):
        if step.action in DECIDING:
            return DECIDING[step.action]
    return None


def take_step(
    db: Session,
    user: Any,
    item_id: int,
    transition: str,
    fields: dict[str, Any],
    comment: str = "",
    cfg: ParkConfig | None = None,
    expected_version: int | None = None,
    now: Any = None,
) -> Any:
    """One workflow step, after the rule of stars: a level decides only the stars it holds, and
    submits upward only a star above them; the level that rated answers objections and publishes."""
    cfg = cfg or load_park_config()
    item = wf.get_item(db, user.scope, item_id)
    star_text = fields.get("star")
    if transition in DECIDING or transition in SUBMITTING:
        try:
            star = int(str(star_text))
        except ValueError:
            raise RatingRefused("请选择评定星级（0～5）") from None
        level = DECIDING.get(transition) or SUBMITTING[transition]
        holder = cfg.level_for_star(star)
        order = ["county", "city", "province"]
        if transition in DECIDING and holder != level and star != 0:
            raise RatingRefused(
                f"{star}星由{LEVEL_NAMES[holder]}评定；{LEVEL_NAMES[level]}不能评定，请上报或改选星级"
            )
        if transition in SUBMITTING and order.index(holder) <= order.index(level):
            raise RatingRefused(f"{star}星由{LEVEL_NAMES[holder]}评定，无须上报；请直接评定")
    if transition in ("keep", "revise", "publish") and user.role != "admin":
        rated = _rated_level(db, user.scope, item)
        role_level = {"county_analyst": "county", "city_analyst": "city", "province_analyst": "province"}
        if rated is not None and role_level.get(str(user.role)) != rated:
            raise RatingRefused(f"应由作出评定的{LEVEL_NAMES[rated]}经信部门处理")
    return wf.act(
        db,
        item_id,
        transition,
        user,
        fields=fields,
        comment=comment,
        expected_version=expected_version,
        now=now,
    )
