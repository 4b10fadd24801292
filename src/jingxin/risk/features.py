"""Characteristics per enterprise and month (企业月度风险特征) from the warehouse, as Ibis.

One portable expression (DuckDB, PostgreSQL, PySpark) over the current facts of the risk
sources: the spine is the 人社 insured headcount (every enterprise the platform follows, every
month); tax, utilities, credit and court facts are joined to it and turned into changes over
six months, arrears against the usual bill, the bank's classification and counts of lawsuits.
Each row keeps the batch of every fact it read (`*_batch`), so a grade traces back to files.
"""

from __future__ import annotations

import ibis
from ibis import _

from jingxin.core.warehouse import Warehouse

LOAN_LEVEL = {"正常": 0, "关注": 1, "次级": 2, "可疑": 3, "损失": 4}

# Characteristics the scorecard may use, with the words an official and an owner understand.
CHARACTERISTICS: dict[str, str] = {
    "insured_change_6m": "参保人数较半年前变化",
    "tax_change_6m": "近三月纳税较半年前变化",
    "tax_arrears_ratio": "欠税余额相当于月均纳税的倍数",
    "power_change_6m": "近三月电费较半年前变化（用电变化）",
    "power_arrears_ratio": "电费欠费相当于月均电费的倍数",
    "loan_level": "银行贷款五级分类",
    "overdue_ratio": "逾期贷款占贷款余额比例",
    "lawsuits_6m": "近六个月作为被告的诉讼数",
    "seizures_6m": "近六个月财产保全（查封冻结）数",
}
LINEAGE_COLUMNS = ("insured_batch", "tax_batch", "power_batch", "credit_batch")


def _rolling(table: ibis.Table, col: str, rows: int) -> ibis.Value:
    w = ibis.window(group_by=table.credit_code, order_by=table.month, preceding=rows - 1, following=0)
    return table[col].mean().over(w)


def _lag(table: ibis.Table, value: ibis.Value, months: int) -> ibis.Value:
    return value.lag(months).over(ibis.window(group_by=table.credit_code, order_by=table.month))


def _safe_ratio(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    # float first: PostgreSQL divides integers (head counts) as integers, DuckDB does not
    return ibis.cases((den > 0, num.cast("float64") / den), else_=ibis.null("float64"))


def feature_expr(wh: Warehouse) -> ibis.Table:
    """Enterprise-month characteristics of every month the warehouse holds (Ibis expression)."""
    insured = wh.current("insured").select("credit_code", "month", "insured_count", insured_batch=_.batch_id)
    tax = wh.current("tax_monthly").select(
        "credit_code", "month", "tax_due", tax_arrears=_.arrears.fill_null(0), tax_batch=_.batch_id
    )
    power = (
        wh.current("utility")
        .filter(_.utility == "电费")
        .select(
            "credit_code", "month", "billed", power_arrears=_.arrears.fill_null(0), power_batch=_.batch_id
        )
    )
    level = ibis.cases(*[(_.loan_class == k, v) for k, v in LOAN_LEVEL.items()], else_=0)
    credit = wh.current("credit").select(
        "credit_code",
        "month",
        "loan_balance",
        overdue=_.overdue.fill_null(0),
        loan_level=level,
        credit_batch=_.batch_id,
    )
    court = wh.current("court").mutate(month=_.filed_on.truncate("M"))
    court = court.group_by(["credit_code", "month"]).aggregate(
        lawsuits=(_.party_role == "被告").sum(),
        enforcements=(_.party_role == "被执行人").sum(),
        seizures=(_.party_role == "被申请人").sum(),
    )
    t = (
        insured.left_join(tax, ["credit_code", "month"])
        .select(~ibis.selectors.matches("_right$"))
        .left_join(power, ["credit_code", "month"])
        .select(~ibis.selectors.matches("_right$"))
        .left_join(credit, ["credit_code", "month"])
        .select(~ibis.selectors.matches("_right$"))
        .left_join(court, ["credit_code", "month"])
        .select(~ibis.selectors.matches("_right$"))
    )
    t = t.mutate(
        lawsuits=_.lawsuits.fill_null(0),
        enforcements=_.enforcements.fill_null(0),
        seizures=_.seizures.fill_null(0),
        has_loan=_.loan_balance.notnull(),
    )
    t = t.mutate(
        tax_3m=_rolling(t, "tax_due", 3),
        tax_12m=_rolling(t, "tax_due", 12),
        power_3m=_rolling(t, "billed", 3),
        power_12m=_rolling(t, "billed", 12),
        lawsuits_6m=t.lawsuits.sum().over(
            ibis.window(group_by=t.credit_code, order_by=t.month, preceding=5, following=0)
        ),
        seizures_6m=t.seizures.sum().over(
            ibis.window(group_by=t.credit_code, order_by=t.month, preceding=5, following=0)
        ),
    )
    t = t.mutate(
        insured_change_6m=_safe_ratio(t.insured_count, _lag(t, t.insured_count, 6)) - 1,
        tax_change_6m=_safe_ratio(t.tax_3m, _lag(t, t.tax_3m, 6)) - 1,
        power_change_6m=_safe_ratio(t.power_3m, _lag(t, t.power_3m, 6)) - 1,
        tax_arrears_ratio=_safe_ratio(t.tax_arrears, t.tax_12m).fill_null(0),
        power_arrears_ratio=_safe_ratio(t.power_arrears, t.power_12m).fill_null(0),
        overdue_ratio=_safe_ratio(t.overdue, t.loan_balance).fill_null(0),
        loan_level=t.loan_level.fill_null(0),
    )
    return t.select(
        "credit_code",
        "month",
        *CHARACTERISTICS,
        "enforcements",
        "seizures",
        "lawsuits",
        "insured_count",
        "tax_due",
        "billed",
        "has_loan",
        *LINEAGE_COLUMNS,
    ).order_by(["credit_code", "month"])


def load_features(wh: Warehouse):  # -> pandas.DataFrame
    """The characteristics as a pandas frame (month as a Timestamp of the month's first day)."""
    import pandas as pd

    df = wh.execute(feature_expr(wh))
    df["month"] = pd.to_datetime(df["month"])
    return df
