"""The rule language of policies (政策规则): conditions and benefit formulas, safely.

A condition such as ``class in allowed_classes`` or ``tech_investment >= min_investment`` and a
formula such as ``min(tech_investment * 10000 * share, cap)`` are parsed with Python's `ast` and
translated node by node into Ibis; nothing is ever evaluated by Python (as in
`jingxin.evaluation.formula`). Names are facts (`facts.FACTS`) or the policy's parameters.

Allowed: numbers, strings, lists of constants, the facts and parameters, ``+ - * /``, unary
minus, comparisons (one operator: == != < <= > >= in, not in), ``and or not``,
``a if cond else b`` and the functions min, max, abs, coalesce. Division by zero gives NULL.
A NULL (missing fact) makes a condition false; the trace says which fact was missing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ibis

from jingxin.policies.facts import FACTS

_FUNCTIONS = {"min": 2, "max": 2, "abs": 1, "coalesce": 2}
_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


class RuleError(ValueError):
    """A rule that uses something outside the language (message in Chinese says what)."""


@dataclass(frozen=True)
class Rule:
    text: str
    tree: ast.expr

    @property
    def names(self) -> set[str]:
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}

    @property
    def facts(self) -> list[str]:
        """Facts the rule reads, in order of appearance."""
        seen: list[str] = []
        for n in ast.walk(self.tree):
            if isinstance(n, ast.Name) and n.id in FACTS and n.id not in seen:
                seen.append(n.id)
        return seen


def _check(node: ast.AST, text: str, params: set[str]) -> None:
    def bad(why: str) -> RuleError:
        return RuleError(f"规则 {text!r}：{why}")

    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, text, params)
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            raise bad("运算只允许 + - * /")
        _check(node.left, text, params)
        _check(node.right, text, params)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            raise bad("一元运算只允许负号和 not")
        _check(node.operand, text, params)
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            raise bad("比较只允许一个运算符（== != < <= > >= in not in）")
        _check(node.left, text, params)
        _check(node.comparators[0], text, params)
    elif isinstance(node, ast.IfExp):
        for part in (node.test, node.body, node.orelse):
            _check(part, text, params)
    elif isinstance(node, ast.Name):
        if node.id not in FACTS and node.id not in params:
            raise bad(f"{node.id!r} 既不是数据项也不是本政策的参数；数据项：{'、'.join(FACTS)}")
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool):
            raise bad("常量只允许数值、文字、True/False")
    elif isinstance(node, ast.List | ast.Tuple):
        for e in node.elts:
            if not isinstance(e, ast.Constant):
                raise bad("列表中只允许常量")
            _check(e, text, params)
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords or len(node.args) != _FUNCTIONS[name]:
            raise bad("函数只允许 min(a, b)、max(a, b)、abs(a)、coalesce(a, b)")
        for arg in node.args:
            _check(arg, text, params)
    else:
        raise bad(f"含不允许的语法 {type(node).__name__}")


@lru_cache(maxsize=1024)
def _parse(text: str, params: frozenset[str]) -> Rule:
    if not text or len(text) > 500:
        raise RuleError("规则为空或超过500字")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"规则 {text!r} 语法错误：{exc.msg}") from exc
    _check(tree.body, text, set(params))
    return Rule(text, tree.body)


def parse_rule(text: str, params: set[str] | frozenset[str] = frozenset()) -> Rule:
    """Parse and check `text`; `params` are the parameter names the policy declares."""
    return _parse(text, frozenset(params))


def to_ibis(node: ast.expr, table: ibis.Table, params: dict[str, Any]) -> Any:
    """Translate a checked rule node into an Ibis expression over `table` (the facts)."""
    if isinstance(node, ast.BoolOp):
        parts = [to_ibis(v, table, params) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if isinstance(node.op, ast.And) else (out | p)
        return out
    if isinstance(node, ast.BinOp):
        left, right = to_ibis(node.left, table, params), to_ibis(node.right, table, params)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right.nullif(0)
    if isinstance(node, ast.UnaryOp):
        operand = to_ibis(node.operand, table, params)
        if isinstance(node.op, ast.Not):
            return ~operand
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Compare):
        left = to_ibis(node.left, table, params)
        op = _COMPARE[type(node.ops[0])]
        right_node = node.comparators[0]
        if op in ("in", "not in"):
            values = _constant_list(right_node, params)
            expr = left.isin(values) if values else ibis.literal(False)
            return expr if op == "in" else ~expr
        right = to_ibis(right_node, table, params)
        return {
            "==": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[op]()
    if isinstance(node, ast.IfExp):
        return ibis.ifelse(
            to_ibis(node.test, table, params).fill_null(False),
            to_ibis(node.body, table, params),
            to_ibis(node.orelse, table, params),
        )
    if isinstance(node, ast.Name):
        if node.id in params:
            value = params[node.id]
            if isinstance(value, list):
                raise RuleError(f"参数 {node.id} 是列表，只能用在 in / not in 的右边")
            return ibis.literal(
                float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            )
        col = table[node.id]
        return col.cast("float64") if FACTS[node.id].kind == "number" else col
    if isinstance(node, ast.Constant):
        value = node.value
        return ibis.literal(float(value) if isinstance(value, int) and not isinstance(value, bool) else value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [to_ibis(a, table, params) for a in node.args]
        name = node.func.id
        if name == "min":
            return ibis.least(*args)
        if name == "max":
            return ibis.greatest(*args)
        if name == "abs":
            return args[0].abs()
        return ibis.coalesce(*args)
    raise RuleError(f"无法翻译规则节点 {ast.dump(node)}")


def _constant_list(node: ast.expr, params: dict[str, Any]) -> list[Any]:
    if isinstance(node, ast.Name) and node.id in params:
        value = params[node.id]
        return list(value) if isinstance(value, list | tuple) else [value]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]
    if isinstance(node, ast.Constant):
        return [node.value]
    raise RuleError("in / not in 的右边须为列表或列表参数")


# ---- what would change a decision (改变哪一项即可) -------------------------------------------

_FLIP = {
    "==": "须等于",
    "!=": "须不等于",
    "<": "须小于",
    "<=": "须不大于",
    ">": "须大于",
    ">=": "须不小于",
    "in": "须为以下之一",
    "not in": "须不为以下之一",
}


def requirement(rule: Rule, params: dict[str, Any]) -> dict[str, Any] | None:
    """What the single fact of a simple condition must be for it to hold, or None when the
    condition is not of the form ``fact OP value`` (or a bare true/false fact)."""
    node = rule.tree
    negate = False
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        node, negate = node.operand, True
    if isinstance(node, ast.Name) and node.id in FACTS:
        return {"fact": node.id, "op": "==", "value": not negate, "text": f"须为{'否' if negate else '是'}"}
    if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id in FACTS):
        return None
    op = _COMPARE[type(node.ops[0])]
    right = node.comparators[0]
    if op in ("in", "not in"):
        value: Any = _constant_list(right, params)
    elif isinstance(right, ast.Constant):
        value = right.value
    elif isinstance(right, ast.Name) and right.id in params:
        value = params[right.id]
    else:
        return None
    if negate:
        return None
    shown = "、".join(map(str, value)) if isinstance(value, list) else value
    return {"fact": node.left.id, "op": op, "value": value, "text": f"{_FLIP[op]} {shown}"}
