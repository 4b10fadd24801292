"""The uncertainty analysis itself: resolve a run, draw, rank, summarise, store.

Part of `jingxin.evaluation.uncertainty` (see the package docstring)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.compute import Params, compute_prefix, score_arrays
from jingxin.evaluation.config import (
    System,
    load_system,
    parse_system,
)
from jingxin.evaluation.runs import evaluate, load_run
from jingxin.evaluation.uncertainty.methods import (
    _CELLS_PER_CHUNK,
    DEFAULT_DRAWS,
    DEFAULT_SPREAD,
    DEFAULT_THRESHOLD,
    STORED_CLASSES,
    UNCERTAINTY_SCHEMAS,
    MethodChoice,
    _normalise_methods,
    probability_column,
    variant_system,
)
from jingxin.evaluation.uncertainty.ranker import ClassRanker, group_labels
from jingxin.evaluation.uncertainty.scores import UnitScores

RunKey = str | tuple[int, "str | System"] | tuple[int, "str | System", "Scope | str | None"]


@dataclass(frozen=True)
class _Target:
    run_id: str | None
    system: System
    year: int
    scope: Scope
    batches: dict[str, list[int]] | None


def _as_scope(scope: Scope | str | None) -> Scope:
    if scope is None or scope == "330000" or scope == "":
        return EVERYTHING
    return scope if isinstance(scope, Scope) else Scope(division=str(scope))


def _resolve(wh: Warehouse, key: RunKey, prefer_run: bool, systems_dir: Any) -> _Target:
    """A run id → that stored run; (year, system[, scope]) → the newest stored run of exactly
    that configuration and scope when `prefer_run` (what was published), else live data."""
    if isinstance(key, str):
        run = load_run(wh, key)
        scope = _as_scope(run["scope"])
        batches = {k: [int(b) for b in v] for k, v in json.loads(run["batches_used"]).items()}
        return _Target(key, parse_system(run["config_yaml"]), int(run["year"]), scope, batches)
    year, system_ref, *rest = key
    scope = _as_scope(rest[0] if rest else None)
    if scope.pinned:
        raise ValueError("不确定性分析按区域进行，不能限定为个别企业")
    system = load_system(system_ref, systems_dir) if isinstance(system_ref, str) else system_ref
    if prefer_run and wh.has_table("eval_runs"):
        runs = wh.table("eval_runs")
        runs = runs.filter(
            (runs.system == system.id)
            & (runs.year == int(year))
            & (runs.scope == (scope.division or "330000"))
            & (runs.config_hash == system.config_hash)
        )
        rows = wh.to_pyarrow(
            runs.order_by([ibis.desc("created_at"), ibis.desc("run_id")]).select("run_id").limit(1)
        )
        if rows.num_rows:
            return _resolve(wh, str(rows["run_id"][0]), prefer_run, systems_dir)
    return _Target(None, system, int(year), scope, None)


_NOMINAL_COLUMNS = (
    "credit_code",
    "name",
    "unit_id",
    "county_code",
    "division_code",
    "total_score",
    "class_rank",
    "class_n",
    "score_class",
    "class",
    "veto_reason",
)


def _nominal(wh: Warehouse, target: _Target) -> pd.DataFrame:
    """The evaluation's own per-enterprise result: the stored run, or `evaluate` now."""
    if target.run_id is not None:
        t = wh.table("eval_results")
        expr = t.filter(t.run_id == target.run_id).select(*_NOMINAL_COLUMNS)
        return wh.to_pyarrow(expr.order_by("credit_code")).to_pandas()
    ev = evaluate(wh, target.system, target.year, target.scope, history="none")
    try:
        return wh.to_pyarrow(ev.results.select(*_NOMINAL_COLUMNS).order_by("credit_code")).to_pandas()
    finally:
        ev.release()


def _compute_scope(system: System, scope: Scope) -> Scope:
    """The region whose units take part in ranking (at least the class group of every unit in
    `scope`): `compute_prefix` as a Scope."""
    prefix = compute_prefix(system, scope)
    if len(prefix) <= 2:
        return EVERYTHING
    return Scope(division=prefix.ljust(6, "0"))


@dataclass(frozen=True)
class UncertaintyResult:
    """The outcome of `analyse` (不确定性分析结果).

    `enterprises` has one row per evaluated enterprise in scope: credit_code, name, unit_id,
    county_code, division_code, total_score (nominal), nominal_class, class_rank and class_n
    (nominal rank and size of its class group), ``p_<class>`` (share of draws in each class;
    A+ → p_a_plus), p_nominal, modal_class (the most frequent class; a tie keeps the nominal
    class, else the better one), robust (p_nominal ≥ threshold), vetoed, and the
    rank in the class group over the draws: rank_p05 / rank_p95 (nearest-rank 5th and 95th
    percentiles) and rank_min / rank_max. `by_class` and `by_county` count the enterprises
    that are not robust (不稳健).
    """

    run_id: str | None
    source: Literal["run", "live"]
    system: str
    title: str
    year: int
    scope: str
    class_group: str
    classes: list[str]
    labels: dict[str, str]
    draws: int
    spread: float
    seed: int
    threshold: float
    renormalise: bool
    methods: list[dict[str, Any]]
    enterprises: pd.DataFrame
    by_class: pd.DataFrame
    by_county: pd.DataFrame
    nominal_mismatches: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def not_robust(self) -> int:
        return int((~self.enterprises["robust"]).sum()) if len(self.enterprises) else 0

    def to_arrow(self) -> pa.Table:
        """The rows of `eval_uncertainty` (needs a stored run and classes among A+/A/B/C/D)."""
        if self.run_id is None:
            raise ValueError("只有已保存评价批次的分析结果才能入库：请先运行 jingxin evaluate")
        unknown = set(self.classes) - set(STORED_CLASSES)
        if unknown:
            raise ValueError(f"eval_uncertainty 只记录 A+、A、B、C、D 类，体系中还有 {sorted(unknown)}")
        df = self.enterprises
        n = len(df)
        schema = UNCERTAINTY_SCHEMAS["eval_uncertainty"].to_pyarrow()
        cols: dict[str, Any] = {
            "run_id": pa.array(np.full(n, self.run_id, dtype=object), pa.string()),
            "credit_code": pa.array(df["credit_code"].astype(str), pa.string()),
        }
        for cls in STORED_CLASSES:
            col = probability_column(cls)
            values = df[col].to_numpy(dtype=float) if col in df else np.zeros(n)
            cols[col] = pa.array(values, pa.float64())
        cols["modal_class"] = pa.array(df["modal_class"].astype(str), pa.string())
        for col in ("rank_p05", "rank_p95", "rank_min", "rank_max"):
            cols[col] = pa.array(df[col].to_numpy(dtype=np.int64), pa.int64())
        cols["robust"] = pa.array(df["robust"].to_numpy(dtype=bool), pa.bool_())
        cols["draws"] = pa.array(np.full(n, self.draws, dtype=np.int64))
        cols["spread"] = pa.array(np.full(n, self.spread, dtype=float))
        cols["seed"] = pa.array(np.full(n, self.seed, dtype=np.int64))
        return pa.table(cols, schema=schema)

    def summary(self) -> dict[str, Any]:
        """What the command prints, JSON-friendly."""
        return {
            "run_id": self.run_id,
            "source": self.source,
            "system": self.system,
            "title": self.title,
            "year": self.year,
            "scope": self.scope,
            "class_group": self.class_group,
            "draws": self.draws,
            "spread": self.spread,
            "seed": self.seed,
            "threshold": self.threshold,
            "renormalise": self.renormalise,
            "methods": self.methods,
            "enterprises": len(self.enterprises),
            "not_robust": self.not_robust,
            "by_class": _records(self.by_class),
            "by_county": _records(self.by_county),
            "nominal_mismatches": self.nominal_mismatches,
            "seconds": self.seconds,
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and v != v:
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _chunk_size(n: int, chunk: int | None) -> int:
    if chunk is not None:
        return max(1, int(chunk))
    return int(min(256, max(1, _CELLS_PER_CHUNK // max(n, 1))))


def _rank_quantiles(ranks: np.ndarray, block: int = 8192) -> np.ndarray:
    """(n × 4) min, nearest-rank 5th and 95th percentile, max of each column of `ranks` (N × n).

    Nearest rank (inverted CDF): the p-quantile is the smallest rank r with at least p·N draws
    at rank ≤ r, so it is always a rank some draw actually gave.
    """
    draws, n = ranks.shape
    k05 = max(0, -(-5 * draws // 100) - 1)
    k95 = max(0, -(-95 * draws // 100) - 1)
    kth = sorted({0, k05, k95, draws - 1})
    out = np.empty((n, 4), dtype=np.int64)
    for a in range(0, n, block):
        part = np.ascontiguousarray(ranks[:, a : a + block].T)
        part.partition(kth, axis=1)
        out[a : a + block] = part[:, [0, k05, k95, draws - 1]]
    return out


class UncertaintyAnalysis:
    """One evaluation read once (评价数据一次读取), drawn from as often as needed.

    Why a class: the warehouse work (the nominal result and one score matrix per scoring
    alternative) takes seconds, the draws milliseconds per hundred. An analyst comparing spreads,
    thresholds or seeds, or a page with a slider, prepares once and calls `run` repeatedly.
    Construction also checks the mirror: the nominal draw must give every unit the class the
    evaluation gave (`nominal_mismatches`).
    """

    def __init__(
        self, wh: Warehouse, key: RunKey, *, prefer_run: bool = True, systems_dir: Any = None
    ) -> None:
        started = time.perf_counter()
        self.wh = wh
        self.target = _resolve(wh, key, prefer_run, systems_dir)
        self.system = system = self.target.system
        if system.population.level == "park":
            raise ValueError("园区评价暂不支持不确定性分析")
        self.nominal = _nominal(wh, self.target)
        self.region = _compute_scope(system, self.target.scope)
        self._scores: dict[str, UnitScores] = {}
        base = score_arrays(wh, system, self.target.year, self.region, batches=self.target.batches)
        self.unit_id = base.unit_id
        self.indicators = list(base.indicators)
        county = np.asarray(base.county_code, dtype=object)
        labels = group_labels(system, county, np.asarray(base.division_code, dtype=object), base.tenant)
        # by group, then equal totals' tie-break (the total without caps), then unit id
        tiebreak = base.tiebreak if base.tiebreak is not None else np.zeros(len(labels))
        self.order = np.lexsort((np.arange(len(labels)), -np.round(tiebreak, 6), labels))
        self.inverse = np.empty(len(self.order), dtype=np.int64)
        self.inverse[self.order] = np.arange(len(self.order))
        params = Params.build(system, self.target.year)
        self.ranker = ClassRanker.build(
            system.classes, labels[self.order], county_code=county[self.order], params=params
        )
        self.classes = list(self.ranker.classes)
        self._scores[system.config_hash] = UnitScores.from_arrays(base, system, self.target.year, self.order)
        self.mirror_class = self._mirror_nominal()
        self.fetch_seconds = time.perf_counter() - started

    def _mirror_nominal(self) -> np.ndarray:
        """Each unit's class (in unit-id order) from the nominal draw through the mirror."""
        scores = self._scores[self.system.config_hash]
        totals = scores.totals(np.ones((1, len(self.indicators))))
        cls = self.ranker.classify(totals, self.ranker.ranks(totals))[0]
        return np.array(self.classes, dtype=object)[cls[self.inverse]]

    def scores_for(self, variant: System) -> UnitScores:
        """The score matrix of a scoring alternative (one warehouse query, then cached)."""
        key = variant.config_hash
        if key not in self._scores:
            t = self.target
            arrays = score_arrays(self.wh, variant, t.year, self.region, batches=t.batches)
            if not np.array_equal(arrays.unit_id, self.unit_id):
                raise RuntimeError("不同计分方法得到的评价单元不一致")
            self._scores[key] = UnitScores.from_arrays(arrays, self.system, t.year, self.order)
        return self._scores[key]

    def run(
        self,
        draws: int = DEFAULT_DRAWS,
        weight_spread: float = DEFAULT_SPREAD,
        methods: Sequence[MethodChoice | str] | Mapping[str, float] | None = None,
        seed: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        renormalise: bool = True,
        chunk: int | None = None,
        workers: int | None = None,
    ) -> UncertaintyResult:
        """The Monte Carlo (see `analyse` for the parameters; `chunk`: draws per block,
        `workers`: threads, default the CPU count up to 4)."""
        started = time.perf_counter()
        if draws < 1:
            raise ValueError("抽样次数应至少为 1")
        if not 0 <= weight_spread < 1:
            raise ValueError("权重扰动幅度应在 [0, 1) 之间")
        if not 0 < threshold <= 1:
            raise ValueError("稳健阈值应在 (0, 1] 之间")
        system, ranker = self.system, self.ranker
        choices = _normalise_methods(methods, system)
        variants = [self.scores_for(variant_system(system, c)) for c in choices]
        t_fetch = time.perf_counter()

        # the draws: method per draw, weight factors per draw and indicator (all drawn up front,
        # so the result does not depend on the chunk size)
        n, m, n_cls = len(self.unit_id), len(self.indicators), len(self.classes)
        rng = np.random.default_rng(seed)
        probs = np.array([c.probability for c in choices])
        method_of_draw = rng.choice(len(choices), size=draws, p=probs / probs.sum())
        if weight_spread > 0:
            factors = 1.0 + rng.uniform(-weight_spread, weight_spread, size=(draws, m))
        else:
            factors = np.ones((draws, m))
        rank_dtype = np.uint16 if int(ranker.size.max(initial=0)) < 2**16 else np.uint32
        ranks_all = np.empty((draws, n), dtype=rank_dtype)
        counts = np.zeros(n_cls * n, dtype=np.int64)
        step = _chunk_size(n, chunk)
        position = np.arange(n, dtype=np.int64)
        tasks = [
            (rows, unit_scores)
            for k, unit_scores in enumerate(variants)
            for picked in [np.flatnonzero(method_of_draw == k)]
            for rows in np.array_split(picked, max(1, -(-len(picked) // step)))
            if len(rows)
        ]

        def work(task: tuple[np.ndarray, UnitScores]) -> np.ndarray:
            """One chunk of draws: totals, ranks, classes; ranks go straight to their rows."""
            rows, unit_scores = task
            totals = unit_scores.totals(factors[rows], renormalise)
            ranks = ranker.ranks(totals)
            cls = ranker.classify(totals, ranks)
            ranks_all[rows] = ranks
            return np.bincount((cls.astype(np.int64) * n + position).ravel(), minlength=n_cls * n)

        workers = max(1, min(workers or _default_workers(), len(tasks)))
        if workers == 1:
            for task in tasks:
                counts += work(task)
        else:  # NumPy's sorts and array arithmetic release the GIL: threads share the cores
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for part in pool.map(work, tasks):
                    counts += part
        t_draws = time.perf_counter()

        # back to unit-id order, then per enterprise
        unit_probs = (counts.reshape(n_cls, n).T / draws)[self.inverse]
        quant = _rank_quantiles(ranks_all)[self.inverse] if n else np.zeros((0, 4), dtype=np.int64)
        enterprises = _enterprise_table(
            self.nominal, self.unit_id, unit_probs, quant, self.mirror_class, self.classes, threshold
        )
        mismatches = int((enterprises.pop("_mirror_class") != self.nominal["score_class"].to_numpy()).sum())
        by_class, by_county = _summaries(enterprises, system, self.classes)
        t_end = time.perf_counter()

        drawn = np.bincount(method_of_draw, minlength=len(choices))
        fetch = self.fetch_seconds + (t_fetch - started)
        self.fetch_seconds = 0.0  # reported once, by the first run that paid for it
        target = self.target
        return UncertaintyResult(
            run_id=target.run_id,
            source="run" if target.run_id else "live",
            system=system.id,
            title=system.title,
            year=target.year,
            scope=target.scope.division or "330000",
            class_group=system.classes.group,
            classes=list(self.classes),
            labels={c: system.classes.label(c) for c in self.classes},
            draws=draws,
            spread=float(weight_spread),
            seed=int(seed),
            threshold=float(threshold),
            renormalise=renormalise,
            methods=[
                {
                    "name": c.name,
                    "description": c.describe(),
                    "probability": round(c.probability, 6),
                    "draws": int(drawn[i]),
                }
                for i, c in enumerate(choices)
            ],
            enterprises=enterprises,
            by_class=by_class,
            by_county=by_county,
            nominal_mismatches=mismatches,
            seconds={
                "fetch": round(fetch, 3),
                "draws": round(t_draws - t_fetch, 3),
                "draws_per_s": round(draws / max(t_draws - t_fetch, 1e-9), 1),
                "summarise": round(t_end - t_draws, 3),
                "total": round(fetch + (t_end - t_fetch), 3),
            },
        )


def analyse(
    wh: Warehouse,
    key: RunKey,
    draws: int = DEFAULT_DRAWS,
    weight_spread: float = DEFAULT_SPREAD,
    methods: Sequence[MethodChoice | str] | Mapping[str, float] | None = None,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    renormalise: bool = True,
    prefer_run: bool = True,
    store: bool = False,
    systems_dir: Any = None,
    chunk: int | None = None,
    workers: int | None = None,
) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis (蒙特卡洛不确定性分析) of one evaluation.

    `key`: a run id (that stored run: its configuration, scope and exactly the batches it read),
    or ``(year, system[, scope])`` with a system name or object and a division code or Scope
    (the newest stored run of that configuration and scope when `prefer_run`, else live data
    through `runs.evaluate`). `weight_spread`: each weight drawn in [w(1 − x), w(1 + x)];
    `methods`: the scoring alternatives as `MethodChoice`s, strings ``"minmax=0.25"`` or a
    mapping name → probability (normalised to sum 1; default `default_methods`);
    `threshold`: robust (稳健) when P(nominal class) ≥ threshold. Same seed, same inputs → the
    same result, whatever the chunk size. `store=True` writes `eval_uncertainty` (stored runs
    only, see `store_uncertainty`). To draw several times from one read, use
    `UncertaintyAnalysis`.
    """
    analysis = UncertaintyAnalysis(wh, key, prefer_run=prefer_run, systems_dir=systems_dir)
    result = analysis.run(
        draws, weight_spread, methods, seed, threshold, renormalise=renormalise, chunk=chunk, workers=workers
    )
    if store:
        store_uncertainty(wh, result)
    return result


def _enterprise_table(
    nominal: pd.DataFrame,
    unit_ids: np.ndarray,
    unit_probs: np.ndarray,
    quant: np.ndarray,
    unit_nominal: np.ndarray,
    classes: list[str],
    threshold: float,
) -> pd.DataFrame:
    """Per enterprise: its unit's draws, vetoes forcing their class in every draw."""
    where = pd.Index(pd.Series(unit_ids, dtype=object)).get_indexer(nominal["unit_id"].astype(object))
    if (where < 0).any():
        missing = nominal["credit_code"].to_numpy()[where < 0][:3]
        raise RuntimeError(f"评价结果中的企业不在评分单元中（如 {', '.join(map(str, missing))}）")
    probs = unit_probs[where] if len(where) else np.zeros((0, len(classes)))
    nominal_class = nominal["class"].astype(object).to_numpy()
    nominal_idx = pd.Categorical(nominal_class, categories=classes).codes.astype(np.int64)
    if (nominal_idx < 0).any():
        raise RuntimeError(f"评价结果含未知类别 {sorted(set(nominal_class[nominal_idx < 0]))}")
    vetoed = nominal["veto_reason"].notna().to_numpy()
    if vetoed.any():
        probs = probs.copy()
        probs[vetoed] = 0.0
        probs[vetoed, nominal_idx[vetoed]] = 1.0
    rows = np.arange(len(nominal))
    p_nominal = probs[rows, nominal_idx] if len(rows) else np.zeros(0)
    modal = probs.argmax(axis=1) if len(rows) else np.zeros(0, dtype=np.int64)
    modal = np.where(p_nominal >= probs.max(axis=1, initial=0.0), nominal_idx, modal)
    out = pd.DataFrame(
        {
            "credit_code": nominal["credit_code"].to_numpy(),
            "name": nominal["name"].to_numpy(),
            "unit_id": nominal["unit_id"].to_numpy(),
            "county_code": nominal["county_code"].to_numpy(),
            "division_code": nominal["division_code"].to_numpy(),
            "total_score": nominal["total_score"].to_numpy(dtype=float),
            "nominal_class": nominal_class,
            "class_rank": nominal["class_rank"].to_numpy(dtype=np.int64),
            "class_n": nominal["class_n"].to_numpy(dtype=np.int64),
        }
    )
    for i, cls in enumerate(classes):
        out[probability_column(cls)] = probs[:, i]
    out["p_nominal"] = p_nominal
    out["modal_class"] = np.array(classes, dtype=object)[modal] if len(rows) else np.array([], dtype=object)
    out["robust"] = p_nominal >= threshold
    out["vetoed"] = vetoed
    q = quant[where] if len(where) else np.zeros((0, 4), dtype=np.int64)
    out["rank_p05"], out["rank_p95"] = q[:, 1], q[:, 2]
    out["rank_min"], out["rank_max"] = q[:, 0], q[:, 3]
    out["_mirror_class"] = unit_nominal[where] if len(where) else np.array([], dtype=object)
    return out


def _summaries(df: pd.DataFrame, system: System, classes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Non-robust counts (不稳健企业数) per nominal class and per county."""
    weak = ~df["robust"].to_numpy(dtype=bool)
    nominal = df["nominal_class"].to_numpy()
    rows = []
    for cls in classes:
        mask = nominal == cls
        count = int(mask.sum())
        rows.append(
            {
                "class": cls,
                "label": system.classes.label(cls),
                "enterprises": count,
                "not_robust": int((weak & mask).sum()),
                "not_robust_share": round(float((weak & mask).sum() / count), 4) if count else None,
                "mean_p_nominal": round(float(df["p_nominal"].to_numpy()[mask].mean()), 4) if count else None,
            }
        )
    by_class = pd.DataFrame(rows)
    frame = pd.DataFrame({"county_code": df["county_code"].to_numpy(), "weak": weak, "cls": nominal})
    by_county = frame.groupby("county_code", sort=True).agg(
        enterprises=("weak", "size"), not_robust=("weak", "sum")
    )
    by_county["not_robust_share"] = (by_county["not_robust"] / by_county["enterprises"]).round(4)
    for cls in classes:
        col = "not_robust_" + probability_column(cls)[2:]
        sub = frame[frame["cls"] == cls].groupby("county_code")["weak"].sum()
        by_county[col] = sub.reindex(by_county.index, fill_value=0).astype(np.int64)
    by_county = by_county.reset_index()
    by_county.insert(1, "county_name", [_county_name(c) for c in by_county["county_code"]])
    by_county["not_robust"] = by_county["not_robust"].astype(np.int64)
    return by_class, by_county


def _county_name(code: Any) -> str:
    from jingxin.reference import division

    try:
        return division(str(code)).name
    except (KeyError, ValueError):
        return ""


def store_uncertainty(wh: Warehouse, result: UncertaintyResult) -> int:
    """Write `eval_uncertainty` for the result's run, replacing an earlier analysis of that run
    (one analysis per run, so readers need not choose); returns the rows written. On a Spark
    warehouse (append-only) earlier rows are kept."""
    table = result.to_arrow()
    wh.ensure_schema(UNCERTAINTY_SCHEMAS)
    with wh.transaction():
        if wh.kind != "spark":
            wh.sql("DELETE FROM eval_uncertainty WHERE run_id = ?", [result.run_id])
        wh.insert_arrow("eval_uncertainty", table)
    return table.num_rows
