"""The files of the enterprise risk sources (人社, 税务, 供电/供水, 人行, 法院, 金融监管), one per
source and year, shaped by the hidden distress of :mod:`.distress`.

Whoever operates in the first generated year appears (the risk universe); figures follow the
enterprise's accounts (staff, tax, power) and fall with its decline. Healthy enterprises carry
ordinary noise too (a late payment, a lawsuit over a contract, a loan marked 关注 for a while),
so the signals are not clean. Each builder draws from its own stream ``distress/<source>``.
All rates are project assumptions.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jingxin.synth.accounts import Accounts
from jingxin.synth.distress import INSURED_COVERAGE, POWER_PRICE, Distress
from jingxin.synth.frame import Frame, arrow_text, make_frame
from jingxin.synth.population import Population
from jingxin.synth.streams import Streams

RISK_SOURCES = ("insured", "tax-monthly", "utility", "credit", "court", "guarantees")
LATE_TAX = 0.015  # healthy enterprise-months with one month's tax unpaid
LATE_POWER = 0.02  # ... with one month's power bill unpaid
NOISE_WATCH = 0.02  # ... whose loan the bank marks 关注 for no lasting reason
WATER_SHARE = 0.3  # enterprises whose water bill is reported too
CIVIL_RATE = 0.003  # monthly chance of being sued over an ordinary contract
PLAINTIFF_RATE = 0.004


def _cols(d: Distress, year: int) -> slice:
    first = int(str(d.months[0])[:4])
    k = year - first
    return slice(12 * k, 12 * k + 12)


def _panel(pop: Population, d: Distress, year: int, rows: np.ndarray, values: dict[str, np.ndarray]) -> dict:
    """Enterprise-major rows × 12 months of `year` for population indices `rows`."""
    n = rows.shape[0]
    codes = arrow_text(pop.credit_code[rows]).take(pa.array(np.repeat(np.arange(n), 12)))
    months = arrow_text(d.months[_cols(d, year)]).take(pa.array(np.tile(np.arange(12), n)))
    return {"credit_code": codes, "month": months, **{k: v.ravel() for k, v in values.items()}}


def _accumulate(due: np.ndarray, unpaid_share: np.ndarray, cleared: np.ndarray) -> np.ndarray:
    """Month-end arrears: unpaid amounts add up; a recovery (`cleared` True) settles them."""
    out = np.zeros_like(due)
    balance = np.zeros(due.shape[0])
    for t in range(due.shape[1]):
        balance = np.where(cleared[:, t], 0.0, balance + due[:, t] * unpaid_share[:, t])
        out[:, t] = balance
    return out


def _recovered_mask(d: Distress, rows: np.ndarray) -> np.ndarray:
    rec = d.recovered[rows, None]
    return (rec >= 0) & (np.arange(d.months.shape[0])[None, :] >= rec)


def insured_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    rng = streams("distress", "insured", year)
    rows = np.flatnonzero(d.alive)
    dec = d.decline[:, _cols(d, year)]
    base = np.nan_to_num(acc.employees[acc.index(year)][rows], nan=5.0)
    coverage = rng.uniform(*INSURED_COVERAGE, rows.shape[0])
    count = np.round(base[:, None] * coverage[:, None] * (1 - 0.6 * dec) * rng.lognormal(0, 0.02, dec.shape))
    return make_frame(
        "insured", str(year), _panel(pop, d, year, rows, {"insured_count": np.maximum(count, 0)})
    )


def tax_monthly_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    rng = streams("distress", "tax-monthly")  # one stream over all years: arrears carry over
    rows = np.flatnonzero(d.alive)
    T = d.months.shape[0]
    annual = np.stack([np.nan_to_num(acc.tax[acc.index(y)][rows]) for y in acc.years], axis=1)
    due = (
        np.repeat(annual / 12, 12, axis=1)[:, :T]
        * (1 - d.decline)
        * rng.lognormal(0, 0.15, (rows.shape[0], T))
    )
    late = rng.random(due.shape) < LATE_TAX
    share = np.maximum(np.clip((d.decline - 0.15) * 1.6, 0, 1), np.where(late, 1.0, 0.0))
    arrears = _accumulate(due, share, _recovered_mask(d, rows))
    # A healthy enterprise pays a late month the month after: its arrears last one month.
    healthy_late = late & (d.decline == 0)
    arrears = np.where(d.decline == 0, np.where(healthy_late, due, 0.0), arrears)
    c = _cols(d, year)
    arrears = np.where(arrears[:, c] > 0.005, np.round(arrears[:, c], 2), np.nan)
    return make_frame(
        "tax-monthly",
        str(year),
        _panel(pop, d, year, rows, {"tax_due": np.round(due[:, c], 2), "arrears": arrears}),
    )


def utility_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    rng = streams("distress", "utility")
    rows = np.flatnonzero(d.alive)
    T = d.months.shape[0]
    kwh = np.stack([np.nan_to_num(acc.kwh[acc.index(y)][rows]) for y in acc.years], axis=1)
    billed = np.repeat(kwh / 12 * POWER_PRICE / 10000, 12, axis=1)[:, :T]
    billed = billed * (1 - 0.85 * d.decline) * rng.lognormal(0, 0.08, billed.shape)
    late = rng.random(billed.shape) < LATE_POWER
    share = np.clip((d.decline - 0.3) * 2, 0, 1)
    arrears = _accumulate(billed, share, _recovered_mask(d, rows))
    arrears = np.where(d.decline == 0, np.where(late, billed, 0.0), arrears)
    water = rng.random(rows.shape[0]) < WATER_SHARE
    water_bill = billed * rng.uniform(0.03, 0.12, (rows.shape[0], 1))
    c = _cols(d, year)
    elec = _panel(pop, d, year, rows, {"billed": np.round(billed[:, c], 2), "arrears": _blank(arrears[:, c])})
    w_rows = rows[water]
    wat = _panel(
        pop,
        d,
        year,
        w_rows,
        {"billed": np.round(water_bill[water][:, c], 2), "arrears": _blank(arrears[water][:, c] * 0.08)},
    )
    n_e, n_w = rows.shape[0] * 12, w_rows.shape[0] * 12
    codes = pa.concat_arrays([elec["credit_code"], wat["credit_code"]])
    months = pa.concat_arrays([elec["month"], wat["month"]])
    return make_frame(
        "utility",
        str(year),
        {
            "credit_code": codes,
            "month": months,
            "utility": np.array(["电费"] * n_e + ["水费"] * n_w),
            "billed": np.concatenate([elec["billed"], wat["billed"]]),
            "arrears": np.concatenate([elec["arrears"], wat["arrears"]]),
        },
    )


def _blank(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0.005, np.round(values, 2), np.nan)


LOAN_CLASSES = np.array(["正常", "关注", "次级", "可疑", "损失"])


def credit_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    rng = streams("distress", "credit", year)
    rows = np.flatnonzero(d.alive & d.has_loan)
    c = _cols(d, year)
    dec = d.decline[d.has_loan[d.alive]][:, c]
    tt = np.arange(d.months.shape[0])[c][None, :]
    on = d.onset[rows, None]
    rec = d.recovered[rows, None]
    revenue = np.nan_to_num(acc.revenue[0][rows], nan=100.0)
    balance = np.maximum(revenue, 50) * d.leverage[rows] * 0.35
    balance = np.round(balance[:, None] * (1 - 0.3 * dec) * rng.lognormal(0, 0.03, dec.shape), 2)
    overdue = _blank(balance * np.clip((dec - 0.35) * 2, 0, 1))
    level = np.where(dec > 0.2, 1, 0)
    level = np.where((on >= 0) & (tt >= on), 2, level)
    level = np.where((on >= 0) & (tt >= on + 3), 3, level)
    level = np.where((on >= 0) & (tt >= on + 9), 4, level)
    level = np.where((rec >= 0) & (tt >= rec), 1, level)
    level = np.where((level == 0) & (rng.random(dec.shape) < NOISE_WATCH), 1, level)
    return make_frame(
        "credit",
        str(year),
        _panel(
            pop,
            d,
            year,
            rows,
            {"loan_balance": balance, "overdue": overdue, "loan_class": LOAN_CLASSES[level]},
        ),
    )


def court_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    """法院: lawsuits against the enterprise as it declines, enforcement (首次执行) in the month of
    出险, asset seizures (财产保全) around it, and ordinary disputes of healthy enterprises."""
    rng = streams("distress", "court", year)
    rows = np.flatnonzero(d.alive)
    c = _cols(d, year)
    tt = np.arange(d.months.shape[0])[c][None, :]
    dec = d.decline[:, c]
    on = d.onset[rows, None]
    after = (on >= 0) & (tt >= on)
    sued = rng.random(dec.shape) < np.where(after, 0.15, CIVIL_RATE + 0.35 * dec)
    enforced = ((on >= 0) & (tt == on)) | (after & (rng.random(dec.shape) < 0.08))
    seized = (on >= 0) & (tt >= on - 2) & (tt <= on) & (rng.random(dec.shape) < 0.3)
    suing = rng.random(dec.shape) < PLAINTIFF_RATE
    size = np.maximum(np.nan_to_num(acc.revenue[0][rows], nan=100.0), 50)
    parts = []
    for mask, role, kind, word in (
        (sued, "被告", "民事一审", "民初"),
        (suing, "原告", "民事一审", "民初"),
        (enforced, "被执行人", "首次执行", "执"),
        (seized, "被申请人", "财产保全", "财保"),
    ):
        r, m = np.nonzero(mask)
        parts.append((r, m, role, kind, word))
    r_all = np.concatenate([p[0] for p in parts])
    m_all = np.concatenate([p[1] for p in parts])
    order = np.lexsort((r_all, m_all))
    roles = np.concatenate([np.full(p[0].shape[0], p[2]) for p in parts])[order]
    kinds = np.concatenate([np.full(p[0].shape[0], p[3]) for p in parts])[order]
    words = np.concatenate([np.full(p[0].shape[0], p[4]) for p in parts])[order]
    r_all, m_all = r_all[order], m_all[order]
    idx = rows[r_all]
    n = idx.shape[0]
    day = rng.integers(1, 29, n)
    filed = np.array(
        [f"{year}-{m + 1:02d}-{dd:02d}" for m, dd in zip(m_all.tolist(), day.tolist(), strict=True)]
    )
    court = np.array([f"浙{str(code)[2:6]}" for code in pop.county_code[idx]])
    case_no = np.array(
        [
            f"（{year}）{ct}{w}{k + 1}号"
            for k, (ct, w) in enumerate(zip(court.tolist(), words.tolist(), strict=True))
        ]
    )
    amount = np.round(size[r_all] * rng.lognormal(np.log(0.03), 0.8, n), 2)
    return make_frame(
        "court",
        str(year),
        {
            "case_no": case_no,
            "credit_code": pop.credit_code[idx],
            "party_role": roles,
            "case_type": kinds,
            "filed_on": filed,
            "amount": amount,
        },
    )


def _month_date(d: Distress, index: int, day: int) -> str:
    first = int(str(d.months[0])[:4])
    y, m = first + index // 12, index % 12 + 1
    return f"{y}-{m:02d}-{day:02d}"


def guarantees_frame(year: int, pop: Population, acc: Accounts, d: Distress, streams: Streams) -> Frame:
    """金融监管: every guarantee in force at any time of `year`."""
    g = d.guarantees
    c = _cols(d, year)
    live = np.flatnonzero((g.start <= c.stop - 1) & (g.end >= c.start))
    live = live[np.lexsort((pop.credit_code[g.borrower[live]], pop.credit_code[g.guarantor[live]]))]
    return make_frame(
        "guarantees",
        str(year),
        {
            "guarantor_code": pop.credit_code[g.guarantor[live]],
            "borrower_code": pop.credit_code[g.borrower[live]],
            "amount": g.amount[live],
            "start_on": np.array([_month_date(d, int(s), 15) for s in g.start[live]], dtype="U10"),
            "end_on": np.array([_month_date(d, int(e) + 1, 14) for e in g.end[live]], dtype="U10"),
            "year": np.full(live.shape[0], str(year)),
        },
    )


BUILDERS = {
    "insured": insured_frame,
    "tax-monthly": tax_monthly_frame,
    "utility": utility_frame,
    "credit": credit_frame,
    "court": court_frame,
    "guarantees": guarantees_frame,
}
