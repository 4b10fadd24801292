"""小微企业园: the rating rules (points, D outright, transition), the generated truth, and the
star-rating workflow with its rule of who rates which star, scope, deadlines and objections."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from jingxin.core.workflow import service as wf
from jingxin.core.workflow.testing import bj, make_people
from jingxin.parks.config import ParkConfigError, load_park_config, parse_park_config
from jingxin.parks.rating import points, rate_parks
from jingxin.parks.service import RatingRefused, open_rating, take_step

pytest_plugins = ["jingxin.web.pytest_fixtures"]
CFG = load_park_config()


def _park(pid: str, **over: Any) -> dict[str, Any]:
    row = {
        "park_id": pid,
        "park_name": f"园区{pid}",
        "division_code": "330106",
        "year": 2021,
        "opened_year": 2015,
        "area_mu": 100.0,
        "recognised": "是",
        "occupancy": 90.0,
        "enterprises": 40,
        "output": 30000.0,
        "tax": 1200.0,
        "employment": 1000,
        "leading_output_share": 55.0,
        "leading_firm_share": 52.0,
        "services": 6,
        "digital_level": 3,
        "safety_incidents": 0,
        "integrity_issues": 0,
        "new_above": 0,
        "new_champions": 0,
        "new_listed": 0,
        "new_little_giants": 0,
        "new_specialised": 0,
        "first_sets": 0,
    }
    row.update(over)
    return row


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows).set_index("park_id")


def test_hangzhou_points_golden() -> None:
    df = _frame(
        [
            # smaller leading share 65 → one step of 10 above 50 → 10; 2 new 规上 ×2, a champion 4,
            # a listing 3 → 21 points.
            _park(
                "P1",
                leading_output_share=72.0,
                leading_firm_share=65.0,
                new_above=2,
                new_champions=1,
                new_listed=1,
            ),
            _park("P2", leading_output_share=49.0, leading_firm_share=90.0),  # output share not above 50: 0
            _park("P3", leading_output_share=100.0, leading_firm_share=100.0, new_above=20),  # capped at 30
        ]
    )
    assert points(df, CFG).to_dict() == {"P1": 21.0, "P2": 0.0, "P3": 30.0}


def test_unrecognised_is_d_outright_and_transition_has_a_floor() -> None:
    best = dict(
        occupancy=100.0,
        tax=9000.0,
        output=90000.0,
        services=20,
        digital_level=5,
        enterprises=200,
        employment=5000,
        new_above=10,
        new_specialised=10,
    )
    worst = dict(
        occupancy=20.0,
        tax=10.0,
        output=100.0,
        services=0,
        digital_level=0,
        enterprises=5,
        employment=50,
        safety_incidents=5,
        integrity_issues=2,
        leading_output_share=20.0,
        leading_firm_share=20.0,
    )
    df = _frame(
        [
            _park("BEST", **best),
            _park("FAIL", recognised="否", **best),  # the best figures, but fails the recognition conditions
            _park("WORST", **worst),
            _park("NEW", opened_year=2020, **worst),  # opened a year ago: transition, not below C
            _park("MID"),
        ]
    )
    t = rate_parks(df, CFG, 2021)
    assert t.loc["BEST", "grade"] == "A" and t.loc["BEST", "proposed_star"] == 5
    assert t.loc["FAIL", "grade"] == "D" and t.loc["FAIL", "proposed_star"] == 0
    assert "认定条件" in t.loc["FAIL", "reason"]
    assert t.loc["WORST", "grade"] == "D" and t.loc["WORST", "proposed_star"] == 0
    assert (
        t.loc["NEW", "grade"] == "C"
        and bool(t.loc["NEW", "transition"])
        and "过渡期" in t.loc["NEW", "reason"]
    )
    assert t.loc["BEST", "decides"] == "province"
    # A better figure never lowers a park's base score.
    better = df.copy()
    better.loc["MID", "occupancy"] = 99.0
    assert rate_parks(better, CFG, 2021).loc["MID", "base"] >= t.loc["MID", "base"]


def test_config_errors_name_the_field() -> None:
    text = (
        "code: c\nname: n\ndimensions: [{code: d, name: D, weight: 1}]\n"
        "indicators: [{code: occupancy, name: O, dimension: d}]\n"
        "grades: {A: 50, B: 60, C: 30}\nstars: {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}\n"
        "authority: {county: [1, 2], city: [3], province: [4, 5]}\n"
    )
    with pytest.raises(ParkConfigError, match=r"my.yaml.*A ≥ B ≥ C"):
        parse_park_config(text, "my.yaml")
    with pytest.raises(ParkConfigError, match="authority"):
        parse_park_config(text.replace("B: 60", "B: 40").replace("city: [3]", "city: []"), "my.yaml")


def test_generated_truth_is_recovered() -> None:
    from jingxin.parks.truth import park_truth_measures
    from jingxin.synth.places import draw_places

    truth = draw_places((2020, 2021), seed=3)
    reports = pd.DataFrame(truth.park_rows[2021]).set_index("park_id")
    t = rate_parks(reports, CFG, 2021)
    m = park_truth_measures(t, truth.manifest_entry(), 2021)
    assert m["parks"] == len(reports) > 200
    assert m["spearman"] > 0.8
    assert m["unrecognised"] > 0 and m["unrecognised_d"] == m["unrecognised"]


@pytest.fixture
def people(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)


def _row(star: int) -> pd.Series:
    return pd.Series(
        {
            "division_code": "330106",
            "park_name": "西湖第1小微企业园",
            "total": 90.0,
            "grade": "A",
            "proposed_star": star,
        }
    )


def test_four_stars_go_county_city_province_with_objection(db_session: Any, people: dict[str, Any]) -> None:
    db, xihu, hz, sheng = db_session, people["xihu"], people["hangzhou"], people["sheng"]
    with pytest.raises(LookupError):
        open_rating(db, people["shangcheng"], _row(4), "XW330106001", 2021)  # another county's park
    item = open_rating(db, xihu, _row(4), "XW330106001", 2021, now=bj(2021, 9, 29, 10))
    assert item.state == "county_review" and item.fields["proposed_star"] == "4"
    # 10 working days over the National Day holiday (1–7 October; Saturday 9 October is worked).
    assert item.clock("county").due_at == bj(2021, 10, 19, 17, 30)
    assert open_rating(db, xihu, _row(4), "XW330106001", 2021).id == item.id  # once per park and year
    with pytest.raises(wf.ItemNotFound):
        wf.get_item(db, people["shangcheng"].scope, item.id)
    with pytest.raises(wf.ItemNotFound):
        wf.get_item(db, people["wenzhou"].scope, item.id)
    ev = {"evidence": "现场核查：入驻率、税收台账一致"}
    with pytest.raises(RatingRefused, match="4星由省级评定"):
        take_step(db, xihu, item.id, "county_rate", {"star": "4", **ev})
    with pytest.raises(wf.FieldProblems):
        take_step(db, xihu, item.id, "county_submit", {"star": "4"})  # evidence is required
    take_step(db, xihu, item.id, "county_submit", {"star": "4", **ev}, now=bj(2021, 10, 8, 9))
    with pytest.raises(wf.NotAllowed):
        take_step(db, xihu, item.id, "city_submit", {"star": "4", **ev})  # a county cannot act for the city
    with pytest.raises(RatingRefused, match="4星由省级评定"):
        take_step(db, hz, item.id, "city_rate", {"star": "4", **ev})
    take_step(db, hz, item.id, "city_submit", {"star": "4", **ev}, now=bj(2021, 10, 11, 9))
    item = take_step(db, sheng, item.id, "province_rate", {"star": "4", **ev}, now=bj(2021, 10, 12, 9))
    assert item.state == "publicity" and item.fields["star"] == "4"
    item = take_step(db, xihu, item.id, "object", {"objection": "园区认为应评五星：新增单项冠军未计入"})
    assert item.state == "objection"
    with pytest.raises(RatingRefused, match="省级"):
        take_step(db, xihu, item.id, "keep", {}, comment="维持")  # the province rated: it answers
    item = take_step(db, sheng, item.id, "keep", {}, comment="单项冠军认定在评价年度之后，维持四星")
    with pytest.raises(RatingRefused):
        take_step(db, hz, item.id, "publish", {})
    item = take_step(db, sheng, item.id, "publish", {})
    assert item.state == "rated" and item.closed_at is not None
    actions = [s.action for s in wf.history(db, sheng.scope, item.id)]
    assert actions[:1] == ["start"] and actions[-4:] == ["province_rate", "object", "keep", "publish"]


def test_two_stars_are_the_countys_and_cannot_be_sent_up(db_session: Any, people: dict[str, Any]) -> None:
    db, xihu, hz = db_session, people["xihu"], people["hangzhou"]
    item = open_rating(db, xihu, _row(2), "XW330106002", 2021)
    with pytest.raises(RatingRefused, match="无须上报"):
        take_step(db, xihu, item.id, "county_submit", {"star": "2", "evidence": "材料齐全"})
    item = take_step(db, xihu, item.id, "county_rate", {"star": "2", "evidence": "材料齐全"})
    assert item.state == "publicity"
    item = take_step(db, xihu, item.id, "object", {"objection": "入驻率统计口径有误"})
    item = take_step(db, xihu, item.id, "revise", {}, comment="异议成立，重新核定")
    assert item.state == "county_review"
    with pytest.raises(RatingRefused, match="3星由市级评定"):
        take_step(db, xihu, item.id, "county_rate", {"star": "3", "evidence": "重新核定"})
    item = take_step(db, xihu, item.id, "county_submit", {"star": "3", "evidence": "重新核定为三星"})
    item = take_step(db, hz, item.id, "city_rate", {"star": "3", "evidence": "市级复核"})
    assert item.state == "publicity" and item.fields["star"] == "3"


def test_manufacturing_parks_star_from_their_mu_evaluation() -> None:
    """Golden: three 经开区/高新区 (and a 小微企业园 left out) from a 亩均 park run's columns."""
    from jingxin.parks.manufacturing import star_parks

    def park(pid: str, kind: str, k: float) -> dict[str, Any]:
        return {
            "park_id": pid,
            "park_name": pid,
            "kind": kind,
            "county_code": "330106",
            "member_count": 10 * k,
            "land_mu": 100.0,
            "tax_paid": 100.0 * k,
            "value_added": 1000.0 * k,
            "revenue": 5000.0 * k,
            "energy_tce": 100.0,
            "total_score": 30.0 * k,
        }

    results = pd.DataFrame(
        [
            park("P1", "经开区", 1),
            park("P2", "高新区", 2),
            park("P3", "经开区", 3),
            park("X", "小微企业园", 9),
        ]
    )
    t = star_parks(results)
    assert list(t.index) == ["P3", "P2", "P1"]  # the 小微企业园 is not a manufacturing park here
    assert t["score"].round(4).tolist() == [100.0, 50.0, 0.0]
    assert t["star"].tolist() == [5, 3, 0]  # 100 ≥ 80 five stars, 50 ≥ 50 three, 0 below 20 none
