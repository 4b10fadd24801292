"""`jingxin medical …`: reserves generated with their truth, warnings, days of supply, a
dispatch solve, the truth check; `jingxin fiveg progress`. Every command takes `--json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
ScopeOpt = Annotated[str, typer.Option("--scope", help="区划代码（默认全省 330000）")]
OnOpt = Annotated[str, typer.Option("--on", help="日期 YYYY-MM-DD")]
ScenarioOpt = Annotated[str, typer.Option("--scenario", help="需求情景：normal、surge")]


def _session() -> Any:
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings

    url = get_settings().platform_database_url
    upgrade(url)
    return Database(url)


@contextmanager
def _facts() -> Iterator[Any]:
    """The live rows of the source medical-supply in the configured warehouse; a busy DuckDB
    file (a running server owns it) is a message, not a traceback."""
    from jingxin.core.settings import get_settings
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        wh = open_warehouse(get_settings().warehouse_url)
    except WarehouseError as exc:
        raise typer.BadParameter(f"无法打开数据仓库：{exc}") from None
    try:
        yield wh.current("medical_supply")
    finally:
        wh.close()


def _scope(code: str) -> Any:
    from jingxin import reference
    from jingxin.core.scope import Scope

    try:
        reference.division(code)
    except (KeyError, ValueError):
        raise typer.BadParameter(f"区划代码 {code} 不存在") from None
    return Scope(division=code)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 YYYY-MM-DD：{text}") from None


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def generate_command(
    manifest: Annotated[Path, typer.Option("--manifest", help="写出生成真值的 JSON 文件")],
    seed: Annotated[int, typer.Option("--seed")] = 1,
    on: OnOpt = "2021-06-01",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="重点企业日报文件的目录（默认为真值文件旁的 medical-supply/）"),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="日报覆盖的天数（截至 --on）")] = 7,
    defects: Annotated[float, typer.Option("--defects", help="日报中故意出错的行的比例")] = 0.0,
) -> None:
    """Generate the province's reserves, demand list and suppliers into the platform database,
    and the key suppliers' daily reports as the 经信 file (ingest it as medical-supply)."""
    from jingxin.synth import medical as synth

    folder = out or manifest.parent / "medical-supply"
    database = _session()
    with database.session() as db:
        if synth.reserves_count(db):
            raise typer.BadParameter("平台数据库中已有储备数据；请用新的数据库生成")
        truth = synth.load(
            db, seed=seed, as_of=_day(on), out_dir=folder, supply_days=days, supply_defects=defects
        )
    manifest.write_text(json.dumps(truth.manifest(), ensure_ascii=False, indent=1), encoding="utf-8")
    assert truth.supply is not None and truth.supply.path is not None
    typer.echo(f"已生成；真值写入 {manifest}")
    typer.echo(
        f"重点企业日报：{truth.supply.path}；请归集：jingxin ingest medical-supply {truth.supply.path}"
    )


def warnings_command(
    on: OnOpt, scope: ScopeOpt = "330000", scenario: ScenarioOpt = "normal", as_json: JsonOpt = False
) -> None:
    """Expiry and below-norm warnings inside a region."""
    from jingxin.medical import supply

    with _session().session() as db:
        rows = supply.warnings(db, _scope(scope), _day(on), scenario)
    if as_json:
        _dump([asdict(w) for w in rows])
        return
    for w in rows:
        typer.echo(f"[{w.kind}] {w.text}")
    typer.echo(f"共 {len(rows)} 条")


def supply_command(
    region: str, on: OnOpt, scenario: ScenarioOpt = "normal", as_json: JsonOpt = False
) -> None:
    """Days of supply of every item in one region."""
    from jingxin.core.scope import EVERYTHING
    from jingxin.medical import config, supply

    with _session().session() as db:
        rows = supply.supply(db, EVERYTHING, region, _day(on), scenario)
    if as_json:
        _dump([{**asdict(s), "below_norm": s.below_norm} for s in rows])
        return
    for s in rows:
        days = f"{s.physical_days:.1f}" if s.physical_days is not None else "—"
        typer.echo(
            f"{config.item(s.item_id).name}: 实物 {s.physical}，"
            f"协议 {s.agreement}，可保障 {days} 天 {'；'.join(s.below_norm)}"
        )


def dispatch_command(
    on: OnOpt, scope: ScopeOpt = "330000", scenario: ScenarioOpt = "surge", as_json: JsonOpt = False
) -> None:
    """Solve a dispatch plan (not saved: the planner page saves and routes it for approval)."""
    from jingxin.medical import config, dispatch, plans

    with _session().session() as db, _facts() as facts:
        inst = plans.build_instance(db, _scope(scope), _day(on), scenario, facts)
    result = dispatch.solve(inst)
    names, items = plans.names(), {k: v.name for k, v in config.catalogue().items.items()}
    lines = [dispatch.explain(ln, names, items) for ln in result.lines]
    if as_json:
        _dump(
            {
                "status": result.status,
                "gap": result.gap,
                "seconds": result.seconds,
                "shortfall": result.shortfall,
                "cost": result.cost,
                "lines": lines,
            }
        )
        return
    typer.echo(
        f"求解状态 {result.status}，间隙 {result.gap:.2g}，"
        f"用时 {result.seconds:.2f} 秒；剩余缺口 {result.shortfall}"
    )
    for text in lines:
        typer.echo("  " + text)


def check_command(
    manifest: Annotated[Path, typer.Argument(help="generate 写出的真值文件")], as_json: JsonOpt = False
) -> None:
    """Warnings and missing reports against the generated truth (precision, recall)."""
    from jingxin.medical.evaluate import measure

    with _session().session() as db, _facts() as facts:
        got = measure(db, json.loads(manifest.read_text(encoding="utf-8")), facts)
    if as_json:
        _dump(got)
        return
    for name, m in got.items():
        typer.echo(
            f"{name}: 发现 {m['found']}，真值 {m['truth']}，"
            f"精确率 {m['precision']:.3f}，召回率 {m['recall']:.3f}"
        )


def fiveg_progress_command(scope: ScopeOpt = "330000", as_json: JsonOpt = False) -> None:
    """5G stations built by county against targets, and approval time by department."""
    from jingxin.core.db import utcnow
    from jingxin.fiveg import service

    with _session().session() as db:
        rows = service.progress(db, _scope(scope), utcnow())
        times = service.approval_times(db, _scope(scope))
    if as_json:
        _dump({"counties": [asdict(r) for r in rows], "approval_times": times})
        return
    for r in rows:
        if r.built or r.by_stage:
            typer.echo(
                f"{r.name}: 建成 {r.built}/{r.target}，开通 {r.powered}，在办 {r.by_stage}，超期 {r.overdue}"
            )
    for d, t in times.items():
        typer.echo(f"{d}: 平均 {t['average_days']} 个工作日（{t['count']} 件，超期 {t['late']}）")


def register(app: typer.Typer) -> None:
    medical = typer.Typer(help="医疗应急物资：储备、预警、调度", no_args_is_help=True)
    medical.command("generate")(generate_command)
    medical.command("warnings")(warnings_command)
    medical.command("supply")(supply_command)
    medical.command("dispatch")(dispatch_command)
    medical.command("check")(check_command)
    app.add_typer(medical, name="medical")
    fiveg = typer.Typer(help="5G基站建设一件事", no_args_is_help=True)
    fiveg.command("progress")(fiveg_progress_command)
    app.add_typer(fiveg, name="fiveg")
