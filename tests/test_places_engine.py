"""The composite-index engine against COINr's published ASEM example (tests/data/coinr_asem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jingxin.places.engine import IndexError_, IndexSpec, Indicator, Method, Node, compute

DATA = Path(__file__).parent / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem() -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(DATA / f"{name}.csv", keep_default_na=True)
        for name in ("indicators", "aggregates", "raw", "imputed", "treated", "normalised", "aggregated")
    }


def _spec(asem: dict[str, pd.DataFrame], with_denominators: bool, **method: object) -> IndexSpec:
    ind, agg = asem["indicators"], asem["aggregates"]
    indicators = tuple(
        Indicator(
            code=r.code,
            name=r.name,
            parent=r.parent,
            direction=int(r.direction),
            weight=float(r.weight),
            denominator=(r.denominator if with_denominators and isinstance(r.denominator, str) else None),
        )
        for r in ind.itertuples()
    )
    nodes = tuple(
        Node(
            code=r.code,
            name=r.name,
            weight=float(r.weight),
            parent=(r.parent if isinstance(r.parent, str) else None),
        )
        for r in agg.itertuples()
    )
    return IndexSpec("asem", "ASEM Sustainable Connectivity", indicators, nodes, Method(**method))  # type: ignore[arg-type]


def test_denominate_and_group_mean_imputation_match_coinr(asem: dict[str, pd.DataFrame]) -> None:
    spec = _spec(asem, True, imputation="group_mean", impute_group="Group_EurAsia")
    raw = asem["raw"].set_index("UnitCode")
    result = compute(spec, raw)
    expected = asem["imputed"].set_index("UnitCode")[result.imputed.columns]
    assert result.imputed_mask.to_numpy().sum() == 65  # the gaps COINr filled after denominating
    np.testing.assert_allclose(result.imputed.to_numpy(), expected.to_numpy(), rtol=0, atol=5e-5)


def test_normalise_and_aggregate_match_coinr_to_four_decimals(asem: dict[str, pd.DataFrame]) -> None:
    spec = _spec(asem, False, normalisation="minmax", scale=(0.0, 100.0), aggregation="arithmetic")
    treated = asem["treated"].set_index("UnitCode")
    result = compute(spec, treated)
    norm = asem["normalised"].set_index("UnitCode")[result.normalised.columns]
    np.testing.assert_allclose(result.normalised.to_numpy(), norm.to_numpy(), rtol=0, atol=5e-5)
    agg = asem["aggregated"].set_index("UnitCode")[result.scores.columns]
    np.testing.assert_allclose(result.scores.to_numpy(), agg.to_numpy(), rtol=0, atol=5e-5)
    # The published table (COINr results vignette): CHE first with 68.38, BEL 63.54.
    assert result.ranks().idxmin() == "CHE"
    assert round(float(result.index["CHE"]), 2) == 68.38
    assert round(float(result.index["BEL"]), 2) == 63.54
    ranks = result.ranks()
    assert list(ranks.sort_values().index[:6]) == ["CHE", "NLD", "DNK", "NOR", "BEL", "SWE"]


def test_every_choice_is_recorded_and_variants_differ(asem: dict[str, pd.DataFrame]) -> None:
    spec = _spec(asem, False)
    treated = asem["treated"].set_index("UnitCode")
    geo = spec.replace(method={"aggregation": "geometric", "scale": (1.0, 100.0)})
    assert geo.fingerprint() != spec.fingerprint() and spec.method.aggregation == "arithmetic"
    a, g = compute(spec, treated), compute(geo, treated)
    # A geometric mean never exceeds the arithmetic one of the same (1–100) values.
    a1 = compute(spec.replace(method={"scale": (1.0, 100.0)}), treated)
    assert (g.index <= a1.index + 1e-9).all() and not np.allclose(g.index, a.index)
    z = compute(spec.replace(method={"normalisation": "zscore", "scale": (0.0, 1.0)}), treated)
    assert abs(float(z.normalised.mean().abs().max())) < 1e-9
    with pytest.raises(IndexError_, match="几何平均"):
        compute(spec.replace(method={"aggregation": "geometric"}), treated)
    with pytest.raises(IndexError_, match="target"):
        compute(spec.replace(method={"normalisation": "target"}), treated)
    with pytest.raises(IndexError_, match="Goods"):
        compute(spec, treated.drop(columns=["Goods"]))
