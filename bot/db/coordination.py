"""The tables replicas coordinate through (on one PostgreSQL database): the shared send limit
and the updates already taken. Part of the schema (`bot.db.models` re-exports them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class SendPace(Base):
    """Telegram's overall limit shared by every sender on one PostgreSQL database: the time
    from which the next send slot is free (one row). A sender reserves a few slots with one
    conditional UPDATE (bot/db/send_pace.py)."""

    __tablename__ = "send_pace"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_at: Mapped[datetime] = mapped_column()


class HandledUpdate(Base):
    """Telegram update ids already taken by a process: a second delivery (a slow webhook
    answer, a poller killed before confirming, another replica behind the load balancer) is
    acknowledged and dropped. Kept HANDLED_UPDATE_HOURS, beyond Telegram's 24 h."""

    __tablename__ = "handled_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(index=True)
