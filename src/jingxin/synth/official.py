"""Official monthly figures (统计局发布的规上工业增加值增速): the truth a nowcast is judged against.

The statistics bureau publishes each month the growth of 规上工业增加值 for the province, each
city and each county: 当月同比 (this month against the same month last year) and 累计同比
(January to date), with January and February combined (no January figure; February carries
Jan–Feb), about the middle of the next month. Now and then a figure is revised when the next
month is published.

Here the figures come from the generator's true monthly value added: each 规上 industrial
enterprise's annual 工业增加值 spread over the months with the same shape as its 快报 revenue
(seasonality and the injected events of :mod:`.events`, reproduced from the 快报's own random
stream, so the 快报 and the official figures tell one story). Growth is on a comparable basis
(同口径): enterprises operating in both years. Values are nominal (the bureau publishes real
growth at comparable prices; the generated province has no price index — project assumption).

What is drawn from the stream ``official/<year>`` (project assumptions, not published):
- release day: the 14th–18th of the next month (浙江省统计局 releases mid-month; Jan–Feb in March);
- revisions: 8% of (region, month) figures are first published off by N(0, 0.8) points and
  corrected to the true figure at the next month's release.

Two files per year: ``official_YYYY.csv`` (first releases) and ``official_YYYY_revised.csv``,
the same year republished with the revised rows added (a later release date), which supersedes
the first batch on ingestion while the first releases stay in the warehouse as the old vintage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from jingxin import reference
from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, make_frame
from jingxin.synth.population import Population
from jingxin.synth.series import split_by_month
from jingxin.synth.sources import _with_events
from jingxin.synth.streams import Streams

PROVINCE = "330000"
RELEASE_DAYS = (14, 18)  # first and last day of the month on which figures come out (assumption)
REVISION_SHARE = 0.08  # share of first releases revised a month later (assumption)
REVISION_SD = 0.8  # points by which a revised first release was off (assumption)


def monthly_value_added(
    year: int, pop: Population, acc: Accounts, streams: Streams
) -> tuple[np.ndarray, np.ndarray]:
    """(enterprise indices, n × 12 true monthly 工业增加值 in 万元) of the 规上 industry of `year`.

    The shape of each enterprise's months is its 快报 revenue's: the same split (drawn first
    from the 快报's stream ``monthly/<year>``) and the same events, so the months add up to
    the annual value added of the statistics file."""
    k = acc.index(year)
    idx = np.flatnonzero(acc.active[k] & pop.industrial_above)
    shares = split_by_month(np.ones(idx.shape[0]), year, streams("monthly", year), kind="output")
    shares = _with_events(shares, acc, idx, year, "output")
    va = np.nan_to_num(acc.value_added[k][idx])
    return idx, va[:, None] * shares


@dataclass
class OfficialYear:
    """The figures of one year: one row per (region, month) published, both vintages."""

    region: np.ndarray  # U6 codes
    month: np.ndarray  # "YYYY-MM"
    first_month: np.ndarray  # 当月同比 as first published, %
    first_ytd: np.ndarray  # 累计同比 as first published, %
    true_month: np.ndarray  # the true figures (what the revision publishes)
    true_ytd: np.ndarray
    released: np.ndarray  # first release date, datetime64[D]
    revised: np.ndarray  # bool: corrected at the next release
    revised_on: np.ndarray  # datetime64[D] of the correction (NaT where not revised)


def _regions() -> list[tuple[str, str]]:
    """Province, cities, counties: (code, prefix of the county codes it covers)."""
    out = [(PROVINCE, "33")]
    out += [(c.code, c.code[:4]) for c in reference.cities()]
    out += [(c.code, c.code) for c in reference.counties()]
    return out


def _growth(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, (now / before - 1.0) * 100.0, np.nan)


def official_year(year: int, pop: Population, acc: Accounts, streams: Streams) -> OfficialYear | None:
    """The figures of `year` (None for the first generated year: no last year to compare)."""
    if acc.index(year) == 0:
        return None
    idx_now, va_now = monthly_value_added(year, pop, acc, streams)
    idx_before, va_before = monthly_value_added(year - 1, pop, acc, streams)
    both = np.intersect1d(idx_now, idx_before)  # 同口径: operating in both years
    now = va_now[np.searchsorted(idx_now, both)]
    before = va_before[np.searchsorted(idx_before, both)]
    county = pop.county_code[both]
    regions = _regions()
    # Months as published: Jan–Feb combined under February, then March … December.
    periods = [(2, (0, 1))] + [(m, (m - 1,)) for m in range(3, 13)]
    rows_region, rows_month, g_month, g_ytd = [], [], [], []
    for code, prefix in regions:
        mask = np.char.startswith(county, prefix)
        total_now = now[mask].sum(axis=0)
        total_before = before[mask].sum(axis=0)
        for m, cols in periods:
            rows_region.append(code)
            rows_month.append(f"{year}-{m:02d}")
            g_month.append(_growth(total_now[list(cols)].sum(), total_before[list(cols)].sum()))
            g_ytd.append(_growth(total_now[:m].sum(), total_before[:m].sum()))
    true_month = np.round(np.array(g_month, dtype=float), 1)
    true_ytd = np.round(np.array(g_ytd, dtype=float), 1)
    rng = streams("official", year)
    n = true_month.shape[0]
    # One release day per month for every region (the bureau publishes them together).
    day_of = {m: int(rng.integers(RELEASE_DAYS[0], RELEASE_DAYS[1] + 1)) for m, _ in periods}
    released = np.array(
        [_release(year, int(mm[5:]), day_of[int(mm[5:])]) for mm in rows_month], dtype="datetime64[D]"
    )
    revised = (rng.random(n) < REVISION_SHARE) & np.isfinite(true_month)
    off = rng.normal(0.0, REVISION_SD, size=(n, 2))
    first_month = np.where(revised, np.round(true_month + off[:, 0], 1), true_month)
    first_ytd = np.where(revised, np.round(true_ytd + off[:, 1], 1), true_ytd)
    next_release = {m: _next_release(year, m, day_of, rng) for m, _ in periods}
    revised_on = np.array(
        [next_release[int(mm[5:])] if r else None for mm, r in zip(rows_month, revised, strict=True)],
        dtype="datetime64[D]",
    )
    return OfficialYear(
        region=np.array(rows_region),
        month=np.array(rows_month),
        first_month=first_month,
        first_ytd=first_ytd,
        true_month=true_month,
        true_ytd=true_ytd,
        released=released,
        revised=revised,
        revised_on=revised_on,
    )


def _release(year: int, month: int, day: int) -> dt.date:
    """Release date of `month`'s figures: `day` of the next month (Jan–Feb come in March)."""
    nxt = month + 1
    return dt.date(year + nxt // 13, (nxt - 1) % 12 + 1, day)


def _next_release(year: int, month: int, day_of: dict[int, int], rng: np.random.Generator) -> dt.date:
    """When a revision of `month` comes out: with the next month's figures (December's and any
    month whose next release is in the next year: in the next year's first release, March)."""
    nxt = 3 if month == 2 else month + 1
    if nxt <= 12:
        return _release(year, nxt, day_of[nxt])
    return dt.date(year + 1, 3, RELEASE_DAYS[0])


def official_frame(year: int, figures: OfficialYear, revised_file: bool) -> Frame:
    """统计局规上工业增加值增速: first releases; with `revised_file` also the corrected rows."""
    ok = np.isfinite(figures.first_month)
    cols = {
        "region_code": figures.region[ok],
        "month": figures.month[ok],
        "growth_month": figures.first_month[ok],
        "growth_ytd": figures.first_ytd[ok],
        "released_on": figures.released[ok].astype("U10"),
    }
    if revised_file:
        r = ok & figures.revised
        cols = {
            "region_code": np.concatenate([cols["region_code"], figures.region[r]]),
            "month": np.concatenate([cols["month"], figures.month[r]]),
            "growth_month": np.concatenate([cols["growth_month"], figures.true_month[r]]),
            "growth_ytd": np.concatenate([cols["growth_ytd"], figures.true_ytd[r]]),
            "released_on": np.concatenate([cols["released_on"], figures.revised_on[r].astype("U10")]),
        }
    names = {d.code: d.name for d in reference.divisions()}
    order = np.lexsort((cols["released_on"], cols["month"], cols["region_code"]))
    cols = {k: v[order] for k, v in cols.items()}
    cols["region_name"] = np.array([names.get(c, c) for c in cols["region_code"]])
    period = f"{year}-revised" if revised_file else str(year)
    return make_frame("official", period, cols, {"growth_month": 1, "growth_ytd": 1})


def manifest_entry(year: int, figures: OfficialYear) -> dict[str, object]:
    """What the manifest records of a year's figures: counts and every revision."""
    r = np.flatnonzero(figures.revised)
    return {
        "year": year,
        "figures": int(np.isfinite(figures.true_month).sum()),
        "revisions": [
            {
                "region_code": str(figures.region[i]),
                "month": str(figures.month[i]),
                "first": [float(figures.first_month[i]), float(figures.first_ytd[i])],
                "revised": [float(figures.true_month[i]), float(figures.true_ytd[i])],
                "released_on": str(figures.released[i]),
                "revised_on": str(figures.revised_on[i]),
            }
            for i in r.tolist()
        ],
        "basis": "true monthly 工业增加值 of 规上 industry, nominal, enterprises operating in both years "
        "(同口径); release day 14th–18th of the next month and 8% revisions of N(0, 0.8) points are "
        "project assumptions",
    }
