"""Re-extract the ASEM test data from COINr's ``data/ASEM_COIN.rda`` (run by hand, not by tests).

Needs the PyPI package ``rdata`` (not a project dependency):
``python extract.py path/to/ASEM_COIN.rda`` writes the CSV files beside this script.
"""

import sys
from pathlib import Path

import rdata

HERE = Path(__file__).parent


def main(rda: str) -> None:
    coin = rdata.read_rda(rda)["ASEM_COIN"]
    meta = coin["Input"]["IndMeta"]
    ind = meta[["IndCode", "IndName", "Direction", "IndWeight", "Denominator", "Agg1"]].rename(
        columns={
            "IndCode": "code",
            "IndName": "name",
            "Direction": "direction",
            "IndWeight": "weight",
            "Denominator": "denominator",
            "Agg1": "parent",
        }
    )
    ind.to_csv(HERE / "indicators.csv", index=False)
    structure = meta[["Agg1", "Agg2", "Agg3"]].drop_duplicates()
    parents = {}
    for _, row in structure.iterrows():
        parents[row["Agg1"]] = row["Agg2"]
        parents[row["Agg2"]] = row["Agg3"]
    agg = coin["Input"]["AggMeta"].rename(
        columns={"AgLevel": "level", "Code": "code", "Name": "name", "Weight": "weight"}
    )
    agg["parent"] = agg["code"].map(parents).fillna("")
    agg.to_csv(HERE / "aggregates.csv", index=False)
    dens = coin["Input"]["Denominators"]
    keep = ["UnitCode", "Group_EurAsia"]
    raw = coin["Data"]["Raw"]
    codes = list(ind["code"])
    raw[keep + codes].merge(
        dens[[c for c in dens.columns if c == "UnitCode" or c.startswith("Den_")]], on="UnitCode"
    ).to_csv(HERE / "raw.csv", index=False, float_format="%.17g")
    for name in ("Imputed", "Treated", "Normalised"):
        coin["Data"][name][["UnitCode"] + codes].to_csv(
            HERE / f"{name.lower()}.csv", index=False, float_format="%.17g"
        )
    aggs = list(agg["code"])
    coin["Data"]["Aggregated"][["UnitCode"] + aggs].to_csv(
        HERE / "aggregated.csv", index=False, float_format="%.17g"
    )


if __name__ == "__main__":
    main(sys.argv[1])
