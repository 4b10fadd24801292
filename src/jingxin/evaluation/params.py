"""Query and path parameters of the evaluation pages and API (参数校验), checked at the edge.

Every parameter is checked before a route runs. A bad one is answered by the app's one rule
for bad parameters (`jingxin.web.errors`): 422, naming where and which parameter, then what
is wrong and what is expected, in Chinese (`查询参数 year：不能小于 2000（数据年度应为2000至2100之间的整数），
收到：1999`): FastAPI's documented `{"detail": [{"loc", "msg", "type"}]}` for the API, the
message on the error page for pages. Never a 500, never a query built from the value. The
OpenAPI document still states each constraint (pattern, bounds, choices).

Why not pydantic's own constraints: their messages are generic ("should match pattern ...");
a check here raises `ValueError` with a message that says how to fix the value, and
`jingxin.web.errors.describe_error` puts the parameter's place and name in front of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import BeforeValidator

from jingxin.evaluation.dashboard import MAP_MEASURES
from jingxin.evaluation.service import ResultFilters

SORT_LABELS: dict[str, str] = {
    "-total_score": "综合得分（高→低）",
    "total_score": "综合得分（低→高）",
    "rank_in_county": "县内排名",
    "-value_added_per_mu": "亩均增加值（高→低）",
    "-land_mu": "用地面积（大→小）",
    "-score_change": "得分提高最多",
    "score_change": "得分下降最多",
    "name": "企业名称",
    "credit_code": "统一社会信用代码",
    "class": "分类",
}
"""The orders the results page offers (a role without clearance gets only the allowed ones)."""

SORT_KEYS: tuple[str, ...] = (
    *SORT_LABELS,
    "-rank_in_county",
    "county_code",
    "industry_code",
    "land_mu",
)
RANK_LABELS: dict[str, str] = {
    "tax_per_mu": "亩均税收",
    "value_added_per_mu": "亩均增加值",
    "mean_score": "平均得分",
    "a_share": "A类占比",
}
CLASSES = ("A+", "A", "B", "C", "D")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _bad(message: str) -> ValueError:
    """A refused value; `message` leaves out the parameter's name (the error's place gives it)."""
    return ValueError(message)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if _CONTROL.search(value):
        return "\x00"  # flagged below by every check: control characters are never valid
    return value


def _int_check(label: str, low: int, high: int, example: int) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = _text(value)
            if text is None or not re.fullmatch(r"[+-]?\d{1,9}", text.strip()):
                raise _bad(f"{label}应为{low}至{high}之间的整数（如 {example}），收到：{str(value)[:20]!r}")
            number = int(text)
        expected = f"（{label}应为{low}至{high}之间的整数），收到：{number}"
        if number < low:
            raise _bad(f"不能小于 {low}{expected}")
        if number > high:
            raise _bad(f"不能大于 {high}{expected}")
        return number

    return check


def _pattern_check(label: str, pattern: str, hint: str, empty_ok: bool = True) -> Callable[[Any], str | None]:
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        text = _text(value)
        if text is None or (empty_ok and text == ""):
            return text
        if "\x00" in text or not compiled.fullmatch(text):
            raise _bad(f"格式不正确：{label}{hint}")
        return text

    return check


def _choice_check(
    label: str, choices: tuple[str, ...], names: dict[str, str] | None = None
) -> Callable[[Any], Any]:
    def check(value: Any) -> str | None:
        text = _text(value)
        if text is None:
            return None
        if text not in choices:
            offered = "、".join(f"{c}（{names[c]}）" if names and c in names else c for c in choices if c)
            raise _bad(f"{label}只能取：{offered}")
        return text

    return check


def _search_check(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        raise _bad("搜索词不能包含控制字符（如 %00、换行），请输入企业名称或统一社会信用代码的一部分")
    if len(text) > 60:
        raise _bad(f"搜索词最长60个字符，收到{len(text)}个")
    return text


def _documented(description: str, **schema: Any) -> Any:
    return Query(description=description, json_schema_extra=schema or None)


Year = Annotated[
    int | None,
    BeforeValidator(_int_check("数据年度", 2000, 2100, 2021)),
    _documented("数据年度，缺省为最新年度", minimum=2000, maximum=2100),
]
SystemId = Annotated[
    str | None,
    BeforeValidator(
        _pattern_check(
            "评价体系",
            r"[a-z][a-z0-9_]{0,63}",
            "应为小写字母开头、由小写字母、数字和下划线组成的体系代码，如 zhejiang_industry_above",
        )
    ),
    _documented(
        "评价体系，如 zhejiang_industry_above（规上）、zhejiang_industry_below（规下）",
        pattern=r"^[a-z][a-z0-9_]*$",
        maxLength=64,
    ),
]
RunId = Annotated[
    str | None,
    BeforeValidator(
        _pattern_check(
            "评价批次号",
            r"[A-Za-z0-9_.:+-]{1,100}",
            "应为评价批次列表中的批次号（字母、数字、-_.:），最长100个字符",
        )
    ),
    _documented("评价批次号；给出时优先于年度和体系", pattern=r"^[A-Za-z0-9_.:+-]*$", maxLength=100),
]
DivisionCode = Annotated[
    str | None,
    BeforeValidator(_pattern_check("区划代码", r"\d{6}", "应为6位数字的区划代码，如 330106（西湖区）")),
    _documented("6位区划代码（空为不限）", pattern=r"^(\d{6})?$"),
]
ClassName = Annotated[
    str | None,
    BeforeValidator(_choice_check("分类", ("", *CLASSES))),
    _documented("分类：A+、A、B、C、D（空为不限）", enum=["", *CLASSES]),
]
IndustryDivision = Annotated[
    str | None,
    BeforeValidator(_pattern_check("行业大类", r"\d{2}", "应为2位数字的国民经济行业大类代码，如 38")),
    _documented("行业大类（2位代码，空为不限）", pattern=r"^(\d{2})?$"),
]
Scale = Annotated[
    str | None,
    BeforeValidator(_choice_check("规模", ("", "above", "below"), {"above": "规上", "below": "规下"})),
    _documented("above 规上，below 规下（空为不限）", enum=["", "above", "below"]),
]
SearchText = Annotated[
    str | None,
    BeforeValidator(_search_check),
    _documented("企业名称或统一社会信用代码（部分）", maxLength=60, pattern=r"^[^\x00-\x1f\x7f]*$"),
]
SortKey = Annotated[
    str | None,
    BeforeValidator(_choice_check("排序", SORT_KEYS, SORT_LABELS)),
    _documented("排序字段，前加 - 为降序；无权查看的字段不能排序", enum=list(SORT_KEYS)),
]
Page = Annotated[
    int,
    BeforeValidator(_int_check("页码", 1, 100000, 1)),
    _documented("页码，从1开始", minimum=1, maximum=100000),
]
PageSize = Annotated[
    int,
    BeforeValidator(_int_check("每页条数", 1, 500, 50)),
    _documented("每页条数，1至500", minimum=1, maximum=500),
]
RankBy = Annotated[
    str | None,
    BeforeValidator(_choice_check("排名依据", tuple(RANK_LABELS), RANK_LABELS)),
    _documented("排名依据，缺省为亩均税收（无权查看税收的角色为亩均增加值）", enum=list(RANK_LABELS)),
]
TopN = Annotated[
    int | None,
    BeforeValidator(_int_check("前N名", 1, 100, 10)),
    _documented("每个重点产业的前N名", minimum=1, maximum=100),
]
CreditCode = Annotated[
    str,
    BeforeValidator(
        _pattern_check(
            "统一社会信用代码",
            r"[0-9A-Z]{18}",
            "应为18位数字或大写字母，如 91330106MA2XXXXXX0",
            empty_ok=False,
        )
    ),
    PathParam(description="统一社会信用代码", json_schema_extra={"pattern": r"^[0-9A-Z]{18}$"}),
]
GeoCode = Annotated[
    str,
    BeforeValidator(_pattern_check("区划代码", r"\d{6}", "应为6位数字，如 330000（全省）", empty_ok=False)),
    PathParam(
        description="330000 全省各市；市代码 该市各区县；区县代码 该区县",
        json_schema_extra={"pattern": r"^\d{6}$"},
    ),
]


MAP_MEASURE_LABELS = {key: name for key, (name, _unit) in MAP_MEASURES.items()}
MapMeasure = Annotated[
    str,
    BeforeValidator(_choice_check("地图指标", tuple(MAP_MEASURE_LABELS), MAP_MEASURE_LABELS)),
    _documented("地图着色指标", enum=list(MAP_MEASURE_LABELS)),
]


def result_filters(
    county: str | None, division: str | None, cls: str | None, scale: str | None
) -> ResultFilters:
    """The filters of the results list from its query parameters (empty = not filtered)."""
    return ResultFilters(
        cls=cls or None,
        county_code=county or None,
        division_code=division or None,
        above_scale=None if not scale else scale == "above",
    )


def describe_filters(
    filters: ResultFilters, q: str | None, county_name: Callable[[str], str]
) -> tuple[tuple[str, str], ...]:
    """The filters in words, for the summary sheet of a download."""
    out: list[tuple[str, str]] = []
    if filters.county_code:
        out.append(("区县", county_name(filters.county_code)))
    if filters.division_code:
        out.append(("行业大类", filters.division_code))
    if filters.cls:
        out.append(("分类", f"{filters.cls}类"))
    if filters.above_scale is not None:
        out.append(("规模", "规上" if filters.above_scale else "规下"))
    if q:
        out.append(("搜索", q))
    return tuple(out)
