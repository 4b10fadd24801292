"""小微企业园 ratings against the generated truth (manifest ``places``): Spearman of the total
with each park's latent quality (parks out of transition and recognised), and whether every
park the generator made fail the recognition conditions is graded D."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["park_truth_measures"]


def park_truth_measures(table: pd.DataFrame, truth: dict[str, Any], year: int) -> dict[str, Any]:
    latent = pd.Series({k: v["quality"] for k, v in truth["parks"].items()})
    bad = set(truth["unrecognised"].get(str(year), []))
    normal = table[(table["recognised"] == "是") & ~table["transition"]]
    return {
        "parks": int(len(table)),
        "spearman": float(normal["total"].corr(latent.reindex(normal.index), method="spearman")),
        "unrecognised": len(bad),
        "unrecognised_d": int(sum(table.loc[list(bad & set(table.index)), "grade"] == "D")),
    }
