"""Typed, cached loaders for the platform's reference data.

Every report, permission check and data-quality rule leans on four tables shipped inside the
package (``jingxin/reference/data``):

* ``divisions.csv`` — administrative divisions (行政区划, GB/T 2260) of Zhejiang: the province,
  its 11 cities (设区市) and 90 county-level units (县级单位). A user's data scope is a division
  code, and "within scope" is a code-prefix test, so the prefix rules live here.
* ``industries.csv`` — the national industry classification (国民经济行业分类, GB/T 4754-2017):
  every section (门类) and division (大类), and the groups (中类) and classes (小类) the
  platform uses (all of manufacturing, divisions 13–43, and information services 63–65).
* ``chains.yaml`` — the ten flagship industrial chains (十大标志性产业链).
* ``clusters.yaml`` — the "415" advanced manufacturing clusters (先进制造业集群).

The files are validated when first loaded: bad reference data would silently misplace
enterprises in every downstream ranking, so a broken row stops the program with an error naming
the file and the row rather than being skipped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "Chain",
    "Cluster",
    "Division",
    "DivisionKind",
    "DivisionLevel",
    "Industry",
    "IndustryLevel",
    "IndustrySet",
    "ReferenceDataError",
    "chain",
    "chains",
    "cities",
    "cluster",
    "clusters",
    "counties",
    "county_codes",
    "division",
    "divisions",
    "industries",
    "industry",
    "is_within",
    "manufacturing_divisions",
    "parse_chains",
    "parse_clusters",
    "parse_divisions",
    "parse_industries",
    "scope_prefix",
    "section_of",
]

DivisionLevel = Literal["province", "city", "county"]
DivisionKind = Literal["省", "市", "市辖区", "县级市", "县", "自治县"]
IndustryLevel = Literal["section", "division", "group", "class"]
ClusterTier = Literal["world_class", "advantage"]

DIVISIONS_FILE = "divisions.csv"
INDUSTRIES_FILE = "industries.csv"
CHAINS_FILE = "chains.yaml"
CLUSTERS_FILE = "clusters.yaml"

# Manufacturing (制造业) is section C, divisions 13–43 of GB/T 4754-2017.
MANUFACTURING_DIVISIONS = range(13, 44)

_DIVISION_CODE = re.compile(r"^\d{6}$")
_INDUSTRY_CODE_BY_LEVEL: dict[str, re.Pattern[str]] = {
    "section": re.compile(r"^[A-T]$"),
    "division": re.compile(r"^\d{2}$"),
    "group": re.compile(r"^\d{3}$"),
    "class": re.compile(r"^\d{4}$"),
}
_INDUSTRY_PARENT_LEVEL: dict[str, str | None] = {
    "section": None,
    "division": "section",
    "group": "division",
    "class": "group",
}
# Which kinds (区划类型) are allowed at which level.
_KINDS_BY_LEVEL: dict[str, frozenset[str]] = {
    "province": frozenset({"省"}),
    "city": frozenset({"市"}),
    "county": frozenset({"市辖区", "县级市", "县", "自治县"}),
}


class ReferenceDataError(ValueError):
    """A reference file is malformed; the message names the file and the row or entry."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        super().__init__(f"{source}, {where}: {problem}")


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class Division(BaseModel):
    """One administrative division (行政区划): province (省), city (设区市) or county-level unit.

    ``kind`` tells a district (市辖区) from a county-level city (县级市), a county (县) or an
    autonomous county (自治县); evaluations and published rankings group counties this way.
    ``mountain26`` flags the 26 mountain counties (山区26县), a group the province evaluates and
    supports separately.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    level: DivisionLevel
    parent_code: str | None
    kind: DivisionKind
    mountain26: bool = False

    @field_validator("code")
    @classmethod
    def _six_digits(cls, value: str) -> str:
        if not _DIVISION_CODE.match(value):
            raise ValueError(f"division code must be 6 digits, got {value!r}")
        return value

    @property
    def scope_prefix(self) -> str:
        """The code prefix that every division inside this one shares (see :func:`scope_prefix`)."""
        return scope_prefix(self.code)


class Industry(BaseModel):
    """One entry of GB/T 4754-2017 (国民经济行业分类).

    Levels: section (门类, a letter), division (大类, 2 digits), group (中类, 3 digits), class
    (小类, 4 digits). ``parent_code`` is the next level up; for a division it is the section
    letter. ``section`` is repeated on every row so that grouping by 门类 needs no tree walk.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    level: IndustryLevel
    parent_code: str | None
    section: str

    @property
    def is_manufacturing(self) -> bool:
        """True for section C (制造业) and every code below it."""
        return self.section == "C"


class IndustrySet(BaseModel):
    """Common shape of a chain (产业链) and a cluster (产业集群).

    Membership is defined twice because enterprises are found two ways: by their registered
    industry code (``industry_codes``, prefix match, so "27" covers all of 医药制造业) and by
    what they actually sell, read from VAT-invoice goods names (``keywords``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    industry_codes: tuple[str, ...] = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    description: str = ""

    @field_validator("industry_codes")
    @classmethod
    def _codes_are_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"\d{2,4}", code):
                raise ValueError(f"industry code must be 2-4 digits, got {code!r}")
        if len(set(value)) != len(value):
            raise ValueError("industry_codes contains duplicates")
        return value

    def matches_industry(self, code: str) -> bool:
        """Whether an enterprise with industry ``code`` (2–4 digits) belongs here.

        A listed code matches itself and every code it is a prefix of ("265" matches "265" and
        "2651"). A coarser ``code`` than the listed one ("26" against "2651") does not match:
        knowing only the division is not enough to place an enterprise in a narrower chain.
        """
        code = code.strip()
        return any(code.startswith(prefix) for prefix in self.industry_codes)

    def matches_goods_name(self, goods_name: str) -> bool:
        """Whether a VAT-invoice goods name (发票货物名称) mentions one of the keywords."""
        return any(keyword in goods_name for keyword in self.keywords)


class Chain(IndustrySet):
    """A flagship industrial chain (标志性产业链), e.g. 数字安防 or 集成电路."""


class Cluster(IndustrySet):
    """A "415" manufacturing cluster (先进制造业集群).

    ``tier`` is world_class (世界级先进制造业集群) or advantage (优势/特色产业集群).
    ``confirmed`` is False for names the project filled in because no official list was found.
    """

    tier: ClusterTier
    confirmed: bool = True


# --------------------------------------------------------------------------------------------
# Parsing and validation (pure functions over text, so that bad data can be tested directly)
# --------------------------------------------------------------------------------------------


def _read_csv(text: str, source: str, columns: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with the expected header, each with its line number for error messages."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    expected = list(columns)
    if reader.fieldnames != expected:
        raise ReferenceDataError(source, "header", f"expected columns {expected}, got {reader.fieldnames}")
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if None in row or any(value is None for value in row.values()):
            raise ReferenceDataError(source, f"line {reader.line_num}", "wrong number of fields")
        rows.append((reader.line_num, {key: value.strip() for key, value in row.items()}))
    return rows


def _model(cls: type[Any], data: Mapping[str, Any], source: str, where: str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in exc.errors()
        )
        raise ReferenceDataError(source, where, problems) from None


def parse_divisions(text: str, source: str = DIVISIONS_FILE) -> tuple[Division, ...]:
    """Parse and check ``divisions.csv``.

    Checks: unique codes; exactly one province; every parent exists and sits one level up;
    a child's code starts with its parent's scope prefix (the prefix rule that data scopes
    rely on); the kind fits the level.
    """
    columns = ("code", "name", "level", "parent_code", "kind", "mountain26")
    parsed: list[tuple[int, Division]] = []
    for line, row in _read_csv(text, source, columns):
        where = f"line {line} (code {row['code']!r})"
        if row["mountain26"] not in {"0", "1"}:
            raise ReferenceDataError(source, where, f"mountain26 must be 0 or 1, got {row['mountain26']!r}")
        data = {**row, "parent_code": row["parent_code"] or None, "mountain26": row["mountain26"] == "1"}
        parsed.append((line, _model(Division, data, source, where)))

    by_code: dict[str, Division] = {}
    for line, div in parsed:
        where = f"line {line} (code {div.code!r})"
        if div.code in by_code:
            raise ReferenceDataError(source, where, "duplicate code")
        by_code[div.code] = div
        if div.kind not in _KINDS_BY_LEVEL[div.level]:
            raise ReferenceDataError(source, where, f"kind {div.kind!r} does not fit level {div.level!r}")
        if div.mountain26 and div.level != "county":
            raise ReferenceDataError(source, where, "only a county-level unit can be in 山区26县")

    expected_parent_level = {"province": None, "city": "province", "county": "city"}
    for line, div in parsed:
        where = f"line {line} (code {div.code!r})"
        want = expected_parent_level[div.level]
        if want is None:
            if div.parent_code is not None:
                raise ReferenceDataError(source, where, "a province has no parent")
            continue
        if div.parent_code is None:
            raise ReferenceDataError(source, where, "parent_code is missing")
        parent = by_code.get(div.parent_code)
        if parent is None:
            raise ReferenceDataError(source, where, f"parent {div.parent_code!r} not found")
        if parent.level != want:
            raise ReferenceDataError(
                source, where, f"parent {parent.code!r} is a {parent.level}, expected {want}"
            )
        if not div.code.startswith(scope_prefix(parent.code)):
            raise ReferenceDataError(source, where, f"code does not start with parent prefix {parent.code!r}")

    if sum(div.level == "province" for div in by_code.values()) != 1:
        raise ReferenceDataError(source, "file", "expected exactly one province row")
    return tuple(div for _, div in parsed)


def parse_industries(text: str, source: str = INDUSTRIES_FILE) -> tuple[Industry, ...]:
    """Parse and check ``industries.csv``.

    Checks: unique codes; code shape fits the level; every parent exists one level up; a
    2-4 digit code starts with its parent's code; the section column agrees with the parent.
    """
    columns = ("code", "name", "level", "parent_code", "section")
    parsed: list[tuple[int, Industry]] = []
    for line, row in _read_csv(text, source, columns):
        where = f"line {line} (code {row['code']!r})"
        data = {**row, "parent_code": row["parent_code"] or None}
        item: Industry = _model(Industry, data, source, where)
        if not _INDUSTRY_CODE_BY_LEVEL[item.level].match(item.code):
            raise ReferenceDataError(source, where, f"code {item.code!r} does not fit level {item.level!r}")
        if not item.name:
            raise ReferenceDataError(source, where, "empty name")
        parsed.append((line, item))

    by_code: dict[str, Industry] = {}
    for line, item in parsed:
        if item.code in by_code:
            raise ReferenceDataError(source, f"line {line} (code {item.code!r})", "duplicate code")
        by_code[item.code] = item

    for line, item in parsed:
        where = f"line {line} (code {item.code!r})"
        want = _INDUSTRY_PARENT_LEVEL[item.level]
        if want is None:
            if item.parent_code is not None or item.section != item.code:
                raise ReferenceDataError(source, where, "a section has no parent and is its own section")
            continue
        parent = by_code.get(item.parent_code or "")
        if parent is None:
            raise ReferenceDataError(source, where, f"parent {item.parent_code!r} not found")
        if parent.level != want:
            raise ReferenceDataError(
                source, where, f"parent {parent.code!r} is a {parent.level}, expected {want}"
            )
        if item.level != "division" and not item.code.startswith(parent.code):
            raise ReferenceDataError(source, where, f"code does not start with parent code {parent.code!r}")
        if item.section != parent.section:
            raise ReferenceDataError(
                source, where, f"section {item.section!r} differs from parent's {parent.section!r}"
            )
    return tuple(item for _, item in parsed)


def _parse_sets(
    text: str,
    source: str,
    key: str,
    cls: type[IndustrySet],
    known_codes: Iterable[str],
) -> tuple[Any, ...]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceDataError(source, "file", f"not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise ReferenceDataError(source, "file", f"expected a top-level {key!r} list")
    known = frozenset(known_codes)
    items: list[IndustrySet] = []
    seen: set[str] = set()
    for index, entry in enumerate(document[key], start=1):
        label = entry.get("id") if isinstance(entry, dict) else None
        where = f"{key} entry {index}" + (f" (id {label!r})" if label else "")
        if not isinstance(entry, dict):
            raise ReferenceDataError(source, where, "entry must be a mapping")
        # YAML reads unquoted 17 as an int; industry codes are strings with meaningful digits.
        data = {**entry}
        if isinstance(data.get("industry_codes"), list):
            data["industry_codes"] = [str(code) for code in data["industry_codes"]]
        item: IndustrySet = _model(cls, data, source, where)
        if item.id in seen:
            raise ReferenceDataError(source, where, "duplicate id")
        seen.add(item.id)
        unknown = [code for code in item.industry_codes if code not in known]
        if unknown:
            raise ReferenceDataError(source, where, f"industry codes not in {INDUSTRIES_FILE}: {unknown}")
        items.append(item)
    return tuple(items)


def parse_chains(text: str, known_codes: Iterable[str], source: str = CHAINS_FILE) -> tuple[Chain, ...]:
    """Parse and check ``chains.yaml``; every industry code must be in ``known_codes``."""
    return _parse_sets(text, source, "chains", Chain, known_codes)


def parse_clusters(text: str, known_codes: Iterable[str], source: str = CLUSTERS_FILE) -> tuple[Cluster, ...]:
    """Parse and check ``clusters.yaml``; every industry code must be in ``known_codes``."""
    return _parse_sets(text, source, "clusters", Cluster, known_codes)


# --------------------------------------------------------------------------------------------
# Cached loaders over the packaged files
# --------------------------------------------------------------------------------------------


def _data_text(name: str) -> str:
    return (files("jingxin.reference") / "data" / name).read_text(encoding="utf-8")


@cache
def _divisions() -> tuple[Division, ...]:
    return parse_divisions(_data_text(DIVISIONS_FILE))


@cache
def _divisions_by_code() -> dict[str, Division]:
    return {div.code: div for div in _divisions()}


@cache
def _industries() -> tuple[Industry, ...]:
    return parse_industries(_data_text(INDUSTRIES_FILE))


@cache
def _industries_by_code() -> dict[str, Industry]:
    return {item.code: item for item in _industries()}


@cache
def _chains() -> tuple[Chain, ...]:
    return parse_chains(_data_text(CHAINS_FILE), _industries_by_code())


@cache
def _clusters() -> tuple[Cluster, ...]:
    return parse_clusters(_data_text(CLUSTERS_FILE), _industries_by_code())


def divisions() -> list[Division]:
    """All divisions, in file order: province, then cities, then county-level units."""
    return list(_divisions())


def division(code: str) -> Division:
    """The division with this 6-digit code; ``KeyError`` if Zhejiang has no such division."""
    try:
        return _divisions_by_code()[code]
    except KeyError:
        raise KeyError(f"unknown division code {code!r} (not in {DIVISIONS_FILE})") from None


def cities() -> list[Division]:
    """The 11 cities (设区市)."""
    return [div for div in _divisions() if div.level == "city"]


def counties() -> list[Division]:
    """The 90 county-level units (县级单位: 市辖区, 县级市, 县, 自治县)."""
    return [div for div in _divisions() if div.level == "county"]


@cache
def county_codes() -> frozenset[str]:
    """Codes of the 90 county-level units, for fast membership tests on incoming data."""
    return frozenset(div.code for div in counties())


def scope_prefix(code: str) -> str:
    """The code prefix shared by everything inside division ``code`` (GB/T 2260 structure).

    A province (``xx0000``) covers every code starting with its 2 digits, a city (``xxxx00``)
    every code starting with its 4 digits, and a county-level unit only itself. Works on any
    well-formed 6-digit code, so that data carrying codes outside the table can still be
    scoped; raises ``ValueError`` on a malformed code.
    """
    if not isinstance(code, str) or not _DIVISION_CODE.match(code):
        raise ValueError(f"division code must be 6 digits, got {code!r}")
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def is_within(code: str, scope_code: str) -> bool:
    """Whether division ``code`` lies inside the scope of division ``scope_code``.

    This is the data-permission test: a county analyst (县经信局) with scope 330109 sees
    330109 only; a city analyst with 330100 sees 3301xx; the province (330000) sees 33xxxx.
    """
    return scope_prefix(code).startswith(scope_prefix(scope_code))


def industries() -> list[Industry]:
    """All industry entries in file order (sections, divisions, and the listed groups/classes)."""
    return list(_industries())


def industry(code: str) -> Industry:
    """The entry for a section letter or a 2/3/4-digit code; ``KeyError`` if not listed."""
    try:
        return _industries_by_code()[code]
    except KeyError:
        raise KeyError(f"unknown industry code {code!r} (not in {INDUSTRIES_FILE})") from None


def manufacturing_divisions() -> list[Industry]:
    """The 31 manufacturing divisions (制造业大类, 13–43), the population of 亩均 evaluation."""
    return [
        item
        for item in _industries()
        if item.level == "division" and int(item.code) in MANUFACTURING_DIVISIONS
    ]


def section_of(code: str) -> str:
    """Section letter (门类) of a section letter or any 2/3/4-digit industry code.

    Resolved through the division (first two digits), which the table lists in full, so it also
    works for classes outside the subset of groups and classes the table carries.
    """
    code = code.strip()
    if re.fullmatch(r"[A-T]", code):
        return industry(code).section
    if not re.fullmatch(r"\d{2,4}", code):
        raise ValueError(f"industry code must be a section letter or 2-4 digits, got {code!r}")
    return industry(code[:2]).section


def chains() -> list[Chain]:
    """The ten flagship industrial chains (十大标志性产业链), in file order."""
    return list(_chains())


def chain(chain_id: str) -> Chain:
    """One chain by its English id; ``KeyError`` if unknown."""
    for item in _chains():
        if item.id == chain_id:
            return item
    raise KeyError(f"unknown chain id {chain_id!r} (not in {CHAINS_FILE})")


def clusters() -> list[Cluster]:
    """The "415" clusters: 4 world-class then 15 advantage clusters, in file order."""
    return list(_clusters())


def cluster(cluster_id: str) -> Cluster:
    """One cluster by its English id; ``KeyError`` if unknown."""
    for item in _clusters():
        if item.id == cluster_id:
            return item
    raise KeyError(f"unknown cluster id {cluster_id!r} (not in {CLUSTERS_FILE})")
