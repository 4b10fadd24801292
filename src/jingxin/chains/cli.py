"""Commands of the chains scenario (十大标志性产业链):

jingxin chains local-rate --chain modern_textile --region 330603 --month 2021-12 [--json]
jingxin chains weak-links --month 2021-12 [--region 330100] [--json]
jingxin chains single-supplier --month 2021-12 [--region 330100] [--json]
jingxin chains members --month 2021-12 --code CREDIT_CODE [--json]   membership with evidence
jingxin chains check --manifest out/ --month 2021-12 [--json]      against the generated truth
jingxin chains refresh --month 2021-01 [--through 2021-12] [--json]  store monthly results
jingxin chains history [--chain modern_textile] [--region 330600] [--json]  stored months
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from jingxin.core.scope import Scope

group = typer.Typer(
    help="十大标志性产业链：本地配套率、薄弱环节、单一供应商依赖、成员及依据。", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="数据仓库地址（默认取配置）")]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="区划代码（省、市或区县），如 330603；默认全省")
]
MonthOpt = Annotated[str, typer.Option("--month", help="截止月份 YYYY-MM（向前12个月）")]


def _scope(code: str | None) -> Scope:
    if not code or code == "330000":
        return Scope()
    from jingxin.reference import division

    try:
        division(code)
    except (KeyError, ValueError):
        raise typer.BadParameter(
            f"未知区划代码 {code}（应为6位行政区划代码，如 330603）", param_hint="--region"
        ) from None
    return Scope(division=code)


def _run(fn, *args, **kw):
    from jingxin.chains.compute import ChainsError
    from jingxin.core.warehouse import WarehouseError

    try:
        return fn(*args, **kw)
    except (WarehouseError, ChainsError) as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None


def _wh(url: str | None):
    from jingxin.core.warehouse import open_warehouse

    return _run(open_warehouse, url)


def _records(df) -> list[dict]:
    return json.loads(df.to_json(orient="records", force_ascii=False))


@group.command("local-rate")
def local_rate_command(
    month: MonthOpt = "2021-12",
    chain: Annotated[
        str | None, typer.Option("--chain", help="产业链 id，如 modern_textile；默认全部")
    ] = None,
    region: RegionOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """本地配套率 of a chain (or every chain) for buyers in a region: county, city, province."""
    from jingxin.chains.compute import local_rates
    from jingxin.chains.definitions import definitions

    if chain is not None:
        try:
            definitions().chain(chain)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0]), param_hint="--chain") from None
    scope = _scope(region)
    df = _run(local_rates, _wh(warehouse), month, scope, "chain")
    if chain is not None:
        df = df[df["chain_id"] == chain]
    cols = ["chain_id", "amount", "county", "city", "province", "lines", "buyers", "suppliers"]
    if as_json:
        typer.echo(
            json.dumps(
                {"month": month, "region": region or "330000", "rates": _records(df[cols])},
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    defs = definitions()
    typer.echo(f"本地配套率（截至 {month} 的12个月，购方区域 {region or '330000'}）")
    for r in df.itertuples():
        typer.echo(
            f"{defs.chain(r.chain_id).name:<10} 采购 {r.amount:>12,.2f} 万元  "
            f"本县 {r.county:6.1%}  本市 {r.city:6.1%}  "
            f"本省 {r.province:6.1%}  （{r.lines} 行，{r.buyers} 个购方）"
        )


@group.command("weak-links")
def weak_links_command(
    month: MonthOpt = "2021-12",
    region: RegionOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """薄弱环节: segments bought mostly outside the province, or from few suppliers."""
    from jingxin.chains.compute import weak_links

    df = _run(weak_links, _wh(warehouse), month, _scope(region))
    cols = [
        "chain_id",
        "segment_id",
        "amount",
        "outside",
        "hhi",
        "top_share",
        "suppliers",
        "weak_outside",
        "weak_concentrated",
    ]
    if as_json:
        typer.echo(json.dumps(_records(df[cols]), ensure_ascii=False, indent=1))
        return
    for r in df.itertuples():
        flags = (
            "、".join(f for f, on in (("外省依赖", r.weak_outside), ("供应集中", r.weak_concentrated)) if on)
            or "—"
        )
        typer.echo(f"{r.chain_id}.{r.segment_id:<10} 省外占比 {r.outside:6.1%}  HHI {r.hhi:.3f}  {flags}")


@group.command("single-supplier")
def single_supplier_command(
    month: MonthOpt = "2021-12",
    region: RegionOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """单一供应商依赖: a buyer's goods bought from one supplier only in the 12 months."""
    from jingxin.chains.compute import single_supplier

    df = _run(single_supplier, _wh(warehouse), month, _scope(region))
    if as_json:
        typer.echo(json.dumps(_records(df), ensure_ascii=False, indent=1))
        return
    for r in df.itertuples():
        typer.echo(
            f"{r.buyer_code} {r.buyer_name} 「{r.keyword}」 仅从 {r.supplier}"
            f"（{r.supplier_county}）采购 {r.amount:,.2f} 万元"
        )


@group.command("match")
def match_command(
    buyer: Annotated[str, typer.Option("--buyer", help="购方统一社会信用代码")],
    month: MonthOpt = "2021-12",
    region: RegionOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """产业精准合作: in-province sellers for the buyer's purchases from outside the province."""
    from jingxin.chains.match import recommend

    df = _run(recommend, _wh(warehouse), buyer, month, _scope(region))
    cols = ["keyword", "need_amount", "rank", "s_code", "s_name", "s_county", "score", "evidence"]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "buyer": buyer,
                    "month": month,
                    "recommendations": _records(df[cols]) if not df.empty else [],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    if df.empty:
        typer.echo("该企业没有可由省内企业替代的省外采购（或不在所选区域内）")
    for r in df.itertuples():
        typer.echo(f"「{r.keyword}」第{r.rank}名 {r.s_code} {r.s_name} 得分 {r.score:.3f}：{r.evidence}")


@group.command("members")
def members_command(
    code: Annotated[str, typer.Option("--code", help="统一社会信用代码")],
    month: MonthOpt = "2021-12",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The chains and segments an enterprise belongs to, with the evidence."""
    from jingxin.chains.compute import membership, window

    wh = _wh(warehouse)
    t = _run(membership, wh, _run(window, month))
    df = _run(wh.execute, t.filter(t.credit_code == code.strip().upper()))
    if as_json:
        typer.echo(json.dumps(_records(df), ensure_ascii=False, indent=1))
        return
    if df.empty:
        typer.echo(
            "该企业不属于任何标志性产业链环节（行业代码不在范围内，且销项发票中无达到20%的产业链货物）"
        )
    for r in df.itertuples():
        why = (
            f"行业代码属于 {r.keyword}"
            if r.basis == "industry"
            else f"销项发票「{r.keyword}」等货物占销售额 {r.share:.0%}"
        )
        typer.echo(f"{r.chain_id}.{r.segment_id}：{why}")


@group.command("check")
def check_command(
    manifest: Annotated[str, typer.Option("--manifest", help="生成数据目录或 manifest.json")],
    month: MonthOpt = "2021-12",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure the analysis against the generator's truth (``--chains``)."""
    from jingxin.chains.truth import check

    report = _run(check, _wh(warehouse), manifest, month)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1) if as_json else report["summary"])


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="chains")


@group.command("refresh")
def refresh_command(
    month: Annotated[str, typer.Option("--month", help="要刷新的月份 YYYY-MM")],
    through: Annotated[
        str | None, typer.Option("--through", help="连续刷新到此月份 YYYY-MM（含），默认只刷新 --month")
    ] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """刷新并保存产业链月度结果（本地配套率、薄弱环节），供逐月变化查询。"""
    from jingxin.chains.compute import window
    from jingxin.chains.store import refresh

    first = _run(window, month, 1).end
    last = _run(window, through, 1).end if through else first
    if last < first:
        raise typer.BadParameter(f"--through {through} 早于 --month {month}", param_hint="--through")
    wh = _wh(warehouse)
    reports = []
    try:
        k = first.year * 12 + first.month - 1
        while k <= last.year * 12 + last.month - 1:
            reports.append(_run(refresh, wh, f"{k // 12}-{k % 12 + 1:02d}"))
            k += 1
    finally:
        wh.close()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=1))
        return
    for r in reports:
        risk = "已按风险分级判断供方风险" if r.distress_checked else "无风险分级，未判断供方风险"
        typer.echo(
            f"{r.month}：保存 {r.rows} 行（产业链×环节×区县），"
            f"环节 {r.segments} 个，其中薄弱 {r.weak} 个；{risk}"
        )


@group.command("history")
def history_command(
    chain: Annotated[str | None, typer.Option("--chain", help="产业链 id；默认全部")] = None,
    region: RegionOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """已保存月份的本地配套率（及全省的薄弱环节）逐月变化。"""
    from jingxin.chains.store import history

    out = _run(history, _wh(warehouse), _scope(region), chain)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1, default=str))
        return
    for r in out["rates"]:
        typer.echo(
            f"{r['month']} {r['chain_id']:<28} 采购 {r['amount']:>12,.2f} 万元  本县 {r['county']:6.1%}  "
            f"本市 {r['city']:6.1%}  本省 {r['province']:6.1%}"
        )
