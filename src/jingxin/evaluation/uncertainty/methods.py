"""Weights and scoring methods drawn by the uncertainty analysis, and its stored tables.

Part of `jingxin.evaluation.uncertainty` (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis

from jingxin.evaluation.config import (
    GROUP_COLUMNS,
    GROUP_NAMES,
    ConfigError,
    ReferenceRule,
    Scoring,
    System,
)

DEFAULT_DRAWS = 1000
DEFAULT_SPREAD = 0.2
DEFAULT_THRESHOLD = 0.8
_CELLS_PER_CHUNK = 500_000
"""Draws are processed in chunks of about this many (draw × unit) cells (4 MB per float array:
near the cache, and measured faster than 1–4 M cells at 100k units; few Python steps still)."""

STORED_CLASSES = ("A+", "A", "B", "C", "D")

UNCERTAINTY_SCHEMAS: dict[str, ibis.Schema] = {
    "eval_uncertainty": ibis.schema(
        {
            "run_id": "string",
            "credit_code": "string",
            "p_a_plus": "float64",
            "p_a": "float64",
            "p_b": "float64",
            "p_c": "float64",
            "p_d": "float64",
            "modal_class": "string",
            "rank_p05": "int64",
            "rank_p95": "int64",
            "rank_min": "int64",
            "rank_max": "int64",
            "robust": "boolean",
            "draws": "int64",
            "spread": "float64",
            "seed": "int64",
        }
    )
}
"""The stored analysis (不确定性分析结果): one row per enterprise of a stored run."""


def probability_column(cls: str) -> str:
    """Column of the probability of a class: A+ → p_a_plus, A → p_a."""
    return "p_" + cls.lower().replace("+", "_plus")


# ---- scoring alternatives ------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodChoice:
    """One scoring alternative (计分方法备选) and the probability of drawing it.

    `scoring`: replaces the system's scoring method (None: keep it). `reference`: replaces every
    indicator's reference rule (参照值口径); published fixed values (and county overrides of
    them) are dropped unless the rule carries its own, because the alternative *is* the choice
    of which average to compare with.
    """

    name: str
    probability: float
    scoring: Scoring | None = None
    reference: ReferenceRule | None = None

    def describe(self) -> str:
        parts = []
        if self.scoring is not None:
            sc = self.scoring
            if sc.method == "ratio_capped":
                detail = f"比值法（封顶 {sc.cap_multiple or 2:g} 倍权重）"
            elif sc.method == "minmax":
                detail = f"极差法（保底 {sc.minmax_floor:g}%）"
            elif sc.method == "benchmark":
                detail = f"标杆法（{sc.benchmark_multiple:g} 倍均值）"
            else:
                detail = "比值法" + (f"（封顶 {sc.cap:g} 倍权重）" if sc.cap else "")
            parts.append(detail)
        if self.reference is not None:
            stat = {"mean": "均值", "median": "中位数", "sum_over_sum": "合计比"}[self.reference.statistic]
            parts.append(f"参照值取{GROUP_NAMES[self.reference.group]}{stat}")
        return "；".join(parts) or "原评价体系口径"


_STATISTICS = ("sum_over_sum", "median", "mean")


def parse_method(text: str, system: System) -> MethodChoice:
    """A choice from its command-line form ``NAME[:PARAM][+NAME...]=PROBABILITY``.

    Names: ``nominal`` (the system as configured); ``ratio``; ``ratio_capped[:k]`` (k × weight,
    default 2); ``minmax[:floor]`` (floor in % of the weight, default 20); ``benchmark[:k]``
    (k × the average, default 2); ``ref_<group>_<statistic>`` with group county, city,
    province, county_industry or province_industry and statistic mean, median or
    sum_over_sum (e.g. ``ref_province_mean``). Joined with ``+`` they combine
    (``minmax+ref_province_mean=0.1``).
    """
    if "=" not in text:
        raise ValueError(f"计分方法应写作 名称=概率，如 minmax=0.25：{text!r}")
    spec, _, prob_text = text.rpartition("=")
    try:
        probability = float(prob_text)
    except ValueError as exc:
        raise ValueError(f"概率不是数字：{text!r}") from exc
    scoring: Scoring | None = None
    reference: ReferenceRule | None = None
    base = system.scoring
    for part in spec.split("+"):
        name, _, param = part.strip().partition(":")
        value = float(param) if param else None
        if name == "nominal":
            continue
        if name == "ratio":
            scoring = base.model_copy(update={"method": "ratio", "cap": None})
        elif name == "ratio_capped":
            scoring = base.model_copy(update={"method": "ratio_capped", "cap": value or 2.0})
        elif name == "minmax":
            floor = 20.0 if value is None else value
            scoring = base.model_copy(update={"method": "minmax", "minmax_floor": floor})
        elif name == "benchmark":
            scoring = base.model_copy(update={"method": "benchmark", "benchmark_multiple": value or 2.0})
        elif name.startswith("ref_"):
            rest = name[4:]
            stat = next((s for s in _STATISTICS if rest.endswith("_" + s)), None)
            group = rest[: -len(stat) - 1] if stat else ""
            if stat is None or group not in GROUP_COLUMNS or group == "kind":
                raise ValueError(f"参照值口径应如 ref_county_mean、ref_province_median：{part!r}")
            reference = ReferenceRule.model_validate({"statistic": stat, "group": group})
        else:
            raise ValueError(
                f"未知计分方法 {name!r}：可用 nominal、ratio、ratio_capped[:k]、minmax[:保底]、"
                "benchmark[:k]、ref_<范围>_<统计量>"
            )
    if scoring is not None:
        scoring = Scoring.model_validate(scoring.model_dump())
    return MethodChoice(spec.strip(), probability, scoring, reference)


def default_methods(system: System) -> list[MethodChoice]:
    """The default alternatives: the system's own method with probability ½ and two other
    methods of the ratio/min–max family with ¼ each.

    For threshold classes (or an A+ threshold) only ratio-family methods are mixed in: min–max
    and benchmark totals live on another scale (20–100), where fixed thresholds would move whole
    classes, which says nothing about any one enterprise.
    """
    own = system.scoring.method
    thresholds = (
        system.classes.method == "thresholds"
        or any(ov.thresholds is not None for ov in system.overrides.values())
        or (system.classes.a_plus is not None and system.classes.a_plus.threshold is not None)
    )
    if thresholds:
        other = "ratio" if own == "ratio_capped" else "ratio_capped"
        return [
            MethodChoice("nominal", 0.5),
            parse_method(f"{other}=0.5", system),
        ]
    pool = [m for m in ("ratio_capped", "minmax", "ratio") if m != own][:2]
    return [MethodChoice("nominal", 0.5), *(parse_method(f"{m}=0.25", system) for m in pool)]


def variant_system(system: System, choice: MethodChoice) -> System:
    """The system scored with `choice` (weights, population, classes and overrides unchanged)."""
    if choice.scoring is None and choice.reference is None:
        return system
    data = system.canonical()
    if choice.scoring is not None:
        data["scoring"] = choice.scoring.model_dump(mode="json")
    if choice.reference is not None:
        rule = choice.reference.model_dump(mode="json")
        data["reference"] = rule
        for ind in data["indicators"]:
            ind["reference"] = rule
        for ov in data["overrides"].values():
            ov["references"] = {}
    try:
        return System.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"计分方法 {choice.name!r} 不适用于评价体系 {system.id}：{exc}") from exc


def _normalise_methods(
    methods: Sequence[MethodChoice | str] | Mapping[str, float] | None, system: System
) -> list[MethodChoice]:
    if methods is None:
        return default_methods(system)
    if isinstance(methods, Mapping):
        items: list[MethodChoice] = [parse_method(f"{k}={v}", system) for k, v in methods.items()]
    else:
        items = [m if isinstance(m, MethodChoice) else parse_method(m, system) for m in methods]
    if not items:
        raise ValueError("至少需要一种计分方法")
    if any(m.probability < 0 for m in items) or sum(m.probability for m in items) <= 0:
        raise ValueError("计分方法的概率应非负且不全为零")
    total = sum(m.probability for m in items)
    return [
        MethodChoice(m.name, m.probability / total, m.scoring, m.reference)
        for m in items
        if m.probability > 0
    ]
