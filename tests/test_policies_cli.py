"""`jingxin policy list` and `jingxin policy match` (summary by county, one enterprise's trace,
a what-if with --set, refusals of unknown policies and parameters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from policies_helpers import XIHU, province_copy
from typer.testing import CliRunner

from jingxin.policies.cli import register

pytest_plugins = ["policies_helpers"]
pytestmark = pytest.mark.xdist_group("policies")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, policies_template: Path):
    url = province_copy(policies_template, tmp_path_factory.mktemp("policies_cli"))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(
        app, ["policy", *args, "--warehouse", url] if args[0] == "match" else ["policy", *args]
    )


def test_list_and_match(cli) -> None:
    res = cli("list", "--json")
    assert res.exit_code == 0 and len(json.loads(res.output)) >= 8
    res = cli("match", "--policy", "land_tax_relief", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["day"] == "2022-06-01" and out["data_year"] == 2021
    assert sum(r["eligible"] for r in out["by_county"]) == out["eligible"] > 0
    scoped = json.loads(cli("match", "--policy", "land_tax_relief", "--scope", XIHU, "--json").output)
    assert [r["county_code"] for r in scoped["by_county"]] == [XIHU]
    text = cli("match", "--policy", "land_tax_relief")
    assert "合计" in text.output and "符合" in text.output


def test_trace_and_what_if(cli) -> None:
    out = json.loads(cli("match", "--policy", "land_tax_relief", "--json").output)
    assert out["eligible"] > 0
    whatif = json.loads(cli("match", "--policy", "land_tax_relief", "--set", "relief_b=0", "--json").output)
    t = whatif["total"]
    assert t["eligible_before"] == out["eligible"] and t["amount_change"] < 0 and t["leaving"] == 0
    res = cli("match", "--policy", "rd_reward", "--set", "min_intensity=0.0", "--json")
    assert json.loads(res.output)["total"]["entering"] > 0
    bad = cli("match", "--policy", "no_such_policy")
    assert bad.exit_code != 0 and "no_such_policy" in bad.output
    bad = cli("match", "--policy", "land_tax_relief", "--set", "nope=1")
    assert bad.exit_code != 0 and "relief_a" in bad.output
