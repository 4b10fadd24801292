"""The chains' stored months as a scheduled job (产业链月度刷新): the default schedule is
written on start, due on the 16th, starts one `chains.refresh` job that the job runtime runs
against the warehouse, and the month is stored with the same rates the pages compute; the
months a run picks, and the refusals."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from sqlalchemy import select

from jingxin.chains import compute, store
from jingxin.chains.jobs import RefreshParams, months_to_refresh
from jingxin.core.jobs import JobRefused, schedules
from jingxin.core.jobs.models import Job, JobSchedule
from jingxin.core.jobs.registry import load_kinds
from jingxin.core.scope import EVERYTHING
from jingxin.core.warehouse import open_warehouse

pytest_plugins = ["jingxin.chains.testing", "jingxin.web.pytest_fixtures"]

CST = dt.timezone(dt.timedelta(hours=8))


def test_months_a_run_refreshes() -> None:
    auto = RefreshParams()
    assert months_to_refresh(auto, [], "2021-12") == ["2021-12"]
    # the newest stored month again (late or corrected invoices), then every newer one
    assert months_to_refresh(auto, ["2021-09", "2021-10"], "2021-12") == ["2021-10", "2021-11", "2021-12"]
    assert months_to_refresh(auto, ["2021-12"], "2021-12") == ["2021-12"]
    asked = RefreshParams(month="2021-11", through="2022-02")
    assert months_to_refresh(asked, [], "2021-12") == ["2021-11", "2021-12", "2022-01", "2022-02"]
    with pytest.raises(JobRefused, match="请先导入税务发票"):
        months_to_refresh(auto, [], None)
    with pytest.raises(JobRefused, match="早于"):
        months_to_refresh(RefreshParams(month="2021-11", through="2021-10"), [], "2021-12")
    with pytest.raises(JobRefused, match="一次最多刷新 24 个月"):
        months_to_refresh(RefreshParams(month="2019-01", through="2021-12"), [], "2021-12")
    with pytest.raises(JobRefused, match="同时给出 month"):
        months_to_refresh(RefreshParams(through="2021-12"), [], "2021-12")


@pytest.mark.duckdb
def test_the_monthly_schedule_stores_the_newest_month(chains_province, tmp_path, platform_db) -> None:
    from jingxin.core.jobs.runner import JobRuntime
    from jingxin.core.settings import Settings
    from jingxin.web.warehouse import WarehouseAccess

    target = tmp_path / "warehouse.duckdb"  # the job writes: a copy of the shared province
    shutil.copyfile(chains_province["url"].removeprefix("duckdb:///"), target)
    url = f"duckdb:///{target}"
    settings = Settings(home=tmp_path, database_url=platform_db.url, warehouse=url)
    load_kinds()
    with platform_db.session() as db:
        schedules.ensure_defaults(db)
        s = db.scalar(select(JobSchedule).where(JobSchedule.name == "chains-monthly"))
        assert s.enabled and s.kind == "chains.refresh" and (s.rule, s.day, s.at) == ("monthly", 16, "03:00")
        s.created_at = dt.datetime(2022, 1, 10, tzinfo=CST)
        db.commit()
        queued: list[int] = []
        assert schedules.tick(db, queued.append, dt.datetime(2022, 1, 15, 23, 0, tzinfo=CST)) == []
        started = schedules.tick(db, queued.append, dt.datetime(2022, 1, 16, 4, 0, tzinfo=CST))
        chains_jobs = [j for j in started if db.get(Job, j).kind == "chains.refresh"]
        assert len(chains_jobs) == 1

    warehouse = WarehouseAccess(url)
    runtime = JobRuntime(settings, platform_db, warehouse)
    try:
        runtime.execute(chains_jobs[0])
        with platform_db.session() as db:
            job = db.get(Job, chains_jobs[0])
            assert job.status == "succeeded", job.error
            assert job.owner_name == "schedule:chains-monthly" and job.result["months"] == ["2021-12"]
    finally:
        runtime.huey.storage.close()
        warehouse.close()

    wh = open_warehouse(url)
    try:
        assert store.months(wh) == ["2021-12"]
        stored = pd.DataFrame(store.history(wh, EVERYTHING)["rates"]).set_index("chain_id")
        direct = compute.local_rates(wh, "2021-12", EVERYTHING, "chain", months=1).set_index("chain_id")
        assert len(stored) == len(direct) >= 5
        for ring in ("county", "city", "province"):
            pd.testing.assert_series_equal(
                stored[ring].sort_index(), direct[ring].sort_index(), check_names=False, rtol=1e-9
            )
    finally:
        wh.close()
