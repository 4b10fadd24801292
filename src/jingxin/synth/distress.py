"""Enterprise distress (企业出险) and its precursors, for the risk scenario (DOMAIN.md §7).

Every enterprise operating in the first generated year gets a hidden true state: a latent
health (经营健康度, standard normal) and a debt ratio (资产负债率, Beta(2, 3), mean 0.4). From
them a monthly hazard decides whether and when its risk materialises (出险: enforcement,
production stopped). Months before that, precursors appear in the files of other departments:
staff leave (人社 参保人数), the monthly tax falls and arrears build (税务), the power bill falls and
goes unpaid (供电 电费), the bank marks the loan 关注 then 次级 (人行 五级分类), lawsuits and then
enforcement and asset seizures arrive (法院). Distress spreads along guarantees (担保链/担保圈):
when a borrower fails, each guarantor still bound by a guarantee may fail a few months later,
with a short run of precursors of its own (代偿 comes fast), and from there onwards.

Everything here draws from its own named streams (``distress/...``), so the files of the
other sources stay byte-identical for a seed. The truth (who, when, why, from whom, the
guarantee circles) goes to the manifest under ``distress``.

Every number below is a project assumption unless it says otherwise: the 2020 provincial
figures (DOMAIN §7: 1,528 risk enterprises removed from the list, 156 出险 or 隐患 of which 73
resolved) set only the order of magnitude (a few percent a year, about half resolved).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from jingxin.synth.accounts import Accounts
from jingxin.synth.population import Population
from jingxin.synth.streams import Streams

# Monthly hazard of an own (not spread) distress: logit = BASE + HEALTH × (−health) + LEVERAGE ×
# (debt ratio − 0.4). About 2.5% of enterprises a year (assumption, same order as the 2020 list).
HAZARD_BASE = -7.0
HAZARD_HEALTH = 0.9
HAZARD_LEVERAGE = 4.0
# The 2020 shutdown (DOMAIN §13) raised failures in February–June 2020 (depth assumed).
SHOCK_MONTHS = {f"2020-{m:02d}": 1.8 for m in range(2, 7)}
PRECURSOR_MONTHS = (3, 10)  # own distress: precursors start 3–9 months before 出险
CONTAGION_PRECURSOR_MONTHS = (1, 3)  # spread distress: 1–2 months (代偿 demands come fast)
CONTAGION_DELAY = (2, 6)  # a guarantor fails 2–5 months after its borrower
CONTAGION_BASE = 0.45  # chance a bound guarantor fails, rising with the amount against its size
CONTAGION_MAX = 0.85
RECOVERY_SHARE = 0.45  # of distressed enterprises that recover (2020: 73 of 156 resolved)
RECOVERY_MONTHS = (6, 13)
GUARANTEE_SHARE = 0.3  # enterprises that borrow under another's guarantee
MUTUAL_SHARE = 0.3  # of guarantees answered by a reverse guarantee (互保)
CIRCLE_SHARE = 0.01  # enterprises starting a 3–4 member guarantee circle (联保圈)
SAME_COUNTY = 0.8
LOAN_SHARE = 0.6  # enterprises with a bank loan
POWER_PRICE = 0.65  # 元/kWh, industrial tariff order of magnitude (assumption)
INSURED_COVERAGE = (0.8, 1.0)


@dataclass
class Guarantees:
    guarantor: np.ndarray  # population index
    borrower: np.ndarray
    amount: np.ndarray  # 万元
    start: np.ndarray  # month index (may be negative: signed before the first month)
    end: np.ndarray  # month index, inclusive


@dataclass
class Distress:
    """The hidden state and its consequences, per enterprise (population index) and month."""

    months: np.ndarray  # "YYYY-MM", T months
    alive: np.ndarray  # bool, operating in the first year (the risk universe)
    health: np.ndarray
    leverage: np.ndarray
    onset: np.ndarray  # month index of 出险, -1 = none
    precursor: np.ndarray  # month index the decline starts (may be < 0), -1 = none
    recovered: np.ndarray  # month index of recovery, -1 = none
    cause: np.ndarray  # "", "own", "contagion"
    spread_from: np.ndarray  # population index of the borrower that spread it, -1
    decline: np.ndarray  # (n_alive_rows, T) share of activity lost, rows = np.flatnonzero(alive)
    guarantees: Guarantees
    circles: list[list[int]]
    has_loan: np.ndarray

    def row(self) -> np.ndarray:
        """Population index → row of `decline` (−1 for enterprises outside the universe)."""
        out = np.full(self.alive.shape[0], -1)
        out[np.flatnonzero(self.alive)] = np.arange(int(self.alive.sum()))
        return out


def _month_labels(years: tuple[int, ...]) -> np.ndarray:
    return np.array([f"{y}-{m:02d}" for y in years for m in range(1, 13)])


def _guarantees(
    pop: Population, alive: np.ndarray, revenue: np.ndarray, t: int, rng
) -> tuple[Guarantees, list]:
    idx = np.flatnonzero(alive)
    by_county: dict[str, np.ndarray] = {}
    for c in np.unique(pop.county_code[idx]):
        by_county[str(c)] = idx[pop.county_code[idx] == c]
    g: list[int] = []
    b: list[int] = []
    borrowers = idx[rng.random(idx.shape[0]) < GUARANTEE_SHARE]
    for br in borrowers.tolist():
        pool = by_county[str(pop.county_code[br])] if rng.random() < SAME_COUNTY else idx
        for _ in range(1 + int(rng.random() < 0.4)):
            gu = int(pool[int(rng.integers(0, pool.shape[0]))])
            if gu != br:
                g.append(gu)
                b.append(br)
                if rng.random() < MUTUAL_SHARE:
                    g.append(br)
                    b.append(gu)
    circles: list[list[int]] = []
    starters = idx[rng.random(idx.shape[0]) < CIRCLE_SHARE]
    for s in starters.tolist():
        pool = by_county[str(pop.county_code[s])]
        size = int(rng.integers(3, 5))
        if pool.shape[0] < size + 1:
            continue
        members = [s] + [int(x) for x in rng.choice(pool[pool != s], size - 1, replace=False)]
        circles.append(members)
        for a, c in zip(members, members[1:] + members[:1], strict=True):
            g.append(a)
            b.append(c)
    pairs = np.unique(np.array([g, b], dtype=np.int64).T, axis=0) if g else np.zeros((0, 2), np.int64)
    n = pairs.shape[0]
    borrower_rev = np.nan_to_num(revenue[pairs[:, 1]], nan=100.0)
    amount = np.round(np.maximum(borrower_rev, 50.0) * rng.uniform(0.05, 0.3, n), 2)
    start = rng.integers(-24, t - 6, n) if t > 6 else np.zeros(n, np.int64)
    end = start + rng.integers(24, 61, n)  # renewed guarantees run for years
    return Guarantees(pairs[:, 0], pairs[:, 1], amount, start, end), circles


def build_distress(pop: Population, acc: Accounts, streams: Streams) -> Distress:
    """Draw the hidden state, own distress, guarantees and their contagion, and the decline path."""
    rng = streams("distress", "state")
    months = _month_labels(acc.years)
    T = months.shape[0]
    n = pop.n
    alive = acc.active[0].copy()
    health = rng.standard_normal(n)
    leverage = rng.beta(2.0, 3.0, n)
    has_loan = rng.random(n) < LOAN_SHARE * (0.5 + leverage)

    # Own distress: first month whose uniform falls under the month's hazard.
    logit = HAZARD_BASE + HAZARD_HEALTH * (-health) + HAZARD_LEVERAGE * (leverage - 0.4)
    p = 1.0 / (1.0 + np.exp(-logit))
    shock = np.array([SHOCK_MONTHS.get(str(m), 1.0) for m in months])
    hit = rng.random((n, T)) < np.minimum(p[:, None] * shock[None, :], 0.5)
    hit[~alive] = False
    onset = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    lead = rng.integers(*PRECURSOR_MONTHS, n)
    cause = np.where(onset >= 0, "own", "").astype("<U9")
    spread_from = np.full(n, -1)

    grng = streams("distress", "guarantees")
    revenue = acc.revenue[0]
    guar, circles = _guarantees(pop, alive, revenue, T, grng)

    # Contagion in time order: a failing borrower may pull down each guarantor still bound.
    crng = streams("distress", "contagion")
    by_borrower: dict[int, list[int]] = {}
    for k, br in enumerate(guar.borrower.tolist()):
        by_borrower.setdefault(br, []).append(k)
    heap = [(int(onset[i]), int(i)) for i in np.flatnonzero(onset >= 0)]
    heapq.heapify(heap)
    while heap:
        t0, i = heapq.heappop(heap)
        if onset[i] != t0:
            continue  # superseded by an earlier onset
        for k in by_borrower.get(i, []):
            gu = int(guar.guarantor[k])
            if not (guar.start[k] <= t0 <= guar.end[k]) or not alive[gu]:
                continue
            size = max(float(np.nan_to_num(revenue[gu], nan=100.0)), 50.0)
            chance = min(CONTAGION_MAX, CONTAGION_BASE * (1.0 + min(1.0, guar.amount[k] / (0.2 * size))))
            if crng.random() >= chance:
                continue
            t1 = t0 + int(crng.integers(*CONTAGION_DELAY))
            if t1 < T and (onset[gu] < 0 or t1 < onset[gu]):
                onset[gu] = t1
                cause[gu] = "contagion"
                spread_from[gu] = i
                lead[gu] = int(crng.integers(*CONTAGION_PRECURSOR_MONTHS))
                heapq.heappush(heap, (t1, gu))
    precursor = np.where(onset >= 0, onset - lead, -1)
    rrng = streams("distress", "recovery")
    recovers = (onset >= 0) & (rrng.random(n) < RECOVERY_SHARE)
    recovered = np.where(recovers, onset + rrng.integers(*RECOVERY_MONTHS, n), -1)
    recovered = np.where(recovered >= T, -1, recovered)

    # Decline: 0 until the precursors start, rising to 0.5 at 出险, 0.85 after (mostly stopped),
    # back to 0.1 after a recovery.
    rows = np.flatnonzero(alive)
    tt = np.arange(T)[None, :]
    on, pre, rec = onset[rows, None], precursor[rows, None], recovered[rows, None]
    ramp = np.clip((tt - pre) / np.maximum(on - pre, 1), 0.0, 1.0) * 0.5
    decline = np.where(on < 0, 0.0, np.where(tt < on, np.where(tt >= pre, ramp, 0.0), 0.85))
    decline = np.where((rec >= 0) & (tt >= rec), 0.1, decline)
    return Distress(
        months=months,
        alive=alive,
        health=health,
        leverage=leverage,
        onset=onset,
        precursor=precursor,
        recovered=recovered,
        cause=cause,
        spread_from=spread_from,
        decline=decline,
        guarantees=guar,
        circles=circles,
        has_loan=has_loan,
    )


def manifest_entry(d: Distress, pop: Population) -> dict[str, object]:
    """The injected truth: who failed when and why, and the guarantee circles."""

    def month(i: int) -> str | None:
        return str(d.months[i]) if 0 <= i < d.months.shape[0] else None

    hit = np.flatnonzero(d.onset >= 0)
    hit = hit[np.lexsort((pop.credit_code[hit], d.onset[hit]))]
    return {
        "universe": int(d.alive.sum()),
        "distressed": int(hit.shape[0]),
        "by_cause": {c: int((d.cause[hit] == c).sum()) for c in ("own", "contagion")},
        "guarantees": int(d.guarantees.guarantor.shape[0]),
        "parameters": {
            "hazard": (
                f"logit = {HAZARD_BASE} + {HAZARD_HEALTH}×(−health) + {HAZARD_LEVERAGE}×(debt ratio − 0.4)"
            ),
            "shock": SHOCK_MONTHS,
            "precursor_months": list(PRECURSOR_MONTHS),
            "contagion_precursor_months": list(CONTAGION_PRECURSOR_MONTHS),
            "contagion_delay_months": list(CONTAGION_DELAY),
            "contagion_chance": (
                f"min({CONTAGION_MAX}, {CONTAGION_BASE} × (1 + min(1, amount / (0.2 × guarantor revenue))))"
            ),
            "recovery_share": RECOVERY_SHARE,
            "basis": "project assumptions; order of magnitude from the 2020 provincial figures (DOMAIN §7)",
        },
        "enterprises": [
            {
                "credit_code": str(pop.credit_code[i]),
                "onset": month(int(d.onset[i])),
                "precursor_start": month(max(int(d.precursor[i]), 0)),
                "recovered": month(int(d.recovered[i])),
                "cause": str(d.cause[i]),
                "spread_from": None if d.spread_from[i] < 0 else str(pop.credit_code[d.spread_from[i]]),
                "health": round(float(d.health[i]), 4),
                "debt_ratio": round(float(d.leverage[i]), 4),
            }
            for i in hit.tolist()
        ],
        "guarantee_circles": [[str(pop.credit_code[m]) for m in c] for c in d.circles],
    }
