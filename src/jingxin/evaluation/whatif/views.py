"""What-if pages and API (情景推演页面与接口).

/evaluation/whatif: the county's parameters as a form beside the official results; every change
recomputes at once (HTMX POST /evaluation/whatif/run) and shows the class counts, the
enterprises that change class and why, the county's place and the policy money that moves.
Scenarios are saved (POST /evaluation/whatif/scenarios), compared two at a time
(/evaluation/whatif?a=&b=) and adopted by an administrator (POST
/evaluation/whatif/scenarios/{id}/adopt). JSON: POST /api/v1/evaluation/whatif, GET and POST
/api/v1/evaluation/whatif/scenarios, POST /api/v1/evaluation/whatif/scenarios/{id}/adopt.

A what-if covers a county, a city or the province (`county` takes any 6-digit division code):
a scenario of a city or the province applies to every county in it. Analysts and
administrators only; a division outside the user's scope answers 404 (a county analyst re-runs
its own county only, a city analyst its city and its counties).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from jingxin.core.auth import Role
from jingxin.core.scope import Scope, division_prefix
from jingxin.evaluation import dashboard
from jingxin.evaluation.config import ConfigError
from jingxin.evaluation.pages import REGION_ROLES
from jingxin.evaluation.presenters import division_name
from jingxin.evaluation.whatif import store
from jingxin.evaluation.whatif.engine import WhatIfError
from jingxin.evaluation.whatif.scenario import Scenario, ScenarioError, apply
from jingxin.evaluation.whatif.service import (
    OutOfScope,
    check_division,
    official_parameters,
    run_scenario,
    scenario_result,
    whatif_system,
)
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.params import RowId
from jingxin.web.schemas import Message
from jingxin.web.templating import render

whatif_pages = APIRouter(include_in_schema=False)
whatif_api = APIRouter()
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message, "description": "角色无权（采纳：仅管理员）"},
    404: {"model": Message, "description": "区县或情景不在您的数据范围内"},
    422: {"model": Message, "description": "参数不符合评价体系（说明见 detail）"},
}
ROLES = Depends(require_roles(*REGION_ROLES))
ADMIN = Depends(require_roles(Role.ADMIN))


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="区县或情景不存在或不在您的数据范围内")


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def _county(scope: Scope, county: str | None) -> str:
    """The division asked for (county, city or province), if the scope allows it."""
    try:
        return check_division(scope, county or None)
    except OutOfScope:
        raise _not_found() from None


def _areas(scope: Scope) -> list[dict[str, str]]:
    """What the user may re-run as a whole, above the county: the province, cities."""
    from jingxin.reference import counties

    out = []
    if scope.allows_division(dashboard.PROVINCE):
        out.append({"code": dashboard.PROVINCE, "name": division_name(dashboard.PROVINCE)})
    cities = sorted({c.code[:4] + "00" for c in counties()})
    out += [{"code": c, "name": division_name(c)} for c in cities if scope.allows_division(c)]
    return out


def _number(form: Any, name: str, label: str) -> float | None:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError(f"{label}：“{raw}”不是数字") from None
    if not math.isfinite(value):
        raise ScenarioError(f"{label}：应为有限数字")
    return value


def scenario_from_form(form: Any, official: dict[str, Any]) -> Scenario:
    """The scenario of a submitted form: only what differs from the official parameters."""
    data: dict[str, Any] = {"weights": {}, "references": {}, "caps": {}}
    for ind in official["indicators"]:
        i, name = ind["id"], ind["name"]
        w = _number(form, f"w_{i}", f"{name}权重")
        if w is not None and abs(w - ind["weight"]) > 1e-12:
            data["weights"][i] = w
        if f"ref_{i}" in form:
            ref = _number(form, f"ref_{i}", f"{name}参照值")
            if (ref is None) != (ind["reference"] is None) or (
                ref is not None and abs(ref - ind["reference"]) > 1e-12
            ):
                data["references"][i] = ref
        cap = _number(form, f"cap_{i}", f"{name}封顶倍数")
        if cap is not None and (ind["cap"] is None or abs(cap - ind["cap"]) > 1e-12):
            data["caps"][i] = cap
    if official["method"] == "shares":
        shares = {c: _number(form, f"share_{c}", f"{c}类比例") for c in official["classes"]}
        if all(v is not None for v in shares.values()) and shares != official["shares"]:
            data["shares"] = shares
    relief = {c: _number(form, f"relief_{c}", f"{c}类土地使用税减免") for c in official["all_classes"]}
    given = {c: v for c, v in relief.items() if v is not None}
    if given != {c: v for c, v in official["relief"].items() if v is not None}:
        data["land_tax_relief_pct"] = given
    if official["surcharge"]:
        rates = [
            _number(form, f"sur_{k}", f"差别化电价第{k + 1}档") for k in range(len(official["surcharge"]))
        ]
        if all(r is not None for r in rates) and rates != [s["rate"] for s in official["surcharge"]]:
            data["surcharge_yuan_per_kwh"] = rates
    return Scenario.model_validate({k: v for k, v in data.items() if v or k in ("shares",)})


def _system_year(wh: Any, scope: Scope, year: int | None, system: str | None) -> tuple[str, int]:
    choice = dashboard.choose_run(wh, scope, year, system)
    if choice.run is None or choice.system is None or choice.year is None:
        raise _not_found()  # what-if starts from a stored run the reader can see
    return choice.system, choice.year


def _result_context(wh: Any, system: str, year: int, county: str, scenario: Scenario) -> dict[str, Any]:
    try:
        return {"result": run_scenario(wh, system, year, county, scenario), "error": None}
    except (ScenarioError, WhatIfError, ConfigError) as exc:
        return {"result": None, "error": str(exc)}


@whatif_pages.get("/evaluation/whatif", dependencies=[ROLES])
def whatif_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    year: int | None = None,
    system: str | None = None,
    county: str | None = None,
    a: int | None = None,
    b: int | None = None,
    adopted: int | None = None,
) -> Response:
    """情景推演: the form, the official result beside the scenario's, saved scenarios."""
    system_id, year_ = _system_year(wh, scope, year, system)
    counties = dashboard.counties_in_scope(scope)
    if county is None and not (scope.division and len(division_prefix(scope.division)) == 6):
        county = counties[0].code if counties else None  # the whole city or province: on request
    code = _county(scope, county)
    sys_ = whatif_system(system_id)
    official = official_parameters(sys_, code, year_)
    saved = store.listed(db, scope, system_id, year_, code)
    context: dict[str, Any] = {
        "page_title": "情景推演",
        "system": system_id,
        "system_title": sys_.title,
        "year": year_,
        "county": code,
        "county_name": division_name(code),
        "counties": counties,
        "areas": _areas(scope),
        "official": official,
        "saved": [store.describe(r) | {"adopted": r.adopted_at is not None} for r in saved],
        "is_admin": user.role_enum is Role.ADMIN,
        "adopted": adopted,
        **_result_context(wh, system_id, year_, code, Scenario()),
    }
    if a is not None and b is not None:
        context["pair"] = _pair(wh, db, scope, a, b)
    return render(request, "evaluation/whatif.html", context)


def _pair(wh: Any, db: Any, scope: Scope, a: int, b: int) -> dict[str, Any]:
    """Two saved scenarios side by side (same system, year and county)."""
    try:
        ra, rb = store.get(db, scope, a), store.get(db, scope, b)
    except store.NotFound:
        raise _not_found() from None
    if (ra.system, ra.year, ra.county_code) != (rb.system, rb.year, rb.county_code):
        raise _unprocessable("只能比较同一区县、年度和评价体系的两个情景")
    out = {}
    for key, row in (("a", ra), ("b", rb)):
        out[key] = store.describe(row) | run_scenario(
            wh, row.system, row.year, row.county_code, store.params_of(row)
        )
    from jingxin.evaluation.whatif.compare import compare

    system = whatif_system(ra.system)
    sa = apply(system, ra.county_code, ra.year, store.params_of(ra))
    sb = apply(system, rb.county_code, rb.year, store.params_of(rb))
    _, result_a = scenario_result(wh, system, ra.year, ra.county_code, store.params_of(ra))
    _, result_b = scenario_result(wh, system, rb.year, rb.county_code, store.params_of(rb))
    out["between"] = compare(sa, sb, result_a, result_b)
    return out


@whatif_pages.post("/evaluation/whatif/run", dependencies=[ROLES])
async def whatif_run(request: Request, wh: WarehouseReader, scope: CurrentScope) -> Response:
    """The comparison for the submitted parameters (an HTMX fragment)."""
    form = await request.form()
    system_id, year_ = _system_year(wh, scope, _int(form.get("year")), str(form.get("system") or "") or None)
    code = _county(scope, str(form.get("county") or "") or None)
    official = official_parameters(whatif_system(system_id), code, year_)
    try:
        scenario = scenario_from_form(form, official)
        context = _result_context(wh, system_id, year_, code, scenario)
    except (ScenarioError, ValueError) as exc:
        context = {"result": None, "error": str(exc)}
    return render(request, "evaluation/_whatif_result.html", {**context, "county": code})


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


@whatif_pages.post("/evaluation/whatif/scenarios", dependencies=[ROLES])
async def whatif_save(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
) -> Response:
    """Save the form's parameters as a named scenario."""
    form = await request.form()
    system_id, year_ = _system_year(wh, scope, _int(form.get("year")), str(form.get("system") or "") or None)
    code = _county(scope, str(form.get("county") or "") or None)
    official = official_parameters(whatif_system(system_id), code, year_)
    try:
        scenario = scenario_from_form(form, official)
        apply(whatif_system(system_id), code, year_, scenario)
        row = store.save(
            db,
            scope,
            actor,
            name=str(form.get("name") or ""),
            system=system_id,
            year=year_,
            county=code,
            scenario=scenario,
            user_id=user.id,
            user_name=user.display_name or user.username,
        )
    except (ScenarioError, ValueError) as exc:
        raise _unprocessable(str(exc)) from None
    except store.NotFound:
        raise _not_found() from None
    url = f"/evaluation/whatif?system={system_id}&year={year_}&county={code}#saved-{row.id}"
    return RedirectResponse(url, status_code=303)


@whatif_pages.post("/evaluation/whatif/scenarios/{scenario_id}/adopt", dependencies=[ADMIN])
def whatif_adopt(
    scenario_id: RowId, scope: CurrentScope, user: CurrentUser, db: DbSession, actor: CurrentActor
) -> Response:
    """Adopt a scenario as the county's override file (administrator; audited)."""
    try:
        store.adopt(db, scope, actor, scenario_id, user.id)
        row = store.get(db, scope, scenario_id)
    except store.NotFound:
        raise _not_found() from None
    except (store.AdoptError, ScenarioError) as exc:
        raise _unprocessable(str(exc)) from None
    url = f"/evaluation/whatif?system={row.system}&year={row.year}&county={row.county_code}&adopted={row.id}"
    return RedirectResponse(url, status_code=303)


# ---- JSON ----------------------------------------------------------------------------------
class WhatIfIn(BaseModel):
    system: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="评价体系，缺省为最新批次的体系",
    )
    year: int | None = Field(default=None, ge=2000, le=2100, description="年度，缺省为最新")
    county: str | None = Field(
        default=None,
        pattern=r"^\d{6}$",
        description="区划代码：区县、市或全省（330000）；县级分析员为本县",
    )
    scenario: Scenario = Field(default_factory=Scenario)


class SaveIn(WhatIfIn):
    name: str = Field(min_length=1, max_length=100)


@whatif_api.post("/evaluation/whatif", dependencies=[ROLES], tags=["亩均评价"], responses=RESPONSES)
def api_whatif(body: WhatIfIn, wh: WarehouseReader, scope: CurrentScope) -> dict[str, Any]:
    """情景推演：按给定参数重算本区县，与正式参数的结果对比（不写入正式结果）。"""
    system_id, year_ = _system_year(wh, scope, body.year, body.system)
    code = _county(scope, body.county)
    ctx = _result_context(wh, system_id, year_, code, body.scenario)
    if ctx["error"]:
        raise _unprocessable(ctx["error"])
    return {"system": system_id, "year": year_, "county": code, **ctx["result"]}


@whatif_api.get("/evaluation/whatif/scenarios", dependencies=[ROLES], tags=["亩均评价"], responses=RESPONSES)
def api_scenarios(
    wh: WarehouseReader,
    scope: CurrentScope,
    db: DbSession,
    system: str | None = None,
    year: int | None = None,
    county: str | None = None,
) -> list[dict[str, Any]]:
    """本区县已保存的情景。"""
    system_id, year_ = _system_year(wh, scope, year, system)
    code = _county(scope, county)
    return [store.describe(r) for r in store.listed(db, scope, system_id, year_, code)]


@whatif_api.post(
    "/evaluation/whatif/scenarios",
    dependencies=[ROLES],
    tags=["亩均评价"],
    status_code=201,
    responses=RESPONSES,
)
def api_save(
    body: SaveIn,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
) -> dict[str, Any]:
    """保存情景（只保存改动的参数）。"""
    system_id, year_ = _system_year(wh, scope, body.year, body.system)
    code = _county(scope, body.county)
    try:
        apply(whatif_system(system_id), code, year_, body.scenario)
        row = store.save(
            db,
            scope,
            actor,
            name=body.name,
            system=system_id,
            year=year_,
            county=code,
            scenario=body.scenario,
            user_id=user.id,
            user_name=user.display_name or user.username,
        )
    except ScenarioError as exc:
        raise _unprocessable(str(exc)) from None
    return store.describe(row)


@whatif_api.post(
    "/evaluation/whatif/scenarios/{scenario_id}/adopt",
    dependencies=[ADMIN],
    tags=["亩均评价"],
    responses=RESPONSES,
)
def api_adopt(
    scenario_id: RowId, scope: CurrentScope, user: CurrentUser, db: DbSession, actor: CurrentActor
) -> dict[str, Any]:
    """采纳情景为区县参数文件（管理员，记入审计日志）。"""
    try:
        path = store.adopt(db, scope, actor, scenario_id, user.id)
    except store.NotFound:
        raise _not_found() from None
    except (store.AdoptError, ScenarioError) as exc:
        raise _unprocessable(str(exc)) from None
    return {"id": scenario_id, "file": str(path)}
