"""A fix for the pinned sqlglot (28.10.1) that the warehouse relies on.

PostgreSQL has no SEMI JOIN; sqlglot rewrites one into `WHERE EXISTS (...)`, but it pops the
joins from the list it is iterating, so in a query with two semi joins in a row (for example
current facts, themselves a semi join on live batches, semi-joined to a set of enterprises) the
second one is skipped and PostgreSQL receives `LEFT SEMI JOIN`. This replaces the rewrite with
one that iterates over a copy. Remove when sqlglot is upgraded past the fix.
"""

from __future__ import annotations

from sqlglot import exp, transforms
from sqlglot.dialects.postgres import Postgres


def eliminate_semi_and_anti_joins(expression: exp.Expression) -> exp.Expression:
    if isinstance(expression, exp.Select):
        for join in list(expression.args.get("joins") or []):
            on = join.args.get("on")
            if on and join.kind in ("SEMI", "ANTI"):
                exists: exp.Expression = exp.Exists(this=exp.select("1").from_(join.this).where(on))
                if join.kind == "ANTI":
                    exists = exists.not_(copy=False)
                join.pop()
                expression.where(exists, copy=False)
    return expression


Postgres.Generator.TRANSFORMS[exp.Select] = transforms.preprocess(
    [eliminate_semi_and_anti_joins, transforms.eliminate_qualify]
)
