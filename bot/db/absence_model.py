"""The absence table (re-exported by bot.db.models): an official away between two moments,
with an optional deputy who receives their questions meanwhile."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class Absence(Base):
    __tablename__ = "absence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(
        ForeignKey("official.id", ondelete="CASCADE"), index=True
    )
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    # Local midnight of the first day away and of the day after the last, in UTC.
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()  # came back early
    summary_sent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
