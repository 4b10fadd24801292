"""The demo: every department that sends data has a liaison account, and the demo evaluates a
generated province with every shipped system, parks (from the generated park files) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jingxin import demo
from jingxin.core.contracts import load_contracts
from jingxin.core.warehouse import open_warehouse

pytest_plugins = ["jingxin.web.pytest_fixtures"]


def test_every_source_has_a_named_demo_liaison_who_may_send_it(db_session: Any) -> None:
    from jingxin.accounts.demo import LIAISON_USERNAMES, create_demo_users
    from jingxin.core.auth import Role

    users = create_demo_users(db_session)
    liaisons = {u.department: u for u in users if u.role_enum is Role.LIAISON}
    for source_id, src in load_contracts().sources.items():
        liaison = liaisons.get(src.department)
        assert liaison is not None, f"no demo liaison for {src.department} ({source_id})"
        assert liaison.username == LIAISON_USERNAMES[src.department]
        assert liaison.scope.allows_source(source_id)
    assert liaisons["经信"].username == "liaison-jx"
    assert {"parks", "park-members"} <= {
        s for s in load_contracts().sources if liaisons["经信"].scope.allows_source(s)
    }


@pytest.mark.slow  # about 10 s: five systems evaluated
def test_demo_evaluates_every_shipped_system_on_a_generated_province(tmp_path: Path, capsys: Any) -> None:
    from jingxin.synth.generator import generate_province

    folder = tmp_path / "province"
    generate_province(folder, 800, (2021,), 3, annual_only=True)
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        demo._ingest(wh, folder)
        assert wh.execute(wh.table("parks").count()) > 0  # the generated park files were ingested
        demo._evaluate(wh, (2021, 2021))
        runs = wh.execute(wh.table("eval_runs").select("system", "level", "unit_count"))
    finally:
        wh.close()
    assert sorted(runs.system) == sorted(demo.DEMO_SYSTEMS)
    assert (runs.unit_count > 0).all()
    assert (runs[runs.system == "zhejiang_parks"].level == "park").all()
    assert "个园区" in capsys.readouterr().out


@pytest.mark.slow  # about 15 s: a small province, its places, one county index
def test_demo_adds_the_places_to_a_demo_built_without_them(tmp_path: Path) -> None:
    """A demo folder from before the places (no county figures, no 小微企业园 reports) gets them
    written, recorded in its manifest and ingested, so the county index and the park ratings
    have data; a fresh demo generates them with the rest (`places=True`)."""
    from jingxin.parks.service import rated_parks
    from jingxin.places.service import county_index, county_years
    from jingxin.synth.generator import generate_province
    from jingxin.synth.manifest import Manifest

    folder = tmp_path / "province"
    generate_province(folder, 120, (2021,), 3, annual_only=True)
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        demo._ingest(wh, folder)
        assert not demo._has_places(wh)
        demo._add_places(wh, folder, (2021, 2021), 3)
        assert demo._has_places(wh)
        manifest = Manifest.load(folder / "manifest.json")
        assert manifest.places and {f.source for f in manifest.files} >= {"county-stats", "park-reports"}
        assert county_years(wh) == [2021]
        ci = county_index(wh, 2021, draws=10)
        assert len(ci.group("counties").table) == 90
        assert len(rated_parks(wh, 2021)) > 100
        batches = wh.execute(wh.table("batches").count())
        demo._add_places(wh, folder, (2021, 2021), 3)  # the same files again change nothing
        assert wh.execute(wh.table("batches").count()) == batches
    finally:
        wh.close()
