"""Uncertainty analysis of the 亩均 evaluation (不确定性分析, 稳健性检验).

Why: a county publishes one class per enterprise (A/B/C/D, some A+), and the class decides real
money (land-tax relief, an electricity surcharge for D). Yet the weights (黄岩 30/20/20/10/10/10)
and the scoring method (ratio, capped ratio, min–max, which average as reference) are choices,
not facts. Step 7 of the OECD/JRC *Handbook on Constructing Composite Indicators* (and COINr's
`get_sensitivity`) asks how much the published result depends on them: redo the evaluation many
times with the choices drawn at random and report, per enterprise, how often it keeps its class
(稳健性). An enterprise that falls from A to B in a third of the plausible variants should not
be published as a clear A without a note; one that is A in every variant can be.

What is drawn, N times (default 1,000, seeded):

- **weights** (权重扰动): every indicator's weight is multiplied by its own factor drawn uniformly
  from [1 − x, 1 + x] (default x = 20 %). The draw is per indicator and shared by all counties,
  so a county override (黄岩's own weights) is perturbed around its own values. By default the
  perturbed weights are **renormalised** per unit to the nominal weight sum (100): totals stay on
  the published scale, so threshold classes, A+ thresholds and sublet deductions (扣分, points
  subtracted after scoring) keep their meaning; without renormalisation a draw that raises every
  weight would mostly raise everyone above a threshold, which is a scale effect, not a
  judgement about the enterprise. `renormalise=False` keeps the raw perturbed weights.
  Informational indicators (weight 0) stay at 0.
- **the scoring method** (计分方法, `MethodChoice`): one alternative per draw, picked with its
  probability: the system's own method, ratio to the reference, ratio capped at k × weight,
  min–max with a floor, benchmark at k × the average; and reference rules (参照值口径): county
  mean, province mean, median ... instead of the published fixed values. Each alternative is
  scored once by the evaluation's own Ibis pipeline (`compute.score_arrays`), so every draw of
  that alternative is a weighted sum of the same (units × indicators) matrix.

What is not drawn: the data, the population, the class rule (shares or thresholds, the group
ranked in), deductions and vetoes (一票否决) — these are applied in every draw exactly as the
evaluation applies them. A vetoed enterprise keeps its forced class in every draw.

How it stays fast (100k enterprises × 1,000 draws in well under a minute on two cores): the
warehouse is queried once per distinct alternative (`UncertaintyAnalysis` keeps the matrices,
so further runs with other spreads, seeds or thresholds query nothing). Draws are processed in
chunks of B draws as (B × n) NumPy arrays: totals as the matrix product of the B weight vectors
with the (m × n) matrix of weighted scores (m ≤ 10 indicators, so a short in-place loop rather
than BLAS, whose own threads would fight ours for two cores); ranks within the class group by
one argsort per draw of a packed int64 key (group, total descending, unit id); classes by
comparing ranks or totals with per-unit cut-offs; chunks spread over a few threads (NumPy
releases the GIL in sorts and arithmetic). No Python loop runs over enterprises.

Exactness (可复现): the nominal draw (all weight factors 1) is computed in the order of
operations of `compute.score_units` (the same summation order, DuckDB's ROUND half away from
zero to 6 decimals), so its totals equal the warehouse's bit for bit; ranks and classes mirror
`classes.rank_and_classify` (ties to the nominal total without caps, then the smaller unit
id, the share cut ``floor(n × cum / 100 + 0.5)``, per-county overrides of shares, thresholds and weights, A+).
Every analysis replays the nominal draw and counts the enterprises whose class differs from the
evaluation's (`nominal_mismatches`; 0 expected — on PostgreSQL, whose ROUND works on the decimal
value, an exact-half total could in principle differ).

The package: `methods` (what is drawn), `scores` (per-unit scores as arrays), `ranker` (ranks
and classes for many draws), `analysis` (the analysis and its stored tables), `cli` (the
`jingxin evaluate-uncertainty` command; it takes the shared options from `evaluation.cli_options`,
so no module of the evaluation's command line imports another that imports it back).
"""

from jingxin.evaluation.uncertainty.analysis import (
    RunKey,
    UncertaintyAnalysis,
    UncertaintyResult,
    _resolve,
    analyse,
    store_uncertainty,
)
from jingxin.evaluation.uncertainty.methods import (
    DEFAULT_DRAWS,
    DEFAULT_SPREAD,
    DEFAULT_THRESHOLD,
    STORED_CLASSES,
    UNCERTAINTY_SCHEMAS,
    MethodChoice,
    _normalise_methods,
    default_methods,
    parse_method,
    probability_column,
    variant_system,
)
from jingxin.evaluation.uncertainty.ranker import ClassRanker, group_labels
from jingxin.evaluation.uncertainty.scores import UnitScores

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_SPREAD",
    "DEFAULT_THRESHOLD",
    "STORED_CLASSES",
    "UNCERTAINTY_SCHEMAS",
    "ClassRanker",
    "MethodChoice",
    "RunKey",
    "UncertaintyAnalysis",
    "UncertaintyResult",
    "UnitScores",
    "_normalise_methods",
    "_resolve",
    "analyse",
    "default_methods",
    "group_labels",
    "parse_method",
    "probability_column",
    "store_uncertainty",
    "variant_system",
]
