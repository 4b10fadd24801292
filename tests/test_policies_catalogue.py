"""Every shipped policy against its YAML cases (OpenFisca style): given facts → eligible and
amount, at thresholds and at the edges of the period of validity; and the catalogue's own
checks (sources on every parameter, a rule language that refuses code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jingxin.policies.casebook import load_cases, run_case
from jingxin.policies.config import PROJECT_DEFAULT, PolicyConfigError, load_catalogue, parse_policy
from jingxin.policies.rules import RuleError, parse_rule

CASES = Path(__file__).parent / "policies"


def _all_cases() -> list[pytest.param]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        for case in load_cases(path):
            out.append(pytest.param(path.stem, case, id=f"{path.stem}:{case['name']}"))
    return out


def test_every_policy_has_cases_and_there_are_at_least_eight() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 8
    assert {p.stem for p in CASES.glob("*.yaml")} == set(catalogue)


@pytest.mark.parametrize(("policy_id", "case"), _all_cases())
def test_policy_case(policy_id: str, case: dict) -> None:
    policy = load_catalogue()[policy_id]
    result = run_case(policy, case)
    assert result["eligible"] is case["eligible"], result["conditions"]
    if case["eligible"]:
        assert result["amount"] == pytest.approx(case["amount"], abs=0.005)
    else:
        assert result["amount"] is None
    if "single_fact" in case:
        assert result["change"]["single"] == case["single_fact"], result["change"]


def test_every_parameter_names_its_source() -> None:
    for policy in load_catalogue().values():
        assert policy.issuer and policy.document
        for name, p in policy.parameters.items():
            assert p.source, f"{policy.id}.{name}"
    sources = {p.source for pol in load_catalogue().values() for p in pol.parameters.values()}
    assert PROJECT_DEFAULT in sources and any("号" in s for s in sources)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id')",
        "revenue.__class__",
        "[x for x in revenue]",
        "lambda: 1",
        "revenue ** 2",
        "unknown_fact > 1",
        "1 < revenue < 2",
    ],
)
def test_rule_language_refuses_anything_else(text: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(text)


def test_a_bad_policy_file_says_where_and_what(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: bad\ntitle: t\nissuer: i\ndocument: d\nsummary: s\nvalid_from: 2020-01-01\nmode: direct\n"
        "conditions: [{id: a, label: a, test: 'revenue >= threshold'}]\nbenefit: '1'\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyConfigError, match=r"bad\.yaml.*threshold"):
        parse_policy(path)
