"""Policy test cases in YAML, OpenFisca style (政策测试用例): given facts → eligible, amount.

A case file lists cases for one policy::

    - name: A类制造业全额减免
      day: 2021-06-01                 # the decision date (validity, dated parameters)
      facts: {manufacturing: true, mu_class: A, area_mu: 10}
      eligible: true
      amount: 40000.2                 # 元, compared to the cent
      single_fact: null               # optional: the one fact that would change the decision

Facts not given are missing (NULL). The case runs through the very same Ibis expression as the
matching of the whole province, on an in-memory DuckDB.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import ibis
import yaml

from jingxin.policies.config import Policy
from jingxin.policies.facts import FACTS, batch_column
from jingxin.policies.matching import match, trace

_TYPES = {"number": "float64", "text": "string", "bool": "boolean"}


def facts_memtable(rows: list[dict[str, Any]]) -> ibis.Table:
    """A facts table from plain rows (credit_code and county_code default to test values)."""
    schema = {"credit_code": "string", "name": "string", "county_code": "string", "city_code": "string"}
    schema.update({name: _TYPES[f.kind] for name, f in FACTS.items() if name not in schema})
    for source in {f.source for f in FACTS.values()}:
        schema[batch_column(source)] = "string"
    data: dict[str, list[Any]] = {k: [] for k in schema}
    for i, row in enumerate(rows):
        unknown = set(row) - set(schema)
        if unknown:
            raise ValueError(f"用例中有未知数据项：{'、'.join(sorted(unknown))}；可用：{'、'.join(FACTS)}")
        full = {"credit_code": f"T{i:017d}", "county_code": "330106", "city_code": "330100", **row}
        for k in schema:
            data[k].append(full.get(k))
    return ibis.memtable(data, schema=schema)


@functools.lru_cache(maxsize=1)
def _connection() -> Any:
    """One in-memory DuckDB for all cases of a process (opening one per case costs more than the case)."""
    return ibis.duckdb.connect()


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(cases, list):
        raise ValueError(f"{path}: 应为用例列表")
    for i, case in enumerate(cases, start=1):
        missing = {"name", "day", "facts", "eligible"} - set(case)
        if missing:
            raise ValueError(f"{path} 第{i}个用例缺少：{'、'.join(sorted(missing))}")
    return cases


def run_case(policy: Policy, case: dict[str, Any]) -> dict[str, Any]:
    """Decide one case; returns the trace (eligible, amount, conditions, change)."""
    day = case["day"] if isinstance(case["day"], dt.date) else dt.date.fromisoformat(str(case["day"]))
    table = match(facts_memtable([case["facts"]]), policy, day, case.get("parameters"))
    row = _connection().to_pyarrow(table).to_pylist()[0]
    return trace(row, policy, day, case.get("parameters"))
