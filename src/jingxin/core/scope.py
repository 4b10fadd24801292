"""Region scope (数据权限范围): the one place where what a user may see is decided.

Every data-access function in the platform takes a `Scope` and passes its queries through
`Scope.restrict` (warehouse, Ibis) or `Scope.allows_*` (single objects). Routes and templates
never filter on their own, so a new page cannot forget the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis


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
    batches of its own department's sources.
    """

    division: str | None = None
    credit_code: str | None = None
    department: str | None = None

    @property
    def prefix(self) -> str:
        return division_prefix(self.division) if self.division else ""

    def allows_division(self, code: str | None) -> bool:
        if self.credit_code is not None:
            return False  # an enterprise sees itself, not a region
        return code is not None and code.startswith(self.prefix)

    def allows_enterprise(self, credit_code: str, county_code: str | None) -> bool:
        if self.credit_code is not None:
            return credit_code == self.credit_code
        return county_code is not None and county_code.startswith(self.prefix)

    def restrict(
        self,
        table: ibis.Table,
        county_column: str | None = "county_code",
        code_column: str | None = "credit_code",
        registry: ibis.Table | None = None,
    ) -> ibis.Table:
        """Rows of `table` inside this scope.

        A table without a county column is restricted through `registry` (credit code ->
        county), so facts such as tax rows follow their enterprise's division.
        """
        if self.credit_code is not None:
            if code_column is None:
                return table.limit(0)
            return table.filter(table[code_column] == self.credit_code)
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
