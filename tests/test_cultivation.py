"""Cultivation on the generated province: screening finds the generated qualifying enterprises
(precision and recall against the manifest), each criterion traced with its gap; a recognition
from application to publication; the pool's dynamic update; 首台(套) validity and compensation."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jingxin.core.warehouse import open_warehouse
from jingxin.cultivation import service
from jingxin.cultivation.config import ConfigError, load_ladders
from jingxin.cultivation.screen import ladder_position, ladder_table, screen

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.projects.testing"]
YEAR = 2021


@pytest.fixture
def platform_url(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> str:
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def screening(projects_province: dict[str, Any]):
    wh = open_warehouse(projects_province["url"])
    try:
        yield screen(wh, YEAR)
    finally:
        wh.close()


def test_screening_finds_the_generated_qualifiers(screening, projects_province) -> None:
    truth = projects_province["manifest"]["projects"]["qualifies"]
    tp = fp = fn = 0
    for rung, codes in truth.items():
        found, expected = set(screening.qualifying(rung)), set(codes)
        tp, fp, fn = tp + len(found & expected), fp + len(found - expected), fn + len(expected - found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert tp > 50
    assert precision >= 0.97 and recall >= 0.95, (precision, recall)
    assert truth["hidden_champion"] and truth["little_giant"] and truth["single_champion"]


def test_each_criterion_is_traced_with_the_gap_to_the_next_rung(screening, projects_province) -> None:
    near = projects_province["manifest"]["projects"]["near_miss"]["hidden_champion"]
    t = screening.table.set_index("credit_code", drop=False)
    code = next(c for c in near if c in t.index)
    pos = ladder_position(screening, "champion", t.loc[code])
    assert pos["next"]["id"] == "hidden_champion" or pos["current"] is not None
    traces = pos["traces"]["hidden_champion"]
    assert [c["id"] for c in traces] == [c.id for c in screening.config.rung("hidden_champion").criteria]
    failing = [c for c in traces if not c["passed"]]
    assert len(failing) == 1  # a near miss fails exactly one criterion
    miss = failing[0]
    assert miss.get("missing") or miss.get("gap") is not None or miss.get("any_of")
    table = ladder_table(screening, "champion")
    row = table[table["credit_code"] == code].iloc[0]
    assert row["next"] == "隐形冠军" and row["next_failing"] == 1


def test_bad_ladder_configuration_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "ladders.yaml"
    bad.write_text(
        "version: 1\nladders:\n  x:\n    label: X\n    rungs:\n      - id: a\n        label: A\n"
        "        source: s\n"
        "        criteria:\n          - {id: c, label: C, metric: no_such_metric, op: '>=', value: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="no_such_metric"):
        load_ladders(bad)


def test_recognition_from_application_to_publication_and_removal(screening, db_session, tmp_path) -> None:
    from jingxin.accounts import service as accounts
    from jingxin.accounts.schemas import UserCreate
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.testing import PASSWORD, make_people

    people = make_people(db_session)
    code = screening.qualifying("hidden_champion")[0]
    county = str(screening.table.set_index("credit_code").at[code, "county_code"])

    def user(name: str, role: Role, division: str, **kw: Any) -> Any:
        return accounts.create_user(
            db_session,
            UserCreate(
                username=name, display_name=name, role=role, division_code=division, password=PASSWORD, **kw
            ),
            CLI_ACTOR,
        )

    xian = user("xian-c", Role.COUNTY_ANALYST, county)
    shi = user("shi-c", Role.CITY_ANALYST, county[:4] + "00")
    other = user("other-c", Role.COUNTY_ANALYST, "330302" if not county.startswith("3303") else "330102")
    ent = user("ent-c", Role.ENTERPRISE, county, credit_code=code)
    item = service.apply(
        db_session, ent, screening, "ignored", "hidden_champion", "近三年审计报告、市场占有率证明"
    )
    assert item.credit_code == code and "符合" in item.fields["screening"]
    with pytest.raises(wf.ItemNotFound):
        wf.act(db_session, item.id, "county_approve", other, fields={"county_opinion": "同意"})
    with pytest.raises(wf.InvalidTransition):  # the city waits for the county
        wf.act(db_session, item.id, "city_approve", shi, fields={"city_opinion": "同意"})
    with pytest.raises(wf.NotAllowed):  # the city does not review for the county
        wf.act(db_session, item.id, "county_approve", shi, fields={"county_opinion": "同意"})
    wf.act(db_session, item.id, "county_approve", xian, fields={"county_opinion": "材料齐全，同意推荐"})
    wf.act(db_session, item.id, "city_approve", shi, fields={"city_opinion": "同意"})
    with pytest.raises(wf.NotAllowed):
        service.publish(db_session, shi, screening, "2021年第1批", date(2021, 12, 20))
    wf.act(db_session, item.id, "province_recognise", people["sheng"], fields={"province_opinion": "认定"})
    pub = service.publish(db_session, people["sheng"], screening, "2021年第1批", date(2021, 12, 20))
    assert pub.entered == [{"credit_code": code, "rung": "hidden_champion"}]
    again = service.publish(db_session, people["sheng"], screening, "2021年第2批", date(2021, 12, 21))
    assert again.entered == [] and again.removed == []
    listed = service.pool(db_session, people["sheng"].scope)
    assert [e.credit_code for e in listed] == [code]
    assert service.pool(db_session, other.scope) == [] and service.pool(db_session, xian.scope)
    # Criteria lapse: a stricter R&D threshold, the next publication removes the entry with the reason.
    stricter = screening.config.model_copy(deep=True)
    for c in stricter.rung("hidden_champion").criteria:
        if c.id == "rd":
            c.value = 99.0
    from jingxin.cultivation.screen import Screening

    lapsed = Screening(year=YEAR, table=screening.table.assign(hidden_champion=False), config=stricter)
    out = service.publish(db_session, people["sheng"], lapsed, "2022年第1批", date(2022, 6, 30))
    assert out.removed and "不再符合" in out.removed[0]["reason"]
    assert service.pool(db_session, people["sheng"].scope) == []


@pytest.fixture(scope="module")
def wh(projects_province: dict[str, Any]):
    w = open_warehouse(projects_province["url"])
    yield w
    w.close()


def test_first_set_recognitions_come_from_the_source(wh, projects_province) -> None:
    from jingxin.core.scope import Scope
    from jingxin.cultivation.config import load_first_set

    truth = projects_province["manifest"]["projects"]["first_set"]
    rules = load_first_set()
    items = service.first_set_items(wh, Scope(), rules)
    expected = {i["item_code"]: i for i in truth["items"]}
    found = {i.item_code: i for i in items}
    assert set(found) <= set(expected) and len(found) >= 0.9 * len(expected) and len(expected) >= 18
    labels = {**{v: k for k, v in rules.categories.items()}, **{v: k for k, v in rules.levels.items()}}
    for code, item in found.items():
        t = expected[code]
        assert (item.credit_code, item.division_code, item.product) == (
            t["credit_code"],
            t["county_code"],
            t["product"],
        )
        assert item.recognised_on == date.fromisoformat(t["recognised_on"])
        assert item.category == labels[t["category"]] and item.level == labels[t["level"]]
        assert item.expires_on == item.recognised_on.replace(year=item.recognised_on.year + 3)
        assert item.batch_id > 0 and item.source_row > 0  # lineage
    count = service.first_set_count(items, 2021, rules)
    assert count["recognised"] == sum(1 for c in found if c.startswith("SZ2021")) and count["target"] == 200
    assert count["recognised"] >= 0.9 * truth["by_year"]["2021"]
    assert count["in_catalogue"] == len(found)  # 2019–2021 recognitions are all valid at the end of 2021
    county = items[0].division_code
    local = service.first_set_items(wh, Scope(division=county), rules)
    assert local and {i.division_code for i in local} == {county}


def test_first_set_validity_and_tiered_compensation(wh, db_session) -> None:
    from jingxin.core.scope import Scope
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.testing import make_people
    from jingxin.cultivation.config import load_first_set

    people = make_people(db_session)
    rules = load_first_set()
    items = service.first_set_items(wh, Scope(), rules)
    item = next(i for i in items if i.recognised_on.year == 2020)
    sheng, wenzhou = people["sheng"], people["wenzhou"]
    tier = rules.insurance[item.level]
    assert service.in_catalogue(item, date(2022, 12, 31)) and not service.in_catalogue(item, item.expires_on)
    c = service.claim(db_session, sheng, items, item.item_code, "insurance", 2021, premium=Decimal("100"))
    assert c.amount == min(Decimal("100") * Decimal(str(tier.rate)), Decimal(str(tier.cap)))
    assert (c.credit_code, c.division_code, c.item_code) == (
        item.credit_code,
        item.division_code,
        item.item_code,
    )
    big = service.claim(
        db_session, sheng, items, item.item_code, "insurance", 2022, premium=Decimal("100000")
    )
    assert big.amount == Decimal(str(tier.cap))  # capped
    with pytest.raises(service.CultivationError, match="有效期"):
        service.claim(db_session, sheng, items, item.item_code, "insurance", 2024, premium=Decimal("10"))
    reward = service.claim(db_session, sheng, items, item.item_code, "reward", 2020)
    assert reward.amount == Decimal(str(rules.rewards[item.level]))
    with pytest.raises(service.CultivationError):
        service.claim(db_session, sheng, items, item.item_code, "reward", 2021)
    outside = wenzhou if not item.division_code.startswith("3303") else people["hangzhou"]
    theirs = service.first_set_items(wh, outside.scope, rules)
    with pytest.raises(wf.ItemNotFound):
        service.claim(db_session, outside, theirs, item.item_code, "insurance", 2021, premium=Decimal("5"))
    with pytest.raises(wf.NotAllowed):
        service.claim(db_session, people["qiye"], items, item.item_code, "reward", 2021)
    assert {c.item_code for c in service.first_set_claims(db_session, sheng.scope)} == {item.item_code}
    assert service.first_set_claims(db_session, outside.scope) == []


def test_first_set_measured_against_the_generated_lists(wh, projects_province) -> None:
    from jingxin.projects.truth import first_set_accuracy

    truth = projects_province["manifest"]["projects"]
    out = first_set_accuracy(wh, truth)
    assert out["truth"] == len(truth["first_set"]["items"]) and out["precision"] == 1.0
    assert out["recall"] >= 0.9  # only deliberately defective rows are lost
    assert all(v["found"] <= v["truth"] for v in out["by_year"].values())
    # A list that says something else is caught: one item moved to another enterprise.
    changed = {
        **truth,
        "first_set": {**truth["first_set"], "items": [dict(i) for i in truth["first_set"]["items"]]},
    }
    changed["first_set"]["items"][0]["credit_code"] = "91330000000000000X"
    assert first_set_accuracy(wh, changed)["correct"] == out["correct"] - (
        1 if truth["first_set"]["items"][0]["item_code"] in {i for i in _found(wh)} else 0
    )


def _found(wh) -> set[str]:
    from jingxin.core.scope import Scope

    return {i.item_code for i in service.first_set_items(wh, Scope())}
