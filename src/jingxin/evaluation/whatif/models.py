"""Saved what-if scenarios (保存的情景), in the platform database.

A scenario is named by its author, belongs to one system, year and county, and holds only the
changed parameters (`scenario.Scenario` as JSON). Adopting one (`store.adopt`, admin only)
writes the county's override file and records who adopted it when; nothing is written to the
official results until then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, utcnow


class WhatIfScenario(Base):
    """One saved scenario."""

    __tablename__ = "whatif_scenarios"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    params: Mapped[str] = mapped_column(Text)
    """The changed parameters (`Scenario.model_dump_json`)."""
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    adopted_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    adopted_at: Mapped[datetime | None] = mapped_column(default=None)
    override_path: Mapped[str | None] = mapped_column(Text, default=None)
