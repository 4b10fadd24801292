"""Tables of the 5G scenario (migration 0015_medical).

- `fiveg_attachments`: files an operator attached to its application (the workflow case),
  kept in the database (small: drawings, leases; at most 5 MB each) with their SHA-256.
- `fiveg_stations`: a station once reported built, and when it was powered on (开通).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, utcnow


class Attachment(Base):
    __tablename__ = "fiveg_attachments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Station(Base):
    __tablename__ = "fiveg_stations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id"), unique=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    site_type: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    built_on: Mapped[date] = mapped_column(Date)
    powered_on: Mapped[date | None] = mapped_column(Date, default=None)
