"""A small, safe expression language for indicator formulas (指标公式).

A formula such as ``tax_paid / area_mu`` or ``tax_paid / (kwh / 10000)`` is parsed with Python's
`ast` and translated node by node into an Ibis expression; nothing is ever evaluated by Python.
Only numbers, the fact columns below, ``+ - * /``, unary minus and the functions ``min``,
``max``, ``abs`` and ``coalesce`` are allowed, so a county editing a YAML file cannot run code.

Division is safe by construction: ``a / b`` becomes ``a / nullif(b, 0)``, so a zero denominator
gives a missing value (handled by the indicator's missing-data rule) on every backend, where
PostgreSQL would otherwise raise and DuckDB/Spark would return NULL or infinity.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache

import ibis


@dataclass(frozen=True)
class FactColumn:
    """A named fact an indicator formula may use, with the table it comes from."""

    source: str
    title: str
    unit: str


FACT_COLUMNS: dict[str, FactColumn] = {
    "area_mu": FactColumn("land", "用地面积", "亩"),
    "tax_paid": FactColumn("tax", "实缴税收", "万元"),
    "value_added": FactColumn("statistics", "工业增加值", "万元"),
    "revenue": FactColumn("statistics", "营业收入", "万元"),
    "rd_expense": FactColumn("statistics", "研发经费", "万元"),
    "employees": FactColumn("statistics", "年平均职工人数", "人"),
    "college_staff": FactColumn("statistics", "大专以上学历人数", "人"),
    "energy_tce": FactColumn("energy", "综合能耗", "吨标准煤"),
    "discharge_t": FactColumn("discharge", "主要污染物排放量", "吨"),
    "kwh": FactColumn("power_monthly", "年用电量（月度用电量合计）", "千瓦时"),
}
"""Per evaluation unit and year: sums over the unit's members (land: distinct parcels)."""

_FUNCTIONS = {"min": 2, "max": 2, "abs": 1, "coalesce": 2}


class FormulaError(ValueError):
    """A formula uses something outside the language."""


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr

    @property
    def columns(self) -> set[str]:
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}

    @property
    def ratio(self) -> tuple[ast.expr, ast.expr] | None:
        """(numerator, denominator) when the formula is a division at its top, else None.

        A division times a constant (``rd_expense / revenue * 100``) counts too: the constant
        joins the numerator. Sum-over-sum references and park aggregates (合计口径) divide the
        sums of these parts."""
        tree = self.tree
        if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Div):
            return tree.left, tree.right
        if (
            isinstance(tree, ast.BinOp)
            and isinstance(tree.op, ast.Mult)
            and isinstance(tree.left, ast.BinOp)
            and isinstance(tree.left.op, ast.Div)
            and isinstance(tree.right, ast.Constant)
        ):
            return ast.BinOp(tree.left.left, ast.Mult(), tree.right), tree.left.right
        return None

    def to_ibis(self, table: ibis.Table) -> ibis.Value:
        return to_ibis(self.tree, table)


def _check(node: ast.AST, text: str) -> None:
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            raise FormulaError(f"公式 {text!r} 只允许 + - * /")
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise FormulaError(f"公式 {text!r} 只允许一元负号")
        _check(node.operand, text)
    elif isinstance(node, ast.Name):
        if node.id not in FACT_COLUMNS:
            raise FormulaError(f"公式 {text!r} 中的 {node.id!r} 不是可用的数据项：{', '.join(FACT_COLUMNS)}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"公式 {text!r} 只允许数值常量")
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords or len(node.args) != _FUNCTIONS[name]:
            raise FormulaError(f"公式 {text!r} 只允许函数 min(a, b)、max(a, b)、abs(a)、coalesce(a, b)")
        for arg in node.args:
            _check(arg, text)
    else:
        raise FormulaError(f"公式 {text!r} 含不允许的语法 {type(node).__name__}")


@lru_cache(maxsize=256)
def parse_formula(text: str) -> Formula:
    """Parse and check `text`; raises FormulaError with a Chinese message when it is not allowed."""
    if not text or len(text) > 500:
        raise FormulaError("公式为空或过长")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"公式 {text!r} 语法错误：{exc.msg}") from exc
    _check(tree.body, text)
    return Formula(text, tree.body)


def to_ibis(node: ast.expr, table: ibis.Table) -> ibis.Value:
    """Translate a checked formula node into an Ibis expression over `table`'s columns."""
    if isinstance(node, ast.BinOp):
        left, right = to_ibis(node.left, table), to_ibis(node.right, table)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right.nullif(0)
    if isinstance(node, ast.UnaryOp):
        operand = to_ibis(node.operand, table)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Name):
        return table[node.id].cast("float64")
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return ibis.literal(float(node.value))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [to_ibis(a, table) for a in node.args]
        name = node.func.id
        if name == "min":
            return ibis.least(*args)
        if name == "max":
            return ibis.greatest(*args)
        if name == "abs":
            return args[0].abs()
        return ibis.coalesce(*args)
    raise FormulaError(f"无法翻译公式节点 {ast.dump(node)}")
