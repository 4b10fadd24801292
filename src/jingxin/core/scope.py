"""Region scope (数据权限范围): the one place where what a user may see is decided.

Every data-access function in the platform takes a `Scope` and passes its queries through
`Scope.restrict` (warehouse, Ibis) or `Scope.allows_*` (single objects). Routes and templates
never filter on their own, so a new page cannot forget the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
from sqlalchemy import ColumnElement, and_, false, true


def division_prefix(code: str) -> str:
    """The code prefix a division covers: 330000 -> '33', 330100 -> '3301', 330102 -> '330102'."""
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"区划代码应为6位数字：{code!r}")
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


@dataclass(frozen=True)
class Scope:
    """What one user may see.

    `division` is a GB/T 2260 code (None = everything, as for an admin); `credit_code` pins an
    enterprise user to its own 统一社会信用代码; `department` limits a data liaison to the
    batches of its own department's sources; `enterprises` pins service staff (驻企服务员) to the
    enterprises assigned to them (an empty set sees no enterprise at all); `workflows` limits a
    user to the cases of those workflows inside its region and to nothing else: no warehouse row,
    no enterprise page, no batch, no regional aggregate (a finance bureau, 财政部门, sees the
    payout cases it pays and not the data behind them).
    """

    division: str | None = None
    credit_code: str | None = None
    department: str | None = None
    enterprises: frozenset[str] | None = None
    workflows: frozenset[str] | None = None

    @property
    def prefix(self) -> str:
        return division_prefix(self.division) if self.division else ""

    @property
    def pinned(self) -> bool:
        """True when the scope is a list of enterprises (enterprise user, service staff) or a
        set of workflows (finance), not a region: such a user sees no regional aggregate and no
        departmental batch."""
        return self.credit_code is not None or self.enterprises is not None or self.workflows is not None

    @property
    def covers_province(self) -> bool:
        """True when the region is the whole province (or unrestricted) and not pinned."""
        return not self.pinned and len(self.prefix) <= 2

    def allows_division(self, code: str | None) -> bool:
        if self.pinned:
            return False  # an enterprise or a service worker sees enterprises, not a region
        return code is not None and code.startswith(self.prefix)

    def allows_enterprise(self, credit_code: str, county_code: str | None) -> bool:
        if self.workflows is not None:
            return False  # a workflow-limited user reads cases, never an enterprise's data
        if self.credit_code is not None:
            return credit_code == self.credit_code
        if self.enterprises is not None:
            return credit_code in self.enterprises
        return county_code is not None and county_code.startswith(self.prefix)

    def allows_record(
        self,
        division_code: str | None,
        credit_code: str | None,
        department: str | None = None,
        workflow: str | None = None,
    ) -> bool:
        """Whether a record of the platform database (a case, an appeal) is visible: by its
        enterprise when it concerns one (credit code), else by its division.

        A department user (a scope with `department`) sees only records routed to its own
        department (`department`, e.g. an appeal's 承办部门), within its region. A
        workflow-limited user (`workflows`) sees only cases of those workflows (`workflow`)
        whose division is inside its region, whichever enterprise they concern."""
        if self.workflows is not None:
            return (
                workflow in self.workflows
                and division_code is not None
                and division_code.startswith(self.prefix)
            )
        if self.department is not None and department != self.department:
            return False
        if credit_code:
            return self.allows_enterprise(credit_code, division_code)
        return self.allows_division(division_code)

    def where(
        self,
        division_column: Any,
        code_column: Any,
        department_column: Any = None,
        workflow_column: Any = None,
    ) -> ColumnElement[bool]:
        """The SQLAlchemy condition that keeps platform-database rows inside this scope, the
        same rule as `allows_record` (a row without a credit code is a region's, which no
        pinned scope sees; a department user sees only rows routed to its department; a
        workflow-limited user only cases of its workflows, and no row that is not a case)."""
        if self.workflows is not None:
            if workflow_column is None:
                return false()
            return and_(
                workflow_column.in_(sorted(self.workflows)),
                division_column.startswith(self.prefix, autoescape=True) if self.prefix else true(),
            )
        if self.department is not None:
            if department_column is None:
                return false()
            region = division_column.startswith(self.prefix, autoescape=True) if self.prefix else true()
            return and_(department_column == self.department, region)
        if self.credit_code is not None:
            return code_column == self.credit_code
        if self.enterprises is not None:
            return code_column.in_(sorted(self.enterprises)) if self.enterprises else false()
        if not self.prefix:
            return true()
        return division_column.startswith(self.prefix, autoescape=True)

    def allows_department(self, department: str) -> bool:
        """Whether departmental files (batches) of `department` are visible.

        Batches are province-wide files whose rejected rows carry raw values of enterprises
        in every county, so only a province-wide scope may read them: a liaison only for its
        own department, an unrestricted scope (admin) or a province-wide one for every
        department. A region below the province, an enterprise or a service worker, none.
        """
        if self.pinned:
            return False
        if self.department is not None:
            return department == self.department
        return self.covers_province

    def allows_source(self, source_id: str) -> bool:
        """Whether batches of the data source `source_id` (see contracts.yaml) are visible."""
        from jingxin.core.contracts import load_contracts

        src = load_contracts().sources.get(source_id)
        return src is not None and self.allows_department(src.department)

    def visible_sources(self) -> list[str]:
        """Ids of the data sources whose batches this scope may see, in contract order."""
        from jingxin.core.contracts import load_contracts

        return [s.id for s in load_contracts().sources.values() if self.allows_department(s.department)]

    def restrict_batches(self, batches: ibis.Table, source_column: str = "source") -> ibis.Table:
        """Rows of the batch registry (or any table with a source column) inside this scope."""
        if not self.pinned and self.department is None and not self.prefix:
            return batches
        visible = self.visible_sources()
        if not visible:
            return batches.limit(0)
        return batches.filter(batches[source_column].isin(visible))

    def restrict(
        self,
        table: ibis.Table,
        county_column: str | None = "county_code",
        code_column: str | None = "credit_code",
        registry: ibis.Table | None = None,
    ) -> ibis.Table:
        """Rows of `table` inside this scope.

        A table without a county column is restricted through `registry` (credit code ->
        county), so facts such as tax rows follow their enterprise's division. A
        workflow-limited scope (finance) reads no warehouse row at all.
        """
        if self.workflows is not None:
            return table.limit(0)
        if self.credit_code is not None:
            if code_column is None:
                return table.limit(0)
            return table.filter(table[code_column] == self.credit_code)
        if self.enterprises is not None:
            if code_column is None or not self.enterprises:
                return table.limit(0)
            return table.filter(table[code_column].isin(sorted(self.enterprises)))
        if not self.prefix:
            return table
        if county_column is not None and county_column in table.columns:
            return table.filter(table[county_column].startswith(self.prefix))
        if registry is not None and code_column is not None:
            inside = registry.filter(registry.county_code.startswith(self.prefix)).select(
                registry.credit_code.name(code_column)
            )
            return table.semi_join(inside, code_column)
        raise ValueError("cannot restrict a table that has neither a county column nor a registry")


EVERYTHING = Scope()
