"""Orchestration of the province generator: population → accounts → one file per source and
period, each with its unit variant, defects and writer → ``manifest.json``.

Random streams are named per purpose and per file (:mod:`.streams`), so the same seed gives the
same files (CSV byte-identical; xlsx too, its timestamp being fixed) and switching
``annual_only`` on or off leaves the annual files unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from jingxin.core import contracts
from jingxin.synth import events as ev
from jingxin.synth import official as off
from jingxin.synth import project_files
from jingxin.synth import projects as proj
from jingxin.synth.accounts import Accounts, build_accounts
from jingxin.synth.calibration import FULL_SCALE_ABOVE_INDUSTRY, anchor_year, targets
from jingxin.synth.chain_trade import ChainTrade, build_chain_trade, chain_invoice_frame
from jingxin.synth.chain_trade import manifest_entry as chains_entry
from jingxin.synth.customs import customs_frame
from jingxin.synth.defects import Plan as DefectPlan
from jingxin.synth.defects import plan_defects
from jingxin.synth.distress import Distress, build_distress
from jingxin.synth.distress import manifest_entry as distress_entry
from jingxin.synth.frame import Frame
from jingxin.synth.habits import HABITS, XLSX_MAX_ROWS, Habit
from jingxin.synth.industry import DIVISIONS
from jingxin.synth.invoices import Links, build_links, invoice_frame
from jingxin.synth.manifest import DefectEntry, FileEntry, Manifest
from jingxin.synth.parks import Parks, build_parks
from jingxin.synth.population import Population, draw_population
from jingxin.synth.risk_sources import BUILDERS as RISK_BUILDERS
from jingxin.synth.risk_sources import RISK_SOURCES
from jingxin.synth.social import social_frame, social_truth
from jingxin.synth.sources import (
    ANNUAL_SOURCES,
    annual_frame,
    daily_frame,
    land_frame,
    monthly_frame,
    park_members_frame,
    parks_frame,
    power_frame,
    registry_frame,
)
from jingxin.synth.streams import Streams
from jingxin.synth.support import support_frame, support_truth
from jingxin.synth.writers import write_csv, write_xlsx

MAX_DEFECT_SHARE = 0.3
Job = tuple[str, int | None]  # (source id, year or None)


def parse_years(years: str | int | Iterable[int]) -> tuple[int, ...]:
    """Accept "2019-2021", "2021", "2019,2021", 2021 or an iterable of years; sorted, unique."""
    if isinstance(years, int):
        values = [years]
    elif isinstance(years, str):
        text = years.strip()
        if m := re.fullmatch(r"(\d{4})\s*[-–~至]\s*(\d{4})", text):
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ValueError(f"years range is reversed: {years!r}")
            values = list(range(a, b + 1))
        elif re.fullmatch(r"\d{4}(\s*,\s*\d{4})*", text):
            values = [int(y) for y in text.split(",")]
        else:
            raise ValueError(f"years must look like 2019-2021 or 2021, got {years!r}")
    else:
        values = [int(y) for y in years]
    if not values:
        raise ValueError("no years given")
    out = tuple(sorted(set(values)))
    if out[0] < 1990 or out[-1] > 2100:
        raise ValueError(f"years out of range: {out}")
    return out


def plan_jobs(
    years: tuple[int, ...], annual_only: bool = False, risk: bool = False, projects: bool = False
) -> list[Job]:
    """The files to write, in order: snapshots, the annual files per year, then (unless
    `annual_only`) monthly power, 快报 and invoices per year and the daily power window."""
    jobs: list[Job] = [("registry", None), ("land", None)]
    jobs += [(source, year) for year in years for source in ANNUAL_SOURCES]
    if not annual_only:
        jobs += [(source, year) for year in years for source in ("power", "monthly", "invoices")]
        jobs.append(("power-daily", None))
        jobs += [("customs", year) for year in years]  # after the others: earlier files keep their bytes
        # Official county figures (统计局发布): from the second year, first releases then the
        # republication with revisions (:mod:`.official`).
        jobs += [(source, year) for year in years[1:] for source in ("official", "official-revised")]
    jobs += [("support", year) for year in years]  # last, so the order of the others is unchanged
    if not annual_only:  # monthly social insurance contributions (减负降本), after support
        jobs += [("social-insurance", year) for year in years]
    if risk:
        # Enterprise risk sources last: their own streams leave every file above unchanged.
        jobs += [(source, year) for year in years for source in RISK_SOURCES]
    if projects:  # projects and cultivation sources after all others, from their own streams
        jobs += [(source, year) for year in years for source in proj.PROJECT_SOURCES]
    return jobs


def _file_name(source: str, year: int | None, fmt: str, suffix: str = "") -> str:
    habit = HABITS[source]
    stem = f"{habit.stem}_{year}" if habit.per_year and year is not None else habit.stem
    return f"{stem}{suffix}.{fmt}"


def _choose_units(frame: Frame, rng: np.random.Generator) -> bool:
    """Maybe switch the whole file to another, convertible unit (e.g. 元 for 万元)."""
    habit = HABITS[frame.source]
    if not habit.variants or rng.random() >= habit.variant_share:
        return False
    changed = False
    for col in frame.columns:
        options = habit.variants.get(col.spec.unit or "")
        if options:
            col.unit = options[int(rng.integers(0, len(options)))]
            changed = True
    return changed


def emit(
    frame: Frame,
    out_dir: Path,
    year: int | None,
    streams: Streams,
    defects: float,
    xlsx_max_rows: int,
    as_of: str,
    suffix: str = "",
    plans: list[DefectPlan] | None = None,
) -> FileEntry:
    """Write one frame as its department would and describe it for the manifest. With
    `plans`, the defect plan is appended to it (its `touched` rows are the frame's rows that
    carry a defect, for truths kept by frame row rather than by file row)."""
    habit = HABITS[frame.source]
    key = (frame.source, frame.period)
    fmt, switched = habit.format, None
    if fmt == "xlsx" and frame.rows > xlsx_max_rows:
        fmt, switched = "csv", "xlsx"
    variant = _choose_units(frame, streams("units", *key))
    thousands = habit.thousands and fmt == "csv"
    plan = plan_defects(
        frame, streams("defects", *key), defects, truncatable=fmt == "csv", thousands=thousands
    )
    if plans is not None:
        plans.append(plan)
    name = _file_name(frame.source, year, fmt, suffix)
    path = out_dir / name
    if fmt == "csv":
        encoding = habit.encoding if switched is None else "utf-8-sig"
        use = habit if switched is None else Habit(stem=habit.stem, format="csv")
        written = write_csv(path, frame, plan, use, streams("render", *key), encoding=encoding)
        line_end = "\r\n" if use.crlf else "\n"
    else:
        encoding, line_end = None, None
        title = habit.title.format(year=year, as_of=as_of) if habit.title else None
        footer = habit.footer.format(rows=len(plan.order)) if habit.footer else None
        written = write_xlsx(path, frame, plan, habit, title, footer)

    first = written.first_data_row
    entries = [
        DefectEntry(
            row=first + d.position,
            column=d.column,
            kind=d.kind,
            value=d.value,
            duplicate_of=None if d.source_position is None else first + d.source_position,
        )
        for d in plan.defects
    ]
    if written.truncated_text is not None:
        entries.append(
            DefectEntry(
                row=first + written.data_rows - 1,
                column=None,
                kind="truncated_row",
                value=written.truncated_text,
            )
        )
    return FileEntry(
        source=frame.source,
        department=contracts.source(frame.source).department,
        period=frame.period,
        file=name,
        format=fmt,
        encoding=encoding,
        rows=written.data_rows,
        headers=[c.title for c in frame.columns],
        units={c.header: c.file_unit for c in frame.columns},
        unit_variant=variant,
        title_rows=written.title_rows,
        header_rows=written.header_rows,
        first_data_row=first,
        footer_rows=written.footer_rows,
        line_terminator=line_end,
        switched_from=switched,
        bytes=written.bytes,
        defects=entries,
    )


def _build(
    job: Job,
    pop: Population,
    acc: Accounts,
    parks: Parks,
    links: Links | ChainTrade | None,
    streams: Streams,
    daily_days: int,
    distress: Distress | None = None,
    officials: dict[int, off.OfficialYear] | None = None,
    projects: proj.Projects | None = None,
) -> Frame:
    source, year = job
    if source in proj.PROJECT_SOURCES:
        assert year is not None and projects is not None
        return project_files.build_frame(source, year, pop, projects)
    if source in RISK_BUILDERS:
        assert year is not None and distress is not None
        return RISK_BUILDERS[source](year, pop, acc, distress, streams)
    if source == "registry":
        return registry_frame(pop)
    if source == "land":
        return land_frame(pop)
    if source == "parks":
        assert year is not None
        return parks_frame(year, parks, acc.scale)
    if source == "park-members":
        assert year is not None
        return park_members_frame(year, pop, acc, parks)
    if source in ANNUAL_SOURCES:
        assert year is not None
        return annual_frame(source, year, pop, acc)
    if source == "power":
        assert year is not None
        return power_frame(year, pop, acc, streams)
    if source == "monthly":
        assert year is not None
        return monthly_frame(year, pop, acc, streams)
    if source == "invoices":
        assert year is not None and links is not None
        if isinstance(links, ChainTrade):  # --chains: chain-structured flows (synth.chain_trade)
            return chain_invoice_frame(year, pop, acc, links, streams)
        return invoice_frame(year, pop, acc, links, streams)
    if source == "power-daily":
        return daily_frame(pop, acc, daily_days, streams)
    if source == "support":
        assert year is not None
        return support_frame(year, pop, acc, streams)
    if source == "social-insurance":
        assert year is not None
        return social_frame(year, pop, acc, streams)
    if source == "customs":
        assert year is not None
        return customs_frame(year, pop, acc, streams)
    if source in ("official", "official-revised"):
        assert year is not None and officials is not None and year in officials
        return off.official_frame(year, officials[year], revised_file=source == "official-revised")
    raise ValueError(f"unknown source {source}")


def _totals(pop: Population, acc: Accounts, parks: Parks) -> dict[str, object]:
    land = pop.land_area()
    parcels = pop.parcels
    svc = pop.services
    return {
        "enterprises": pop.n,
        "above_scale": int(pop.above_scale.sum()),
        "below_scale": int((~pop.above_scale).sum()),
        "industrial": int((~svc).sum()),
        "industrial_above_scale": int(pop.industrial_above.sum()),
        "services_above_scale": int(svc.sum()),
        "services_with_land": int((svc & (land > 0)).sum()),
        "by_section": {
            str(s): int(n) for s, n in zip(*np.unique(_sections_of(pop), return_counts=True), strict=True)
        },
        "parks": {
            str(y): {
                str(kind): int((parks.exists(y) & (parks.kind == kind)).sum())
                for kind in np.unique(parks.kind)
            }
            for y in pop.years
        },
        "park_memberships": int(parks.member_enterprise.shape[0]),
        "tenants_without_land": int((land == 0).sum()),
        "land_rows": len(parcels),
        "parcels": int(np.unique(parcels.parcel_id).shape[0]),
        "shared_parcels": int(np.unique(parcels.parcel_id[parcels.shared]).shape[0]),
        "per_year": {
            str(y): {
                "active": int(acc.active[k].sum()),
                "above_scale_active": int((acc.active[k] & pop.above_scale).sum()),
            }
            for k, y in enumerate(pop.years)
        },
    }


def _sections_of(pop: Population) -> np.ndarray:
    table = np.full(100, "C", dtype="<U1")
    for d in DIVISIONS:
        table[d.code] = d.section
    return table[pop.division]


def _shared_parcels(pop: Population) -> list[dict[str, object]]:
    """Parcels used by several enterprises (共用宗地), with their users and total area."""
    p = pop.parcels
    rows = np.flatnonzero(p.shared)
    rows = rows[np.argsort(p.parcel_id[rows], kind="stable")]
    codes: dict[str, list[str]] = {}
    areas: dict[str, float] = {}
    for r in rows.tolist():  # a few percent of landholders
        parcel = str(p.parcel_id[r])
        codes.setdefault(parcel, []).append(str(pop.credit_code[p.enterprise[r]]))
        areas[parcel] = areas.get(parcel, 0.0) + float(p.area_mu[r])
    return [{"parcel_id": k, "credit_codes": v, "area_mu": round(areas[k], 2)} for k, v in codes.items()]


def generate_province(
    out_dir: str | Path,
    enterprises: int,
    years: str | int | Iterable[int],
    seed: int,
    defects: float = 0.02,
    *,
    daily_days: int = 90,
    annual_only: bool = False,
    xlsx_max_rows: int = XLSX_MAX_ROWS,
    stable_years: bool = False,
    risk: bool = False,
    projects: bool = False,
    chains: bool = False,
    places: bool = False,
    progress: Callable[[str, FileEntry | None], None] | None = None,
) -> Manifest:
    """Generate a consistent synthetic province (合成省份数据) into `out_dir`; return the manifest.

    `enterprises` enterprises (80% industrial, 20% 规上 services) over `years` (e.g.
    "2019-2021"), drawn from `seed`; `defects` is the share of data rows per file that carry
    one deliberate defect (0 for clean files).
    `daily_days` is the length of the daily power window ending with the last year's Spring
    Festival recovery. `annual_only` skips the monthly, daily and invoice files (for big runs),
    and the monthly social insurance contributions (社保缴费, :mod:`.social`, truth under
    ``totals.social_insurance``), which otherwise come after the support files.
    Excel sources above `xlsx_max_rows` rows are written as CSV (recorded in the manifest).
    `stable_years` makes a province with no real change between years: no growth, no 2020 dip,
    no events, every year calibrated to the same targets (manifest: ``parameters.growth`` 0).
    `risk` adds the enterprise risk sources (参保人数, 纳税及欠税, 水电费, 信贷, 诉讼执行, 担保关系,
    one file per source and year) with their hidden distress, truth under ``distress``
    (:mod:`.distress`); every other file stays byte-identical with or without it.
    `projects` adds the projects and cultivation sources (项目库, 项目月度进展, 培育库企业指标) with
    their truth under ``projects`` (:mod:`.projects`); every other file stays byte-identical.
    `chains` draws the invoice files from the flagship chains' segments with known local shares,
    weak links, single-supplier dependencies and held-back switches (:mod:`.chain_trade`), truth
    under ``chains``; every other file stays byte-identical with or without it.
    `places` adds the yearly county figures and 小微企业园 reports (:mod:`.places`), truth under
    ``places``; every other file stays byte-identical with or without it.
    `progress(step, entry)` is called after each step (entry is None for non-file steps).
    """
    year_tuple = parse_years(years)
    if not 0.0 <= defects <= MAX_DEFECT_SHARE:
        raise ValueError(f"defects must be between 0 and {MAX_DEFECT_SHARE}, got {defects}")
    if daily_days < 1:
        raise ValueError("daily_days must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = Streams(seed)
    notify = progress or (lambda step, entry: None)

    pop = draw_population(int(enterprises), year_tuple, streams)
    notify("population", None)
    acc = build_accounts(pop, streams, stable=stable_years)
    notify("accounts", None)
    parks = build_parks(pop, pop.land_area(), acc.scale, streams)
    jobs = plan_jobs(year_tuple, annual_only, risk, projects)
    if chains and annual_only:
        raise ValueError("chains needs the invoice files: do not combine it with annual_only")
    links: Links | ChainTrade | None = None
    if not annual_only:
        links = build_chain_trade(pop, acc, streams) if chains else build_links(pop, streams)
    distress = build_distress(pop, acc, streams) if risk else None
    pipeline = proj.build_projects(pop, acc, streams) if projects else None

    manifest = Manifest(
        parameters={
            "enterprises": int(enterprises),
            "years": list(year_tuple),
            "seed": int(seed),
            "defects": defects,
            "daily_days": daily_days,
            "annual_only": annual_only,
            "xlsx_max_rows": xlsx_max_rows,
            "stable_years": stable_years,
            **({"risk": True} if risk else {}),
            **({"projects": True} if projects else {}),
            **({"chains": True} if chains else {}),
            "growth": 0.0 if stable_years else "calibrated (see calibration.years)",
        },
        totals={
            **_totals(pop, acc, parks),
            "support": support_truth(year_tuple, pop, acc, streams),
            **({} if annual_only else {"social_insurance": social_truth(year_tuple, pop, acc, streams)}),
        },
        calibration={
            "scope": "规上 industrial enterprises (sections B, C, D) operating in the year; per-mu ratios "
            "over those with land; sum over sum; totals in 亿元 at the generated scale; achieved = on "
            "the generated values before defects",
            "scale": round(acc.scale, 9),
            "scale_rule": f"scale = 规上 industrial enterprises / {FULL_SCALE_ABOVE_INDUSTRY:,} "
            "(the province); absolute targets are the provincial figure × scale",
            "anchor_year": anchor_year(year_tuple),
            "land_factor": round(acc.land_factor, 6),
            "years": {
                str(y): {
                    "targets": targets(y, anchor_year(year_tuple) if stable_years else None).as_dict(),
                    "achieved": acc.achieved[y],
                }
                for y in year_tuple
            },
        },
        shared_parcels=_shared_parcels(pop),
        events=[
            ev.manifest_entry(
                e, pop.credit_code, pop.county_code, int(acc.active[acc.index(e.spec.start.year)].sum())
            )
            for e in acc.events
        ],
    )
    if distress is not None:
        manifest.distress = distress_entry(distress, pop)
    if pipeline is not None:
        manifest.projects = proj.manifest_entry(pipeline, pop)
    officials: dict[int, off.OfficialYear] = {}
    if not annual_only:  # from the second year (growth needs last year)
        drawn = {y: off.official_year(y, pop, acc, streams) for y in year_tuple[1:]}
        officials = {y: f for y, f in drawn.items() if f is not None}
        manifest.official = [off.manifest_entry(y, f) for y, f in officials.items()]
    as_of = f"{year_tuple[-1]}年12月31日"
    for job in jobs:
        frame = _build(job, pop, acc, parks, links, streams, daily_days, distress, officials, pipeline)
        suffix = "_revised" if job[0] == "official-revised" else ""
        entry = emit(frame, out, job[1], streams, defects, xlsx_max_rows, as_of, suffix)
        manifest.files.append(entry)
        del frame
        notify(entry.file, entry)
    if isinstance(links, ChainTrade):
        manifest.chains = chains_entry(links)
    if places:
        from jingxin.synth.places import write_places

        place_files, manifest.places = write_places(out, year_tuple, int(seed))
        for entry in place_files:
            manifest.files.append(entry)
            notify(entry.file, entry)
    manifest.write(out)
    notify("manifest.json", None)
    return manifest
