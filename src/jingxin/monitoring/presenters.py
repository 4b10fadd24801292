"""What the monitoring pages show, read from the stored refreshes and cut to the user's scope
and visibility (the one rule of `core/scope.py` and `core/visibility.py`; routes never filter).

A region outside the scope, an enterprise outside it, or a month not refreshed raise
`NotFound`, answered as 404 (the same answer whether it exists elsewhere or not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from jingxin import reference
from jingxin.core.scope import Scope
from jingxin.core.visibility import Visibility
from jingxin.core.warehouse import Warehouse
from jingxin.monitoring import store
from jingxin.monitoring.indicators import first_day, parse_month
from jingxin.monitoring.measures import COST_PER_100, LEVELS, MEASURES, label, withheld
from jingxin.monitoring.rules import COLOUR_LABELS, RANK
from jingxin.monitoring.warnings import group_name

PROVINCE = "330000"
MAP_MEASURES = ("output_value", "kwh", "revenue", "customs_export", "invoice_sales")
TABLE_MEASURES = (
    "output_value",
    "revenue",
    "profit",
    "export_value",
    "customs_export",
    "kwh",
    "invoice_sales",
    COST_PER_100,
)


class NotFound(LookupError):
    pass


def _clean(v: Any) -> Any:
    if isinstance(v, float) and v != v:
        return None
    if v is pd.NaT:
        return None
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]


def measures_for(vis: Visibility, keys=TABLE_MEASURES) -> dict[str, str]:
    return {m: label(m) for m in keys if not withheld(m, vis)}


def choose_month(wh: Warehouse, month: str | None) -> tuple[dt.date | None, list[dt.date]]:
    months = store.months(wh)
    if month:
        try:
            target = first_day(*parse_month(month))
        except ValueError:
            raise NotFound("月份格式不对") from None
        if target not in months:
            raise NotFound("该月尚未刷新")
        return target, months
    return (months[0] if months else None), months


def region_of(scope: Scope, code: str | None) -> dict[str, Any]:
    code = code or scope.division or PROVINCE
    if scope.pinned:
        raise NotFound("区划不在您的数据范围内")
    try:
        div = reference.division(code)
    except (KeyError, ValueError):
        raise NotFound("区划不存在") from None
    if not scope.allows_division(code):
        raise NotFound("区划不在您的数据范围内")
    level = "province" if code == PROVINCE else div.level
    children = {"province": "city", "city": "county"}.get(level)
    return {
        "code": code,
        "name": div.name,
        "level": level,
        "children": children,
        "parent": div.parent_code,
        "prefix": reference.scope_prefix(code),
    }


def _masked_rows(rows: list[dict[str, Any]], vis: Visibility) -> list[dict[str, Any]]:
    return [r for r in rows if not withheld(r["measure"], vis)]


def group_rows(wh: Warehouse, month: dt.date, level: str, code: str, vis: Visibility) -> list[dict[str, Any]]:
    df = store.indicators(wh, month, level)
    df = df[df.code == code]
    rows = _masked_rows(records(df), vis)
    order = {m: i for i, m in enumerate(TABLE_MEASURES)}
    for r in rows:
        r["label"] = label(r["measure"])
        r["unit"] = "元" if r["measure"] == COST_PER_100 else MEASURES[r["measure"]].unit
    return sorted(rows, key=lambda r: order.get(r["measure"], 99))


def trend(
    wh: Warehouse, level: str, code: str, vis: Visibility, measures=("output_value", "kwh")
) -> dict[str, Any]:
    t = wh.table("monitor_indicators")
    df = wh.execute(t.filter((t.level == level) & (t.code == code) & t.measure.isin(list(measures))))
    df["month"] = pd.to_datetime(df["month"]).dt.date
    df = df[df.month.map(lambda d: d.month != 1)].sort_values("month")
    months = sorted(df.month.unique())
    series = []
    for m in measures:
        if withheld(m, vis):
            continue
        s = df[df.measure == m].set_index("month").yoy_month
        series.append(
            {
                "name": f"{label(m)}当月同比",
                "type": "line",
                "data": [None if pd.isna(s.get(x)) else round(float(s.get(x)), 2) for x in months],
            }
        )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 28},
        "xAxis": {"type": "category", "data": [f"{x:%Y-%m}" for x in months]},
        "yAxis": {"type": "value", "name": "%"},
        "series": series,
    }


def _warning_frame(wh: Warehouse, month: dt.date | None) -> pd.DataFrame:
    if not store.has_results(wh):
        return pd.DataFrame(columns=list(store.WARNINGS.names))
    return store.warnings(wh, month)


def warnings_in_scope(
    wh: Warehouse,
    scope: Scope,
    month: dt.date | None,
    vis: Visibility,
    prefix: str = "",
    kind: str | None = None,
    colour: str | None = None,
) -> list[dict[str, Any]]:
    """Warnings a user may see: of divisions and enterprises inside the scope (an industry's
    province-wide warning only for a province-wide scope); tax-derived ones only with clearance."""
    df = _warning_frame(wh, month)
    rows = []
    for r in records(df):
        if withheld(r["measure"], vis):
            continue
        if r["kind"] == "enterprise":
            if not scope.allows_enterprise(r["code"], r["county_code"]):
                continue
        elif r["county_code"]:
            if scope.pinned or not scope.allows_division(r["county_code"]):
                continue
        elif not scope.covers_province:
            continue
        if prefix and not (r["county_code"] or "").startswith(prefix):
            continue
        if kind and r["kind"] != kind:
            continue
        if colour and r["colour"] != colour:
            continue
        r["colour_label"] = COLOUR_LABELS[r["colour"]]
        r["level_label"] = LEVELS.get(r["level"], "重点企业")
        r["measure_label"] = label(r["measure"])
        rows.append(r)
    rows.sort(key=lambda r: (-RANK[r["colour"]], str(r["month"]), r["code"]))
    return rows


def map_config(
    wh: Warehouse,
    month: dt.date,
    region: dict[str, Any],
    vis: Visibility,
    measure: str,
    warns: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """The settings of the region map (the evaluation dashboard's map code, static/js/evaluation.js):
    one value per child region, 当月同比 of each measure and the warning colour (0 绿 … 3 红)."""
    child = region["children"]
    if child is None:
        return None
    df = store.indicators(wh, month, child)
    df = df[df.code.str.startswith(region["prefix"])]
    colours: dict[str, int] = {}
    for w in warns:
        if w["level"] == child:
            colours[w["code"]] = max(colours.get(w["code"], 0), RANK[w["colour"]])
    regions = []
    for code, g in df.groupby("code"):
        values = {
            m: _clean(float(v)) if not pd.isna(v) else None
            for m, v in zip(g.measure, g.yoy_month, strict=True)
        }
        row = {"code": code, "name": group_name(child, code), "warning": colours.get(code, 0)}
        for m in MAP_MEASURES:
            if not withheld(m, vis):
                row[m] = values.get(m)
        regions.append(row)
    measures = {m: {"name": f"{label(m)}当月同比", "unit": "%"} for m in MAP_MEASURES if not withheld(m, vis)}
    measures["warning"] = {"name": "预警等级（0绿 1蓝 2橙 3红）", "unit": "级"}
    url = "/monitoring?region={code}" if child == "city" else "/monitoring/regions/{code}"
    return {
        "geo_url": f"/api/v1/geo/{region['code']}",
        "map_name": f"monitor-{region['code']}",
        "measure": measure if measure in measures else "output_value",
        "measures": measures,
        "regions": regions,
        "drill": {
            "level": child,
            "url": url + (f"?month={month:%Y-%m}" if child == "county" else f"&month={month:%Y-%m}"),
        },
    }


def child_table(
    wh: Warehouse, month: dt.date, level: str, prefix: str, vis: Visibility
) -> list[dict[str, Any]]:
    df = store.indicators(wh, month, level)
    if prefix:
        df = df[df.code.str.startswith(prefix)]
    out = []
    for code, g in df.groupby("code"):
        row: dict[str, Any] = {"code": code, "name": group_name(level, code)}
        for m, yoy, ytd in zip(g.measure, g.yoy_month, g.yoy_ytd, strict=True):
            if withheld(m, vis):
                continue
            row[f"{m}_yoy"] = _clean(yoy)
            row[f"{m}_ytd"] = _clean(ytd)
        out.append(row)
    return out


def enterprise_series(wh: Warehouse, scope: Scope, credit_code: str, vis: Visibility) -> dict[str, Any]:
    """The enterprise's own monthly figures (last 24 months) and its warnings."""
    reg = wh.current("registry")
    info = wh.execute(
        reg.filter(reg.credit_code == credit_code).select("name", "county_code", "industry_code").limit(1)
    )
    if info.empty or not scope.allows_enterprise(credit_code, str(info.county_code.iloc[0])):
        raise NotFound("企业不存在或不在您的数据范围内")
    from jingxin.monitoring.indicators import facts_long

    today = dt.date.today()
    facts = facts_long(wh, dt.date(1990, 1, 1), today)
    df = wh.execute(facts.filter(facts.credit_code == credit_code))
    df = df[[not withheld(m, vis) for m in df.measure]] if len(df) else df
    df["month"] = pd.to_datetime(df["month"]).dt.date
    months = sorted(df.month.unique())[-24:]
    table = []
    for m in months:
        row: dict[str, Any] = {"month": f"{m:%Y-%m}"}
        for measure, v in zip(df[df.month == m].measure, df[df.month == m].value, strict=True):
            row[measure] = _clean(float(v))
        table.append(row)
    warns = []
    if store.has_results(wh):
        t = wh.table("monitor_warnings")
        w = wh.execute(t.filter(t.code == credit_code).order_by(t.month.desc()))
        warns = [r for r in records(w) if not withheld(r["measure"], vis)]
        for r in warns:
            r["colour_label"] = COLOUR_LABELS[r["colour"]]
    present = [m for m in MEASURES if m in set(df.measure)]
    return {
        "name": str(info.name.iloc[0]),
        "county_code": str(info.county_code.iloc[0]),
        "industry_code": str(info.industry_code.iloc[0]),
        "months": table,
        "measures": {m: label(m) for m in present},
        "warnings": warns,
    }
