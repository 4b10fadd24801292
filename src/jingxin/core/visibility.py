"""What each role sees of sensitive figures (敏感数据可见性): the one place that decides it.

`core/scope.py` decides *which rows* a user sees; this module decides *which figures* of those
rows a role without clearance (see `Role.clearance`: service staff, data liaisons) may see.

Masking the sensitive inputs alone is not enough: whatever is computed from them gives them
back by arithmetic. 亩均税收 (tax per mu) enters the total score as weight × value ÷ reference,
so total − Σ other indicators' points, ÷ weight × reference, is 亩均税收 again, and × land is
the tax paid. The rule is therefore about *derivation*, not about field names:

    A role without clearance sees a figure only if it is computed without any sensitive
    input (`core.audit.SENSITIVE_FIELDS`: 税收, 负债, 涉诉 …), with one deliberate exception:
    the class (分类 A/B/C/D) and what follows from the class alone (the differentiated
    policies, the class last year, the class change, years in class D).

What follows for the 亩均 evaluation (`WITHHELD_RESULT_FIELDS`, `WITHHELD_REGION_FIELDS`):

- the sensitive inputs themselves: 实缴税收, 亩均税收;
- every indicator whose formula reads a sensitive input (亩均税收, and 单位电耗税收 of 规下):
  its value, reference (a data-driven reference is an average of other enterprises' tax),
  score, points lost and sentence;
- every sum that includes such an indicator's points: 指标得分合计, 综合得分, 上年得分,
  得分变化, a region's 平均得分;
- every order by those sums: 县内排名, 县内行业排名, 园区排名, leader lists (ranks say
  which of two visible enterprises has the higher total, an inequality on their tax);
- the lift advice (如何提升一档): the gap to the next class, with a published class threshold,
  gives the total back, and every option's needed value gives the gap;
- a region's 亩均税收 (sum over sum), its change on last year, and rankings by it (a county
  with one evaluated enterprise *is* that enterprise).

Everything else stays: master data, land, the other indicators' values, references, weights
and points (they do not depend on tax), counts of enterprises, the class. The class bounds
the total to an interval, never to a number; that coarseness is accepted on purpose.

Sorting and ranking by a withheld figure are refused (`sort_allowed`, `measure_allowed`):
an order is a figure too. Exports drop withheld columns rather than masking them.

Roles with clearance (administrator, analysts) see every figure of their scope; an enterprise
user is cleared for its own figures, the only ones its scope holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jingxin.core.audit import MASK, is_sensitive
from jingxin.core.auth import Role

WITHHELD_RESULT_FIELDS: frozenset[str] = frozenset(
    {
        # the sensitive inputs (实缴税收、亩均税收)
        "tax_paid",
        "tax_per_mu",
        # sums that include the points of a tax indicator
        "score",
        "total_score",
        "prev_score",
        "score_change",
        "mean_score",
        # orders by those sums
        "rank_in_county",
        "rank_in_industry",
        "rank_in_province",
        "rank_in_kind",
        "class_rank",
        "leader_rank",
        "rank",
        # the lift computation (距下一档的分差、所需指标值)
        "cutoff",
        "gap",
        "needed_score",
        "needed_value",
        "relative_change",
    }
)
"""Fields of an evaluation result (enterprise, park or leader row) withheld without clearance."""

WITHHELD_REGION_FIELDS: frozenset[str] = frozenset(
    {"tax_paid", "tax_per_mu", "prev_tax_per_mu", "tax_per_mu_change", "mean_score"}
)
"""Fields of a regional aggregate (dashboard headline, trend, map, county ranking) withheld
without clearance."""


def reads_sensitive(columns: Iterable[str]) -> bool:
    """Whether a formula over these input columns reads a sensitive field (税收 …)."""
    return any(is_sensitive(c) for c in columns)


@dataclass(frozen=True)
class Visibility:
    """The figures one role may see; build it with `visibility_for`.

    `clearance` False withholds every figure derived from a sensitive input (see the module
    docstring for the rule and its one exception, the class)."""

    clearance: bool

    @property
    def masked(self) -> bool:
        return not self.clearance

    def withholds(self, field: str) -> bool:
        """Whether a result field (or a column of an export) is withheld."""
        return self.masked and (field in WITHHELD_RESULT_FIELDS or is_sensitive(field))

    def withholds_region(self, field: str) -> bool:
        return self.masked and (field in WITHHELD_REGION_FIELDS or is_sensitive(field))

    def withholds_indicator(self, formula_columns: Iterable[str]) -> bool:
        """Whether an indicator computed from these columns is withheld (value, reference,
        score and its sentence)."""
        return self.masked and reads_sensitive(formula_columns)

    @property
    def shows_lift(self) -> bool:
        """Whether the lift advice (gap to the next class, values needed) may be shown."""
        return self.clearance

    def sort_allowed(self, sort: str) -> bool:
        """Whether a list may be ordered by `sort` (a column, '-' for descending)."""
        return not self.withholds(sort.lstrip("-"))

    def measure_allowed(self, measure: str) -> bool:
        """Whether regions may be ranked or coloured by `measure`."""
        return not self.withholds_region(measure)

    def row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A result row with every withheld field masked (`****`).

        A derived figure that is missing stays missing (no last year's score: nothing to
        hide). A sensitive input is masked even when missing: "no tax record" is itself a
        statement about the tax (scored as zero by the 亩均 systems)."""
        return {k: self._mask(k, v) if self.withholds(k) else v for k, v in row.items()}

    def region(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A regional aggregate with every withheld field masked."""
        return {k: self._mask(k, v) if self.withholds_region(k) else v for k, v in row.items()}

    @staticmethod
    def _mask(field: str, value: Any) -> Any:
        return MASK if value is not None or is_sensitive(field) else None

    def columns(self, names: Iterable[str], indicator_columns: Mapping[str, Iterable[str]]) -> list[str]:
        """The export columns kept: withheld ones dropped. `indicator_columns` maps the column
        of an indicator's value or score to the input columns of its formula."""
        kept = []
        for name in names:
            if self.withholds(name):
                continue
            if name in indicator_columns and self.withholds_indicator(indicator_columns[name]):
                continue
            kept.append(name)
        return kept


FULL = Visibility(clearance=True)
"""Everything of the scope (administrator, analysts, an enterprise about itself, the CLI)."""
MASKED = Visibility(clearance=False)
"""A role without clearance."""


def visibility_for(role: Role | str) -> Visibility:
    """The visibility of a role: the single rule from a role to the figures it sees."""
    return FULL if Role(role).clearance else MASKED
