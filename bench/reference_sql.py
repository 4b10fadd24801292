"""A hand-written DuckDB SQL implementation of `zhejiang_industry_above` (参照实现).

The yardstick for the engine (`jingxin.evaluation.runs.run_evaluation`): the same rules written
directly as a handful of DuckDB statements over the warehouse tables, with no Ibis, no
staging and no generality. `tests/test_evaluation_reference.py` checks that its totals,
ranks, classes and policy columns equal the engine's; `bench/bench_evaluation.py` times both.

The SQL below is written for this one system. The numbers a county may change (weights, fixed
references, shares, caps, deductions, policies) are read from the system's configuration, so
the reference follows `overrides/zhejiang_industry_above/331003.yaml` (黄岩's published reference
values); the indicators, the scoring method and the groups are written out by hand, and
`check_system` refuses a configuration whose shape differs from what the SQL assumes.

Rules covered: population (规上, industries B/C/D, land, not yet producing, closed firms),
enterprises sharing a parcel merged into one unit led by the holder of the land-use right
(two hops), members of rated 小微企业园 included whatever their land and ranked apart when they
have none, the eight indicators, references as each county's sum over sum (or the county's
fixed values), floor 0 and cap 2 × weight, missing data (zero or the county's average score),
sublet deductions, totals and the tie-break on the uncapped total, ranks, class shares
20/60/15/5 within industry in the county with small groups pooled in the county then the
city, vetoes, last year's result from a stored run and the consecutive years in D, and the
differentiated policies.

Not covered (the engine handles them, this reference does not):

- last year's result computed on the fly when no run of that year is stored (the reference
  takes it from the stored run only, or has none);
- several live batches repeating one key (a correction loaded beside the original): the
  reference reads every live row and assumes keys are unique among them, as in generated data;
- evaluations restricted to a county (only province-wide runs), other systems, recomputation
  of a past run from its recorded batches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from jingxin.evaluation.config import System

SYSTEM_ID = "zhejiang_industry_above"

# (id, value, numerator and denominator of the sum-over-sum reference, missing rule), as the
# formulas of the system file read (a zero denominator gives a missing value).
INDICATORS: tuple[tuple[str, str, str, str, str], ...] = (
    ("tax_per_mu", "tax_paid / nullif(land_mu, 0)", "tax_paid", "land_mu", "zero"),
    ("value_added_per_mu", "value_added / nullif(land_mu, 0)", "value_added", "land_mu", "zero"),
    ("value_added_per_energy", "value_added / nullif(energy_tce, 0)", "value_added", "energy_tce", "average"),
    (
        "value_added_per_discharge",
        "value_added / nullif(discharge_t, 0)",
        "value_added",
        "discharge_t",
        "average",
    ),
    ("labour_productivity", "value_added / nullif(employees, 0)", "value_added", "employees", "zero"),
    (
        "rd_intensity",
        "rd_expense / nullif(revenue, 0) * 100.0::DOUBLE",
        "rd_expense * 100.0::DOUBLE",
        "revenue",
        "zero",
    ),
    (
        "talent_density",
        "college_staff / nullif(employees, 0) * 100.0::DOUBLE",
        "college_staff * 100.0::DOUBLE",
        "employees",
        "zero",
    ),
    ("rd_per_employee", "rd_expense / nullif(employees, 0)", "rd_expense", "employees", "zero"),
)


def check_system(system: System) -> None:
    """Refuse a configuration the hand-written SQL does not implement."""
    problems = []
    if system.id != SYSTEM_ID:
        problems.append(f"system {system.id}")
    if [i.id for i in system.indicators] != [i[0] for i in INDICATORS]:
        problems.append("indicators")
    for ind, (*_, missing) in zip(system.indicators, INDICATORS, strict=False):
        rule = system.reference_rule(ind)
        if system.missing_rule(ind) != missing or rule.statistic != "sum_over_sum" or rule.group != "county":
            problems.append(f"rules of {ind.id}")
        if ind.direction != "higher" or ind.cap is not None:
            problems.append(f"direction or cap of {ind.id}")
    sc, cl, pop = system.scoring, system.classes, system.population
    if sc.method != "ratio" or sc.missing_group != "county" or sc.floor != 0:
        problems.append("scoring")
    if cl.method != "shares" or cl.group != "county_industry" or cl.pool_levels != ["county", "city"]:
        problems.append("classes")
    if cl.a_plus is not None or cl.order != ["A", "B", "C", "D"]:
        problems.append("class order")
    if pop.scale != "above" or not pop.merge_shared_parcels or pop.merge_rounds != 2:
        problems.append("population")
    if pop.unit_lead != "land_right" or pop.parks is None or pop.tenants != "separate":
        problems.append("units")
    if any(
        o.policies or o.shares or o.thresholds or o.deductions or o.caps for o in system.overrides.values()
    ):
        problems.append("county overrides beyond weights, references and vetoes")
    if problems:
        raise ValueError(f"the reference SQL does not implement this configuration: {', '.join(problems)}")


@dataclass(frozen=True)
class ReferenceRun:
    """`results`: one row per evaluated enterprise; `scores`: one row per enterprise and indicator."""

    results: pa.Table
    score_rows: int
    seconds: dict[str, float]


def _divisions(selectors: list[str]) -> list[str]:
    from jingxin.reference import industries

    out = []
    for item in industries():
        if item.level == "division" and (item.section in selectors or item.code in selectors):
            out.append(item.code)
    return sorted(out)


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def _by_county(system: System, year: int, pick) -> str:
    """A CASE over county_code for a per-county number (default in ELSE)."""
    default = pick(system.model_copy(update={"overrides": {}}))
    cases = [
        f"WHEN '{code}' THEN {_lit(pick(system.for_county(code)))}"
        for code in sorted(system.overrides)
        if pick(system.for_county(code)) != default
    ]
    if not cases:
        return _lit(default)
    return f"(CASE county_code {' '.join(cases)} ELSE {_lit(default)} END)"


def _stored_previous(con: duckdb.DuckDBPyConnection, system_id: str, year: int) -> str | None:
    """The newest stored province-wide run of `year` (the engine's `stored_results`)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "eval_runs" not in tables:
        return None
    row = con.execute(
        "SELECT run_id, scope FROM eval_runs WHERE system = ? AND year = ? "
        "ORDER BY created_at DESC, run_id DESC LIMIT 1",
        [system_id, year],
    ).fetchone()
    if row is None:
        return None
    if row[1] != "330000":
        raise ValueError("the reference SQL reads last year's result from province-wide runs only")
    return str(row[0])


def reference_run(
    con: duckdb.DuckDBPyConnection, system: System, year: int, *, store: bool = True
) -> ReferenceRun:
    """Evaluate `year` province-wide with the hand-written SQL; with `store` the results and the
    long score table are written to the tables `ref_results` and `ref_scores` (replaced)."""
    import time

    check_system(system)
    started = time.perf_counter()
    pop, cl, ded, pol = system.population, system.classes, system.deductions, system.policies
    excluded = ", ".join(_lit(s) for s in pop.excluded_statuses) or "NULL"
    industries = ", ".join(_lit(d) for d in _divisions(pop.include))
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    year_start, year_end, next_year = dt.date(year, 1, 1), dt.date(year, 12, 31), dt.date(year + 1, 1, 1)
    young_from = dt.date(year - pop.not_producing.grace_years + 1, 1, 1)
    live = "batch_id IN (SELECT batch_id FROM batches WHERE superseded_by IS NULL)"

    # rated parks: the latest year's master data and membership up to `year`
    rated = "SELECT NULL::VARCHAR AS credit_code WHERE false"
    if {"parks", "park_members"} <= tables:
        kinds = ", ".join(_lit(k) for k in pop.parks.kinds)
        rated = f"""
        SELECT DISTINCT m.credit_code FROM park_members m
        JOIN parks p ON p.park_id = m.park_id
        WHERE m.{live} AND p.{live}
          AND m.year = (SELECT max(year) FROM park_members WHERE {live} AND year <= {year})
          AND p.year = (SELECT max(year) FROM parks WHERE {live} AND year <= {year})
          AND p.kind IN ({kinds}) AND coalesce(p.star, 0) >= {pop.parks.min_star}"""

    # 1. enterprises with the year's facts, merged into units through shared parcels
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE r_land AS
    SELECT l.credit_code, l.parcel_id, l.area_mu, l.acquisition FROM land l
    SEMI JOIN (SELECT credit_code FROM registry WHERE {live}
               AND (status IS NULL OR status NOT IN ({excluded}))) r ON r.credit_code = l.credit_code
    WHERE l.{live};

    CREATE OR REPLACE TEMP TABLE r_ent AS
    WITH reg AS (
        SELECT credit_code, name, county_code, industry_code, founded_on FROM registry
        WHERE {live} AND (status IS NULL OR status NOT IN ({excluded}))),
    shared AS (
        SELECT credit_code, parcel_id FROM r_land
        WHERE parcel_id IN (SELECT parcel_id FROM r_land GROUP BY parcel_id HAVING count(*) > 1)),
    l0 AS (SELECT credit_code, min(credit_code) AS label FROM shared GROUP BY credit_code),
    p1 AS (SELECT s.parcel_id, min(l.label) AS label FROM shared s JOIN l0 l USING (credit_code) GROUP BY 1),
    l1 AS (SELECT s.credit_code, min(p.label) AS label FROM shared s JOIN p1 p USING (parcel_id) GROUP BY 1),
    p2 AS (SELECT s.parcel_id, min(l.label) AS label FROM shared s JOIN l1 l USING (credit_code) GROUP BY 1),
    labels AS (
        SELECT s.credit_code, min(p.label) AS label FROM shared s JOIN p2 p USING (parcel_id) GROUP BY 1),
    stats AS (SELECT * FROM statistics WHERE {live} AND year = {year}),
    ent AS (
        SELECT reg.*, labels.label, st.above_scale, st.value_added, st.revenue, st.rd_expense,
               st.employees, st.college_staff
        FROM reg LEFT JOIN labels USING (credit_code) LEFT JOIN stats st USING (credit_code)
        WHERE (labels.label IS NOT NULL
               OR (coalesce(substr(reg.industry_code, 1, 2) IN ({industries}), false)
                   AND coalesce(st.above_scale, false)))),
    right_mu AS (
        SELECT credit_code, sum(area_mu) AS right_mu FROM r_land
        WHERE acquisition IS NULL OR acquisition <> '租赁' GROUP BY 1),
    leads AS (
        SELECT e.label, e.credit_code AS lead FROM ent e LEFT JOIN right_mu r USING (credit_code)
        WHERE e.label IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY e.label ORDER BY coalesce(r.right_mu, 0) DESC,
                                   coalesce(e.revenue, 0) DESC, e.credit_code) = 1)
    SELECT e.credit_code, e.name, e.county_code, e.industry_code, e.founded_on, e.above_scale,
           e.value_added, e.revenue, e.rd_expense, e.employees, e.college_staff,
           t.tax_paid, en.energy_tce, d.discharge_t, pw.kwh,
           coalesce(leads.lead, e.credit_code) AS unit_id,
           rp.credit_code IS NOT NULL AS in_rated_park
    FROM ent e
    LEFT JOIN leads USING (label)
    LEFT JOIN (SELECT credit_code, tax_paid FROM tax WHERE {live} AND year = {year}) t USING (credit_code)
    LEFT JOIN (SELECT credit_code, energy_tce FROM energy WHERE {live} AND year = {year}) en
        USING (credit_code)
    LEFT JOIN (SELECT credit_code, discharge_t FROM discharge WHERE {live} AND year = {year}) d
        USING (credit_code)
    LEFT JOIN (SELECT credit_code, sum(kwh) AS kwh FROM power_monthly
               WHERE {live} AND month >= DATE '{year_start}' AND month < DATE '{next_year}'
               GROUP BY 1) pw USING (credit_code)
    LEFT JOIN ({rated}) rp USING (credit_code);
    """)

    # 2. units, the population rules, indicator values, references and scores
    sums = ["tax_paid", "value_added", "revenue", "rd_expense", "employees", "college_staff"]
    sums += ["energy_tce", "discharge_t", "kwh"]
    cap = system.scoring.cap_multiple
    values, stats, scored, filled, totals, tiebreak = [], [], [], [], [], []
    for ind_id, value, num, den, missing in INDICATORS:
        values.append(f"{value} AS v_{ind_id}")
        stats.append(
            f"sum({num}) FILTER (WHERE v_{ind_id} IS NOT NULL) / "
            f"nullif(sum({den}) FILTER (WHERE v_{ind_id} IS NOT NULL), 0) AS st_{ind_id}"
        )
        fixed = _by_county(system, year, lambda s, i=ind_id: s.reference_rule(s.indicator(i)).fixed_for(year))
        weight = _by_county(system, year, lambda s, i=ind_id: float(s.indicator(i).weight))
        scored.append(
            f"coalesce({fixed}, st_{ind_id}) AS ref_{ind_id}, {weight} AS w_{ind_id}, "
            f"CASE WHEN v_{ind_id} / nullif(coalesce({fixed}, st_{ind_id}), 0) < 0 THEN 0.0 "
            f"ELSE v_{ind_id} / nullif(coalesce({fixed}, st_{ind_id}), 0) END AS x_{ind_id}"
        )
        capped = (
            f"CASE WHEN x_{ind_id} > {_lit(cap)} THEN {_lit(cap)} ELSE x_{ind_id} END"
            if cap
            else f"x_{ind_id}"
        )
        fill = f"avg({capped}) OVER (PARTITION BY county_code), " if missing == "average" else ""
        filled.append(f"{capped} IS NULL AS m_{ind_id}, coalesce({capped}, {fill}0.0) AS u_{ind_id}")
        totals.append(f"w_{ind_id} * u_{ind_id}")
        tiebreak.append(f"w_{ind_id} * (coalesce(x_{ind_id}, u_{ind_id}) - u_{ind_id})")
    points = "(" + " + ".join(["0.0", *totals]) + ")"
    raw = "(" + " + ".join([points, *tiebreak]) + ")" if cap else points
    founded_ok = f"(founded_on IS NULL OR founded_on <= DATE '{year_end}')"
    idle = (
        f"(coalesce(revenue, 0) <= 0 AND coalesce(tax_paid, 0) <= 0 "
        f"AND coalesce(founded_on >= DATE '{young_from}', false))"
    )
    in_industry = f"coalesce(substr(industry_code, 1, 2) IN ({industries}), false)"
    base_rule = f"above_scale AND {in_industry} AND {founded_ok} AND NOT {idle}"
    free, first, further = float(ded.free_tenants), float(ded.sublet_first), float(ded.sublet_further)
    sublets = (
        f"SELECT credit_code, max(tenants) AS tenants FROM sublets WHERE year = {year} GROUP BY 1"
        if "sublets" in tables
        else "SELECT NULL::VARCHAR AS credit_code, NULL::BIGINT AS tenants WHERE false"
    )
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE r_units AS
    WITH agg AS (
        SELECT unit_id, count(*) AS member_count, bool_or(in_rated_park) AS in_rated_park,
               {", ".join(f"sum({c})::DOUBLE AS {c}" for c in sums)}
        FROM r_ent GROUP BY unit_id),
    unit_land AS (
        SELECT unit_id, sum(area) AS land_mu FROM (
            SELECT e.unit_id, l.parcel_id, max(l.area_mu) AS area
            FROM r_land l JOIN r_ent e USING (credit_code) GROUP BY 1, 2) GROUP BY 1),
    ded AS (
        SELECT e.unit_id, sum(s.tenants) AS sublet_tenants FROM r_ent e JOIN ({sublets}) s USING (credit_code)
        GROUP BY 1),
    u AS (
        SELECT lead.unit_id, lead.name, lead.county_code, lead.industry_code, lead.founded_on,
               substr(lead.county_code, 1, 4) || '00' AS city_code,
               coalesce(substr(lead.industry_code, 1, 2), '') AS division_code,
               coalesce(lead.above_scale, false) AS above_scale,
               agg.* EXCLUDE (unit_id), unit_land.land_mu,
               agg.in_rated_park AND coalesce(unit_land.land_mu, 0) <= 0 AS tenant,
               coalesce(ded.sublet_tenants, 0) AS sublet_tenants
        FROM r_ent lead JOIN agg USING (unit_id) LEFT JOIN unit_land USING (unit_id)
        LEFT JOIN ded USING (unit_id)
        WHERE lead.credit_code = lead.unit_id),
    kept AS (
        SELECT *, {", ".join(values)} FROM u
        WHERE ({base_rule} AND coalesce(land_mu, 0) > 0) OR ({base_rule} AND in_rated_park)),
    st AS (SELECT county_code, {", ".join(stats)} FROM kept GROUP BY 1),
    refs AS (SELECT kept.*, {", ".join(scored)} FROM kept LEFT JOIN st USING (county_code)),
    filled AS (SELECT *, {", ".join(filled)} FROM refs),
    scored AS (
        SELECT *, {points} AS points, {raw} AS raw,
               CASE WHEN sublet_tenants - {free} > 0
                    THEN {first} + (sublet_tenants - {free} - 1) * {further} ELSE 0.0 END AS deduction
        FROM filled)
    SELECT * EXCLUDE (points, raw), round(points, 6) AS score, round(points - deduction, 6) AS total,
           round(raw - deduction, 6) AS tiebreak,
           {", ".join(f"w_{i} * u_{i} AS s_{i}" for i, *_ in INDICATORS)}
    FROM scored;
    """)
    built = time.perf_counter()

    # 3. ranks and classes: small groups pooled in the county, then the city; tenants apart
    size = cl.pooling.min_size
    order = "ORDER BY total DESC, tiebreak DESC, unit_id"
    cuts = list(cl.cumulative_shares().items())[:-1]
    share_case = " ".join(
        f"WHEN class_rank <= floor(class_n * {cum} / 100 + 0.5) THEN '{c}'" for c, cum in cuts
    )
    tag = "CASE WHEN tenant THEN 't|' ELSE 'o|' END"
    suffix = "（无自有用地租户）"
    previous = _stored_previous(con, system.id, year - 1)
    prev = (
        f"SELECT credit_code, total_score AS prev_score, class AS prev_class, "
        f"consecutive_d_years AS prev_consecutive FROM eval_results WHERE run_id = {_lit(previous)}"
        if previous
        else "SELECT NULL::VARCHAR AS credit_code, NULL::DOUBLE AS prev_score, NULL::VARCHAR AS prev_class, "
        "NULL::BIGINT AS prev_consecutive WHERE false"
    )
    vetoes = [v for v in system.all_vetoes() if v.year in (None, year)]
    veto_rows = " UNION ALL ".join(
        f"SELECT {_lit(v.credit_code)}, {_lit(v.class_)}, {_lit(v.reason)}" for v in vetoes
    )
    veto_src = (
        f"SELECT credit_code, class AS cls, reason FROM vetoes WHERE year = {year}"
        if "vetoes" in tables
        else ""
    )
    veto_src = " UNION ALL ".join(p for p in (veto_src, veto_rows) if p) or (
        "SELECT NULL::VARCHAR AS credit_code, NULL::VARCHAR AS cls, NULL::VARCHAR AS reason WHERE false"
    )
    idx = "CASE {0} WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 WHEN 'D' THEN 3 END"
    counted = pol.power_surcharge.class_ if pol.power_surcharge else "D"
    steps = sorted(pol.power_surcharge.steps, key=lambda s: -s.min_years) if pol.power_surcharge else []
    surcharge = " ".join(
        f"WHEN consecutive_d_years >= {s.min_years} THEN {_lit(s.yuan_per_kwh)}::DOUBLE" for s in steps
    )
    surcharge = f"CASE WHEN class = '{counted}' THEN CASE {surcharge} END END" if steps else "NULL::DOUBLE"

    def by_class(mapping: dict[str, float]) -> str:
        cases = " ".join(f"WHEN '{c}' THEN {_lit(v)}::DOUBLE" for c, v in mapping.items())
        return f"CASE class {cases} END" if cases else "NULL::DOUBLE"

    priority = "class IN ({})"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE r_results AS
    WITH g0 AS (
        SELECT unit_id, total, tiebreak, tenant, county_code, city_code, division_code,
               {tag} || 'g|' || coalesce(county_code, '~') || '|' || coalesce(division_code, '~')
                   AS class_key,
               '本县同行业' AS class_group FROM r_units),
    g1 AS (
        SELECT * REPLACE (
            CASE WHEN count(*) OVER (PARTITION BY class_key) < {size}
                 THEN {tag} || 'pcounty|' || coalesce(county_code, '~') ELSE class_key END AS class_key,
            CASE WHEN count(*) OVER (PARTITION BY class_key) < {size}
                 THEN '本县（市、区）小组合并' ELSE class_group END AS class_group) FROM g0),
    g2 AS (
        SELECT * REPLACE (
            CASE WHEN count(*) OVER (PARTITION BY class_key) < {size}
                 THEN {tag} || 'pcity|' || coalesce(city_code, '~') ELSE class_key END AS class_key,
            CASE WHEN count(*) OVER (PARTITION BY class_key) < {size}
                 THEN '本市小组合并' ELSE class_group END AS class_group) FROM g1),
    ranked AS (
        SELECT unit_id, class_key,
               CASE WHEN tenant THEN class_group || '{suffix}' ELSE class_group END AS class_group,
               row_number() OVER (PARTITION BY tenant, county_code {order}) AS rank_in_county,
               count(*) OVER (PARTITION BY tenant, county_code) AS county_count,
               row_number() OVER (PARTITION BY tenant, county_code, division_code {order})
                   AS rank_in_industry,
               count(*) OVER (PARTITION BY tenant, county_code, division_code) AS industry_count,
               row_number() OVER (PARTITION BY class_key {order}) AS class_rank,
               count(*) OVER (PARTITION BY class_key) AS class_n
        FROM g2),
    classed AS (SELECT *, CASE {share_case} ELSE '{cl.order[-1]}' END AS score_class FROM ranked),
    veto AS (
        SELECT credit_code, max({idx.format("cls")}) AS worst, string_agg(reason, '；') AS veto_reason
        FROM ({veto_src}) GROUP BY 1),
    res AS (
        SELECT e.credit_code, e.name, u.unit_id, u.member_count, e.credit_code = u.unit_id AS is_lead,
               u.county_code, u.city_code, u.industry_code, u.division_code, u.above_scale, u.land_mu,
               u.tax_paid, u.value_added, u.revenue, u.energy_tce, u.score, u.sublet_tenants, u.deduction,
               u.total AS total_score, c.rank_in_county, c.county_count, c.rank_in_industry,
               c.industry_count, c.class_rank, c.class_n, c.class_group, c.class_key, u.tenant,
               c.score_class,
               coalesce(CASE v.worst WHEN 0 THEN 'A' WHEN 1 THEN 'B' WHEN 2 THEN 'C' WHEN 3 THEN 'D' END,
                        c.score_class) AS class,
               v.veto_reason, p.prev_score, p.prev_class, p.prev_consecutive,
               {", ".join(f"u.v_{i}, u.ref_{i}, u.w_{i}, u.s_{i}, u.m_{i}" for i, *_ in INDICATORS)}
        FROM r_ent e JOIN r_units u USING (unit_id) JOIN classed c USING (unit_id)
        LEFT JOIN veto v USING (credit_code) LEFT JOIN ({prev}) p USING (credit_code)),
    chained AS (
        SELECT *, CASE WHEN class = '{counted}'
                       THEN coalesce(CASE WHEN prev_class = '{counted}' THEN prev_consecutive ELSE 0 END, 0)
                            + 1
                       ELSE 0 END AS consecutive_d_years
        FROM res)
    SELECT * EXCLUDE (prev_consecutive),
           round(total_score - prev_score, 6) AS score_change,
           {idx.format("prev_class")} - {idx.format("class")} AS class_change,
           {by_class(pol.land_tax_relief_pct)} AS land_tax_relief_pct,
           {surcharge} AS power_surcharge_yuan_per_kwh,
           {by_class(pol.energy_quota_change_pct)} AS energy_quota_change_pct,
           {priority.format(", ".join(_lit(c) for c in pol.priority_land) or "NULL")} AS priority_land,
           {priority.format(", ".join(_lit(c) for c in pol.priority_funds) or "NULL")} AS priority_funds
    FROM chained;
    """)
    classified = time.perf_counter()
    score_rows = 0
    if store:
        unpivot = " UNION ALL ".join(
            f"SELECT credit_code, '{i}' AS indicator, v_{i} AS value, s_{i} AS score, m_{i} AS missing "
            "FROM r_results"
            for i, *_ in INDICATORS
        )
        con.execute("CREATE OR REPLACE TABLE ref_results AS SELECT * FROM r_results")
        con.execute(f"CREATE OR REPLACE TABLE ref_scores AS {unpivot}")
        score_rows = int(con.execute("SELECT count(*) FROM ref_scores").fetchone()[0])
    results = con.execute("SELECT * FROM r_results").fetch_arrow_table()
    for name in ("r_results", "r_units", "r_ent", "r_land"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    done = time.perf_counter()
    return ReferenceRun(
        results=results,
        score_rows=score_rows,
        seconds={
            "units_and_scores": round(built - started, 3),
            "classes_and_policies": round(classified - built, 3),
            "store": round(done - classified, 3),
            "total": round(done - started, 3),
        },
    )
