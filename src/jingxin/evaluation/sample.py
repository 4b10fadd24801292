"""Fact tables built directly with NumPy, for tests, benchmarks and quick demos of the evaluation.

The province generator (`jingxin.synth`) writes departmental files that go through ingestion;
the evaluation's own tests and benchmarks need facts at a stated scale in seconds and without
that chain, so this module writes warehouse fact tables (with their `batches` rows) directly.
Levels are calibrated loosely on DOMAIN.md §3 (亩均税收 about 28 万元, 亩均增加值 about 136 万元).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from jingxin.core.credit_code import ALPHABET, WEIGHTS
from jingxin.core.schema import all_schemas
from jingxin.core.warehouse import Warehouse

_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def credit_codes(counties: Sequence[str] | np.ndarray, start: int = 0) -> np.ndarray:
    """Valid, distinct credit codes (91 + county + sequential organisation code), vectorised."""
    county = np.asarray(counties, dtype="U6")
    n = len(county)
    seq = np.arange(start, start + n)
    if seq.max(initial=0) >= 10**8:
        raise ValueError("at most 10^8 codes")
    body = np.stack([(seq // 10 ** (7 - i)) % 10 for i in range(8)], axis=1)
    org = 11 - (body * _ORG_WEIGHTS).sum(axis=1) % 11
    org_char = np.where(org == 10, "X", np.where(org == 11, "0", org.astype("U2")))
    org_value = np.where(org == 10, ALPHABET.index("X"), np.where(org == 11, 0, org))
    county_digits = county.view(np.uint32).reshape(n, 6).astype(int) - ord("0")
    values = np.column_stack([np.full(n, 9), np.full(n, 1), county_digits, body, org_value])
    check = (31 - (values * np.array(WEIGHTS)).sum(axis=1) % 31) % 31
    check_char = np.array(list(ALPHABET))[check]
    bodies = np.char.zfill(seq.astype("U8"), 8)
    return np.char.add(np.char.add(np.char.add(np.char.add("91", county), bodies), org_char), check_char)


def _months(years: np.ndarray) -> np.ndarray:
    """The 12 first-of-month dates of each year, in order (12 per input year)."""
    index = (np.repeat(np.asarray(years, dtype=np.int64), 12) - 1970) * 12 + np.tile(
        np.arange(12), len(years)
    )
    return index.astype("datetime64[M]").astype("datetime64[D]")


def load_facts(
    wh: Warehouse, tables: Mapping[str, pa.Table | Mapping[str, Any]], first_batch: int = 1
) -> dict[str, int]:
    """Insert fact tables, one new batch each (batch rows included); returns table → batch id.

    Columns missing from a table are filled with NULL; `batch_id`/`source_row` are added.
    """
    schemas = all_schemas()
    wh.ensure_schema()
    ids: dict[str, int] = {}
    batch_rows = []
    with wh.transaction():
        for offset, (name, data) in enumerate(tables.items()):
            table = data if isinstance(data, pa.Table) else pa.table(dict(data))
            batch = first_batch + offset
            target = schemas[name].to_pyarrow()
            n = table.num_rows
            cols = {}
            for f in target:
                if f.name == "batch_id":
                    cols[f.name] = pa.array(np.full(n, batch, dtype=np.int64))
                elif f.name == "source_row":
                    cols[f.name] = pa.array(np.arange(2, n + 2, dtype=np.int64))
                elif f.name in table.column_names:
                    cols[f.name] = table[f.name].cast(f.type)
                else:
                    cols[f.name] = pa.nulls(n, f.type)
            wh.insert_arrow(name, pa.table(cols, schema=target))
            ids[name] = batch
            batch_rows.append(
                {
                    "batch_id": batch,
                    "source": name,
                    "period": "sample",
                    "file_name": f"{name}.sample",
                    "content_hash": f"sample-{batch}",
                    "row_count": n,
                    "accepted": n,
                    "rejected": 0,
                    "loaded_by": "sample",
                    "loaded_at": dt.datetime(2024, 1, 1),
                    "supersedes": None,
                    "superseded_by": None,
                }
            )
        wh.insert_arrow("batches", pa.Table.from_pylist(batch_rows, schema=schemas["batches"].to_pyarrow()))
    return ids


def province(
    n: int,
    years: Sequence[int] = (2021,),
    seed: int = 0,
    counties: Sequence[str] | None = None,
    shared_parcels: float = 0.04,
    above_share: float = 0.45,
) -> dict[str, pa.Table]:
    """A synthetic province of `n` enterprises with facts for `years` (tables keyed by name).

    Realistic enough to exercise every rule: 规上/规下, manufacturing and services, shared
    parcels, missing discharge and energy data, not-yet-producing young firms, closed firms.
    """
    from jingxin.reference import counties as ref_counties
    from jingxin.reference import industries

    rng = np.random.default_rng(seed)
    codes_c = np.array([i.code for i in industries() if i.level == "class" and i.section == "C"])
    services = np.array(
        [i.code + "10" for i in industries() if i.level == "division" and i.section in "FGHIJKLMNOPQRS"]
    )
    county_list = np.array(sorted(counties or [c.code for c in ref_counties()]))
    county = rng.choice(county_list, n)
    share = rng.random(n) < shared_parcels
    share[0] = False
    county[share] = county[np.flatnonzero(share) - 1]
    code = credit_codes(county)
    manufacturing = rng.random(n) < 0.85
    industry = np.where(manufacturing, rng.choice(codes_c, n), rng.choice(services, n))
    industry[share] = industry[np.flatnonzero(share) - 1]
    status = np.where(rng.random(n) < 0.02, "注销", "存续")
    founded = np.datetime64("1990-01-01") + rng.integers(0, 365 * 32, n).astype("timedelta64[D]")
    parcel = np.char.add("P", np.arange(n).astype(str))
    parcel[share] = parcel[np.flatnonzero(share) - 1]
    area = np.round(rng.lognormal(2.9, 0.9, n) + 0.5, 2)
    area[share] = area[np.flatnonzero(share) - 1]
    above = rng.random(n) < above_share
    quality = rng.lognormal(0.0, 0.55, n)
    idle = (founded >= np.datetime64(f"{min(years) - 1}-01-01")) & (rng.random(n) < 0.5)

    tables: dict[str, Any] = {
        "registry": {
            "credit_code": code,
            "name": np.char.add(np.char.add("浙江样本", np.arange(n).astype(str)), "有限公司"),
            "county_code": county,
            "industry_code": industry,
            "founded_on": founded.astype("datetime64[D]"),
            "status": status,
        },
        "land": {
            "credit_code": code,
            "parcel_id": parcel,
            "area_mu": area,
            "land_use": np.full(n, "工业用地"),
            "acquisition": np.full(n, "出让"),
        },
    }
    yearly: dict[str, list[pa.Table]] = {
        "tax": [],
        "statistics": [],
        "energy": [],
        "discharge": [],
        "power_monthly": [],
    }
    for k, year in enumerate(sorted(years)):
        drift = quality * rng.lognormal(0.0, 0.15, n) * (1.04**k)
        size = np.where(above, 1.0, 0.35)
        va = np.round(area * 130 * drift * size, 2)
        tax = np.round(area * 26 * drift * size * rng.lognormal(0, 0.25, n), 2)
        revenue = np.round(va * rng.uniform(3, 5, n), 2)
        va[idle], tax[idle], revenue[idle] = 0.0, 0.0, 0.0
        employees = np.maximum(1, np.round(va / 17 / rng.lognormal(0, 0.3, n))).astype(np.int64)
        y32 = np.full(n, year, dtype=np.int32)
        yearly["tax"].append(pa.table({"credit_code": code, "year": y32, "tax_paid": tax}))
        yearly["statistics"].append(
            pa.table(
                {
                    "credit_code": code,
                    "year": y32,
                    "above_scale": above,
                    "value_added": va,
                    "revenue": revenue,
                    "rd_expense": np.round(revenue * 0.03 * rng.lognormal(0, 0.6, n), 2),
                    "employees": employees,
                    "college_staff": np.round(employees * rng.uniform(0.05, 0.5, n)).astype(np.int64),
                }
            )
        )
        has_energy = rng.random(n) > 0.03
        energy = np.round(va / 2.6 / rng.lognormal(0, 0.4, n) + 1, 2)
        yearly["energy"].append(
            pa.table(
                {"credit_code": code[has_energy], "year": y32[has_energy], "energy_tce": energy[has_energy]}
            )
        )
        has_discharge = rng.random(n) > 0.12
        discharge = np.round(va / 4800 / rng.lognormal(0, 0.5, n) + 0.001, 4)
        yearly["discharge"].append(
            pa.table(
                {
                    "credit_code": code[has_discharge],
                    "year": y32[has_discharge],
                    "discharge_t": discharge[has_discharge],
                }
            )
        )
        kwh_year = energy * 8000 * rng.lognormal(0, 0.2, n)
        has_power = rng.random(n) > 0.02
        pcode = np.repeat(code[has_power], 12)
        months = _months(np.full(int(has_power.sum()), year))
        kwh = np.round(
            np.repeat(kwh_year[has_power] / 12, 12) * rng.uniform(0.8, 1.2, 12 * has_power.sum()), 1
        )
        yearly["power_monthly"].append(pa.table({"credit_code": pcode, "month": months, "kwh": kwh}))
    out = {name: pa.table(cols) if isinstance(cols, dict) else cols for name, cols in tables.items()}
    for name, parts in yearly.items():
        out[name] = pa.concat_tables(parts)
    return out


def facts_from_columns(columns: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, pa.Table]:
    """Fact tables from one row per enterprise and year (for tests and worked examples).

    Required: credit_code, county_code, industry_code, area_mu, year. Optional: name,
    parcel_id (default: a parcel of its own), acquisition (取得方式, default 出让), founded_on,
    status, above_scale (default True)
    and the fact columns tax_paid, value_added, revenue, rd_expense, employees, college_staff,
    energy_tce, discharge_t and kwh (the year's electricity, spread evenly over 12 months).
    NaN or None means "no record": the row is left out of that source's table.
    """
    import pandas as pd

    df = pd.DataFrame({k: list(v) if not isinstance(v, np.ndarray) else v for k, v in columns.items()})
    df["year"] = df["year"].astype(np.int32)
    defaults: dict[str, Any] = {
        "name": "企业" + df["credit_code"].str[-6:],
        "parcel_id": "P-" + df["credit_code"],
        "founded_on": dt.date(2000, 1, 1),
        "status": "存续",
        "above_scale": True,
    }
    for col, value in defaults.items():
        if col not in df:
            df[col] = value
    first = df.drop_duplicates("credit_code")
    out: dict[str, pa.Table] = {
        "registry": pa.Table.from_pandas(
            first[["credit_code", "name", "county_code", "industry_code", "founded_on", "status"]],
            preserve_index=False,
        ),
        "land": pa.Table.from_pandas(
            first[["credit_code", "parcel_id", "area_mu"]].assign(
                land_use="工业用地",
                acquisition=first.get("acquisition", "出让"),
            ),
            preserve_index=False,
        ),
    }
    sources = {
        "tax": ["tax_paid"],
        "statistics": ["above_scale", "value_added", "revenue", "rd_expense", "employees", "college_staff"],
        "energy": ["energy_tce"],
        "discharge": ["discharge_t"],
    }
    for name, cols in sources.items():
        present = [c for c in cols if c in df]
        if not present:
            continue
        main = [c for c in present if c != "above_scale"]
        part = df[df[main].notna().any(axis=1)] if main else df
        out[name] = pa.Table.from_pandas(part[["credit_code", "year", *present]], preserve_index=False)
    if "kwh" in df:
        part = df[df["kwh"].notna()]
        months = _months(part["year"].to_numpy())
        out["power_monthly"] = pa.table(
            {
                "credit_code": np.repeat(part["credit_code"].to_numpy(), 12),
                "month": months,
                "kwh": np.repeat(part["kwh"].to_numpy(dtype=float) / 12, 12),
            }
        )
    return out


def load_parks(
    wh: Warehouse,
    parks: Mapping[str, Any],
    members: Mapping[str, Any],
    year: int,
    first_batch: int | None = None,
) -> dict[str, int]:
    """Park master data (source `parks`) and membership (source `park-members`) for `year`,
    one batch each, as `jingxin ingest` would store them (tables created when missing).

    `parks`: park_id, park_name, kind (经开区/高新区/特色小镇/小微企业园), division_code (county),
    star (0–5), area_mu; `members`: credit_code, park_id.
    """
    from jingxin.evaluation.population import PARK_SCHEMAS

    schemas = all_schemas()
    wh.ensure_schema()
    wh.ensure_schema(PARK_SCHEMAS)
    if first_batch is None:
        current = wh.execute(wh.table("batches").batch_id.max())
        first_batch = 1 + (int(current) if current is not None and current == current else 0)
    ids: dict[str, int] = {}
    rows = []
    with wh.transaction():
        for offset, (table, source, data) in enumerate(
            (("parks", "parks", parks), ("park_members", "park-members", members))
        ):
            batch = first_batch + offset
            given = data if isinstance(data, pa.Table) else pa.table(dict(data))
            n = given.num_rows
            cols = {}
            for f in PARK_SCHEMAS[table].to_pyarrow():
                if f.name == "batch_id":
                    cols[f.name] = pa.array(np.full(n, batch, dtype=np.int64))
                elif f.name == "source_row":
                    cols[f.name] = pa.array(np.arange(2, n + 2, dtype=np.int64))
                elif f.name == "year":
                    cols[f.name] = pa.array(np.full(n, year, dtype=np.int32))
                else:
                    cols[f.name] = (
                        given[f.name].cast(f.type) if f.name in given.column_names else pa.nulls(n, f.type)
                    )
            existing = wh.table(table).schema().to_pyarrow()
            wh.insert_arrow(
                table,
                pa.table(
                    {
                        f.name: cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
                        for f in existing
                    },
                    schema=existing,
                ),
            )
            ids[table] = batch
            rows.append(
                {
                    "batch_id": batch,
                    "source": source,
                    "period": str(year),
                    "file_name": f"{source}_{year}.sample",
                    "content_hash": f"sample-{source}-{batch}",
                    "row_count": n,
                    "accepted": n,
                    "rejected": 0,
                    "loaded_by": "sample",
                    "loaded_at": dt.datetime(2024, 1, 1),
                    "supersedes": None,
                    "superseded_by": None,
                }
            )
        wh.insert_arrow("batches", pa.Table.from_pylist(rows, schema=schemas["batches"].to_pyarrow()))
    return ids
