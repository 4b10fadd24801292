"""Tests of the packaged reference data (divisions, industries, chains, clusters) and its loaders.

The counts come from DOMAIN.md §2 and §5; the last tests cross-check names and codes with the
independent tables in ``../shared/reference`` when that folder exists beside the repository.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from jingxin import reference as ref
from jingxin.reference import ReferenceDataError

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"

# 山区26县 as listed in DOMAIN.md §2 (short names, without 县/市/区 suffix).
MOUNTAIN_26 = (
    "淳安",
    "永嘉",
    "平阳",
    "苍南",
    "文成",
    "泰顺",
    "武义",
    "磐安",
    "柯城",
    "衢江",
    "江山",
    "常山",
    "开化",
    "龙游",
    "三门",
    "天台",
    "仙居",
    "莲都",
    "龙泉",
    "青田",
    "云和",
    "庆元",
    "缙云",
    "遂昌",
    "松阳",
    "景宁",
)

CHAIN_NAMES = [
    "数字安防",
    "集成电路",
    "网络通信",
    "智能计算",
    "生物医药",
    "炼化一体化与新材料",
    "节能与新能源汽车",
    "智能装备",
    "智能家居",
    "现代纺织",
]


# --- divisions ------------------------------------------------------------------------------


def test_division_counts() -> None:
    levels = Counter(div.level for div in ref.divisions())
    assert levels == {"province": 1, "city": 11, "county": 90}
    assert len(ref.cities()) == 11
    assert len(ref.counties()) == 90
    assert len(ref.county_codes()) == 90


def test_county_kinds() -> None:
    kinds = Counter(div.kind for div in ref.counties())
    assert kinds == {"市辖区": 37, "县级市": 20, "县": 32, "自治县": 1}
    assert ref.division("331127").kind == "自治县"
    assert ref.division("331127").name == "景宁畲族自治县"


def test_recent_divisions_present() -> None:
    assert ref.division("330113").name == "临平区"
    assert ref.division("330114").name == "钱塘区"
    assert ref.division("330383").name == "龙港市"
    assert ref.division("330383").parent_code == "330300"


def test_mountain_26_counties() -> None:
    mountain = [div for div in ref.divisions() if div.mountain26]
    assert len(mountain) == 26
    assert all(div.level == "county" for div in mountain)
    for short in MOUNTAIN_26:
        matches = [div for div in mountain if div.name.startswith(short)]
        assert len(matches) == 1, short
    assert not any(div.mountain26 for div in ref.counties() if not div.name.startswith(tuple(MOUNTAIN_26)))


def test_division_parents_and_lookup() -> None:
    province = ref.division("330000")
    assert province.level == "province" and province.parent_code is None
    for city in ref.cities():
        assert city.parent_code == "330000"
    for county in ref.counties():
        assert ref.division(county.parent_code or "").level == "city"
    with pytest.raises(KeyError, match="999999"):
        ref.division("999999")


def test_scope_helpers() -> None:
    assert ref.scope_prefix("330000") == "33"
    assert ref.scope_prefix("330100") == "3301"
    assert ref.scope_prefix("330102") == "330102"
    assert ref.division("330100").scope_prefix == "3301"
    # Province covers everything in Zhejiang, nothing elsewhere.
    assert all(ref.is_within(div.code, "330000") for div in ref.divisions())
    assert not ref.is_within("320102", "330000")
    # City covers its own counties and itself, not a neighbour's.
    assert ref.is_within("330109", "330100")
    assert ref.is_within("330100", "330100")
    assert not ref.is_within("330203", "330100")
    assert not ref.is_within("330000", "330100")
    # County covers only itself.
    assert ref.is_within("330102", "330102")
    assert not ref.is_within("330105", "330102")
    assert not ref.is_within("330100", "330102")
    for county in ref.counties():
        assert ref.is_within(county.code, county.parent_code or "")
    with pytest.raises(ValueError):
        ref.scope_prefix("3301")


# --- industries -----------------------------------------------------------------------------


def test_sections_and_divisions_complete() -> None:
    levels = Counter(item.level for item in ref.industries())
    assert levels["section"] == 20
    assert levels["division"] == 97
    sections = [item.code for item in ref.industries() if item.level == "section"]
    assert sections == list("ABCDEFGHIJKLMNOPQRST")
    divisions = [int(item.code) for item in ref.industries() if item.level == "division"]
    assert divisions == list(range(1, 98))


def test_manufacturing_divisions() -> None:
    manufacturing = ref.manufacturing_divisions()
    assert len(manufacturing) == 31
    assert [item.code for item in manufacturing] == [f"{n:02d}" for n in range(13, 44)]
    assert all(item.section == "C" and item.is_manufacturing for item in manufacturing)
    assert ref.industry("C").name == "制造业"


def test_manufacturing_classes_cover_every_division() -> None:
    classes = [item for item in ref.industries() if item.level == "class" and item.section == "C"]
    assert {item.code[:2] for item in classes} == {f"{n:02d}" for n in range(13, 44)}
    assert ref.industry("3973").name == "集成电路制造"
    assert ref.industry("3612").name == "新能源车整车制造"


def test_section_of() -> None:
    assert ref.section_of("C") == "C"
    assert ref.section_of("01") == "A"
    assert ref.section_of("265") == "C"
    assert ref.section_of("3973") == "C"
    assert ref.section_of("6520") == "I"
    assert ref.section_of("7010") == "K"  # a class not carried in the table still resolves
    assert ref.section_of("97") == "T"
    with pytest.raises(ValueError):
        ref.section_of("3x")
    with pytest.raises(KeyError):
        ref.section_of("99")


# --- chains and clusters --------------------------------------------------------------------


def test_chains() -> None:
    chains = ref.chains()
    assert len(chains) == 10
    assert [item.name for item in chains] == CHAIN_NAMES
    assert len({item.id for item in chains}) == 10
    for item in chains:
        assert item.keywords, item.id
        assert item.description, item.id


def test_clusters() -> None:
    clusters = ref.clusters()
    tiers = Counter(item.tier for item in clusters)
    assert tiers == {"world_class": 4, "advantage": 15}
    world = [item.name for item in clusters if item.tier == "world_class"]
    assert world == ["新一代信息技术", "汽车及零部件", "绿色化工", "现代纺织和服装"]
    confirmed_advantage = {
        "新能源汽车及零部件",
        "智能光伏",
        "智能电气",
        "数字安防与网络通信",
        "机器人与数控机床",
        "集成电路",
        "高端新材料",
        "现代纺织与服装",
        "高端软件",
        "智能物联",
    }
    for item in clusters:
        if item.tier == "advantage":
            assert item.confirmed == (item.name in confirmed_advantage), item.name
    assert len({item.id for item in clusters}) == 19


def test_every_chain_and_cluster_code_is_known() -> None:
    known = {item.code for item in ref.industries()}
    for item in [*ref.chains(), *ref.clusters()]:
        for code in item.industry_codes:
            assert code in known, (item.id, code)
            assert ref.section_of(code) in {"C", "I"}, (item.id, code)


def test_matches_industry_is_a_prefix_match() -> None:
    textile = ref.chain("modern_textile")
    assert textile.matches_industry("1713")
    assert textile.matches_industry("17")
    assert not textile.matches_industry("3973")
    ic = ref.chain("integrated_circuit")
    assert ic.matches_industry("3973")
    assert not ic.matches_industry("39")  # a division alone is too coarse for a narrow chain
    assert ref.chain("petrochemical_new_materials").matches_industry("2651")
    assert ref.chain("digital_security").matches_goods_name("网络摄像机 DS-2CD")
    with pytest.raises(KeyError):
        ref.chain("no_such_chain")
    assert ref.cluster("next_gen_it").tier == "world_class"


# --- validation of bad data -----------------------------------------------------------------

_DIV_HEADER = "code,name,level,parent_code,kind,mountain26\n"
_DIV_OK = _DIV_HEADER + "330000,浙江省,province,,省,0\n330100,杭州市,city,330000,市,0\n"


def test_bad_divisions_name_file_and_row() -> None:
    assert len(ref.parse_divisions(_DIV_OK)) == 2
    with pytest.raises(ReferenceDataError, match=r"divisions\.csv, line 4 .*duplicate"):
        ref.parse_divisions(_DIV_OK + "330100,杭州市,city,330000,市,0\n")
    with pytest.raises(ReferenceDataError, match=r"divisions\.csv, line 4 .*parent '330200' not found"):
        ref.parse_divisions(_DIV_OK + "330203,海曙区,county,330200,市辖区,0\n")
    with pytest.raises(ReferenceDataError, match=r"line 4 .*kind"):
        ref.parse_divisions(_DIV_OK + "330102,上城区,county,330100,市,0\n")
    with pytest.raises(ReferenceDataError, match=r"line 4 .*parent prefix"):
        ref.parse_divisions(_DIV_OK + "330202,某区,county,330100,市辖区,0\n")


_IND_HEADER = "code,name,level,parent_code,section\n"
_IND_OK = _IND_HEADER + "C,制造业,section,,C\n39,计算机、通信和其他电子设备制造业,division,C,C\n"


def test_bad_industries_and_chains_name_file_and_row() -> None:
    assert len(ref.parse_industries(_IND_OK)) == 2
    with pytest.raises(ReferenceDataError, match=r"industries\.csv, line 4 .*parent '397' not found"):
        ref.parse_industries(_IND_OK + "3973,集成电路制造,class,397,C\n")
    with pytest.raises(ReferenceDataError, match=r"line 4 .*does not fit level"):
        ref.parse_industries(_IND_OK + "397,电子器件制造,class,39,C\n")
    with pytest.raises(ReferenceDataError, match=r"chains\.yaml, chains entry 1 \(id 'x'\).*'3973'"):
        ref.parse_chains("chains:\n  - {id: x, name: 测试, industry_codes: ['3973']}\n", {"39"})
    with pytest.raises(ReferenceDataError, match=r"clusters\.yaml, clusters entry 1 .*tier"):
        ref.parse_clusters("clusters:\n  - {id: x, name: 测试, industry_codes: [39]}\n", {"39"})


# --- cross-check with the shared reference tables ----------------------------------------------


def _shared(name: str) -> list[dict[str, str]]:
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"shared reference folder not found at {SHARED_REFERENCE}")
    with (SHARED_REFERENCE / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_divisions_match_shared_reference() -> None:
    shared = {
        row["code"]: (row["name"], row["parent_code"] or None) for row in _shared("zhejiang-divisions.csv")
    }
    ours = {div.code: (div.name, div.parent_code) for div in ref.divisions()}
    assert ours == shared


# Errata of the shared GB/T 4754 table: class 3741 飞机制造 is stored there as a second level-3
# row of group 374 instead of a class row; the standard lists it as a class.
_SHARED_MISSING_CLASSES = {"3741": "飞机制造"}


def test_industries_match_shared_reference() -> None:
    rows = _shared("gbt4754-2017.csv")
    sections = {row["section"]: row["name"] for row in rows if row["level"] == "1"}
    divisions = {row["division"]: row["name"] for row in rows if row["level"] == "2"}
    classes = {row["class"]: row["name"] for row in rows if row["level"] == "4"}
    classes.update(_SHARED_MISSING_CLASSES)

    ours = ref.industries()
    assert {i.code: i.name for i in ours if i.level == "section"} == sections
    assert {i.code: i.name for i in ours if i.level == "division"} == divisions
    our_classes = {i.code: i.name for i in ours if i.level == "class"}
    for code, name in our_classes.items():
        assert classes.get(code) == name, code
    # Every class of a division we carry classes for is present (no partial divisions).
    carried = {code[:2] for code in our_classes}
    assert {code for code in classes if code[:2] in carried} == set(our_classes)
