"""Outlier treatment against COINr: the ASEM coin's treated set, the figures printed in COINr's
treatment vignette and the cases of its own tests (sources in tests/data/coinr_asem/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingxin.places.engine import IndexSpec, Indicator, Method, Node, compute
from jingxin.places.treat import Treatment, kurtosis, skewness, treat_column, treat_frame

DATA = Path(__file__).parent / "data" / "coinr_asem"
COINR = Treatment(enabled=True)  # COINr's defaults: winmax 5, |skew| 2, kurtosis 3.5, log_CT


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv").set_index("UnitCode")


def test_asem_imputed_to_treated_matches_coinr() -> None:
    """The coin's recorded treatment (winsorise up to 5 points, else log) on its imputed set
    gives COINr's treated set; 15 indicators are winsorised, none needs the log."""
    imputed = _csv("imputed")
    expected = _csv("treated")[imputed.columns]
    treated, points, table = treat_frame(imputed, COINR)
    np.testing.assert_allclose(treated.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    changed = sorted(table.index[table["status"] == "winsorised"])
    assert changed == sorted(imputed.columns[(imputed != expected).any()])
    assert len(changed) == 15 and (table["status"] != "transformed").all()
    assert table.at["Services", "winsorised"] == 4 and table.at["Services", "win_high"] == 4
    assert (points["Services"] == "winhi").sum() == 4
    assert points.loc[:, table.index[table["status"] == "passed"]].eq("").all().all()


def test_asem_end_to_end_from_raw_data_matches_coinr_to_four_decimals() -> None:
    """Raw data → denominate → impute by EurAsia group → treat → min–max → three levels of
    arithmetic means: every pillar, sub-index and index score of the coin."""
    ind = pd.read_csv(DATA / "indicators.csv")
    agg = pd.read_csv(DATA / "aggregates.csv")
    spec = IndexSpec(
        "asem",
        "ASEM",
        tuple(
            Indicator(
                r.code,
                r.name,
                r.parent,
                int(r.direction),
                float(r.weight),
                r.denominator if isinstance(r.denominator, str) else None,
            )
            for r in ind.itertuples()
        ),
        tuple(
            Node(r.code, r.name, r.parent if isinstance(r.parent, str) else None, float(r.weight))
            for r in agg.itertuples()
        ),
        Method(imputation="group_mean", impute_group="Group_EurAsia", treatment=COINR),
    )
    result = compute(spec, _csv("raw"))
    expected = _csv("aggregated")[result.scores.columns]
    np.testing.assert_allclose(result.scores.to_numpy(), expected.to_numpy(), rtol=0, atol=5e-5)
    assert round(float(result.index["CHE"]), 2) == 68.38
    off = compute(spec.replace(method={"treatment": Treatment()}), _csv("raw"))
    assert not np.allclose(off.index, result.index)  # the step matters on this data
    assert spec.fingerprint() != spec.replace(method={"treatment": Treatment()}).fingerprint()


# The treatment vignette of COINr (docs/articles/treat.html), run on ASEM_iData's raw values,
# which are the coin's raw set: indicator → (skew, kurt) before, points winsorised, (skew, kurt) after.
VIGNETTE_DEFAULT = {
    "LPI": ((-0.3042681, -0.6567514), None, None),
    "Flights": ((2.1032872, 4.5088794), 1, (1.900658, 3.336065)),
    "Ship": ((-0.5756680, -0.6814795), None, None),
    "Bord": ((2.1482360, 5.7914905), 1, (1.899211, 4.346298)),
    "Elec": ((2.2252736, 5.7910268), 1, (1.717744, 2.586062)),
    "Gas": ((2.8294486, 10.3346494), 1, (1.602518, 1.525576)),
    "ConSpeed": ((0.4622037, 0.1873214), None, None),
    "Cov4G": ((-1.3725191, 0.5419314), None, None),
    "Goods": ((2.6499733, 8.2666095), 2, (1.140608, 0.1572047)),
    "Services": ((1.7010849, 2.3756557), None, None),
}


def test_published_vignette_figures_default_treatment() -> None:
    raw = _csv("raw")
    _, _, table = treat_frame(raw[list(VIGNETTE_DEFAULT)], COINR)
    for code, ((sk, kt), n, after) in VIGNETTE_DEFAULT.items():
        row = table.loc[code]
        # Printed to 7 significant digits: equal within half a unit of the last printed one.
        assert row["skew"] == pytest.approx(sk, abs=5e-7) and row["kurt"] == pytest.approx(kt, abs=5e-7), code
        if n is None:
            assert row["status"] == "passed", code
        else:
            assert row["status"] == "winsorised" and row["winsorised"] == n, code
            assert row["skew_after"] == pytest.approx(after[0], abs=5e-7), code
            assert row["kurt_after"] == pytest.approx(after[1], abs=5e-7), code


def test_published_vignette_figures_log_after_winsorisation_fails() -> None:
    """winmax = 1: Goods still fails after one point (2.469910, 7.087309) and is log-transformed
    from its original values (0.03104001, −0.8888965); Flights with winmax = 0 goes straight to
    the log (−0.09502644, −0.8305217)."""
    raw = _csv("raw")
    goods = treat_column(raw["Goods"].to_numpy(float), Treatment(enabled=True, winmax=1))
    assert goods.record["status"] == "transformed"
    assert round(goods.record["skew_after"], 7) == 0.0310400  # type: ignore[arg-type]
    assert round(goods.record["kurt_after"], 7) == -0.8888965  # type: ignore[arg-type]
    x = raw["Goods"].to_numpy(float)
    one = treat_column(x, Treatment(enabled=True, winmax=1, transform="none"))
    assert one.record["status"] == "unresolved" and one.record["winsorised"] == 1
    assert round(skewness(one.values), 6) == 2.469910 and round(kurtosis(one.values), 6) == 7.087309
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(goods.values, np.log(x - lo + 0.01 * (hi - lo)), rtol=0, atol=1e-12)
    # The per-indicator override, as the vignette's indiv_specs: Flights = list(winmax = 0).
    _, _, table = treat_frame(raw[["Flights", "LPI"]], COINR, {"Flights": (True, 0), "LPI": (False, None)})
    assert table.at["Flights", "status"] == "transformed"
    assert round(table.at["Flights", "skew_after"], 8) == -0.09502644
    assert round(table.at["Flights", "kurt_after"], 7) == -0.8305217
    assert table.at["LPI", "status"] == "excluded"


def test_coinr_vector_examples() -> None:
    # Vignette: x = c(1:10, 30, 100): skew 3.063241, kurt 9.741391; winmax 2 → one point, 1.712038, 1.815781.
    x = np.array([*range(1, 11), 30, 100], dtype=float)
    assert round(skewness(x), 6) == 3.063241 and round(kurtosis(x), 6) == 9.741391
    out = treat_column(x, Treatment(enabled=True, winmax=2, transform="none"))
    assert out.record["winsorised"] == 1 and out.values[-1] == 30
    assert round(out.record["skew_after"], 6) == 1.712038  # type: ignore[arg-type]
    assert round(out.record["kurt_after"], 6) == 1.815781  # type: ignore[arg-type]
    # test-treat.R: c(1:10, 100) → the 100 becomes 10, the rest unchanged.
    y = np.array([*range(1, 11), 100], dtype=float)
    w = treat_column(y, COINR)
    assert w.values[-1] == 10 and (w.values[:10] == y[:10]).all()
    # test-treat.R: c(1:20, 100, 200), winmax 1, then log → exactly log(x).
    z = np.array([*range(1, 21), 100, 200], dtype=float)
    lg = treat_column(z, Treatment(enabled=True, winmax=1, transform="log"))
    np.testing.assert_allclose(lg.values, np.log(z))


def test_negative_skew_gaps_and_refusals() -> None:
    low = np.array([-100.0, *range(1, 11), np.nan])
    out = treat_column(low, COINR)
    assert out.record["status"] == "winsorised" and out.points[0] == "winlo" and out.values[0] == 1
    assert np.isnan(out.values[-1]) and out.points[-1] == ""
    plus = treat_column(low, Treatment(enabled=True, winmax=0, transform="log_ct_plus"))
    assert plus.record["status"] == "transformed" and abs(plus.record["skew_after"]) < 2  # type: ignore[arg-type]
    refused = treat_column(low, Treatment(enabled=True, winmax=0, transform="log"))
    assert refused.record["status"] == "transform_failed"
    np.testing.assert_array_equal(refused.values, low)
    assert treat_column(np.array([1.0, 2.0, 99.0]), COINR).record["status"] == "undetermined"
    assert treat_column(low, Treatment()).record["status"] == "off"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=5, max_size=40),
    st.integers(0, 6),
)
def test_winsorising_keeps_order_and_range(values: list[float], winmax: int) -> None:
    """Winsorising never reorders places, never leaves the original range, and changes at most
    `winmax` points (plus ties of the last one)."""
    x = np.array(values)
    out = treat_column(x, Treatment(enabled=True, winmax=winmax, transform="none"))
    y = out.values
    assert y.min() >= x.min() and y.max() <= x.max()
    order = np.argsort(x, kind="stable")
    assert (np.diff(y[order]) >= 0).all()
    changed = int((out.points != "").sum())
    assert changed == out.record["winsorised"]
    if changed:
        assert changed <= winmax + int((x == x.max()).sum() + (x == x.min()).sum())


@pytest.mark.parametrize("how", ["log_ct", "log_ct_orig", "log_ct_plus"])
def test_transforms_keep_order(how: str) -> None:
    x = np.array([0.5, 1, 2, 3, 4, 5, 6, 7, 8, 500.0])
    out = treat_column(x, Treatment(enabled=True, winmax=0, transform=how))  # type: ignore[arg-type]
    assert out.record["status"] == "transformed" and (np.diff(out.values) > 0).all()


def test_monte_carlo_can_draw_the_treatment_on_or_off() -> None:
    """Handbook step 7 over the treatment too (as COINr's sensitivity analysis toggles it): the
    intervals widen where the treatment matters; without the choice the draws are unchanged."""
    from jingxin.places.robust import Uncertainty, monte_carlo

    ind = pd.read_csv(DATA / "indicators.csv")
    agg = pd.read_csv(DATA / "aggregates.csv")
    spec = IndexSpec(
        "asem",
        "ASEM",
        tuple(
            Indicator(r.code, r.name, r.parent, int(r.direction), float(r.weight)) for r in ind.itertuples()
        ),
        tuple(
            Node(r.code, r.name, r.parent if isinstance(r.parent, str) else None, float(r.weight))
            for r in agg.itertuples()
        ),
        Method(treatment=COINR),
    )
    data = _csv("imputed")
    u = Uncertainty(draws=200, seed=3, normalisations=("minmax",), aggregations=("arithmetic",))
    fixed = monte_carlo(spec, data, u)
    varied = monte_carlo(spec, data, Uncertainty(**{**u.__dict__, "vary_treatment": True}))
    nominal = fixed.nominal_rank
    assert ((varied.rank_low <= nominal) & (nominal <= varied.rank_high)).mean() > 0.9
    assert not np.array_equal(fixed.ranks, varied.ranks)
    width = lambda r: float((r.rank_high - r.rank_low).mean())  # noqa: E731
    assert width(varied) >= width(fixed)
    off = spec.replace(method={"treatment": Treatment()})
    np.testing.assert_array_equal(
        monte_carlo(off, data, u).ranks,
        monte_carlo(off, data, Uncertainty(**{**u.__dict__, "vary_treatment": True})).ranks,
    )
