"""The tables replicas coordinate through (on one PostgreSQL database): the shared send limit,
the updates already taken and the admins' error alerts. Part of the schema (`bot.db.models`
re-exports them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
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


class AlertWindow(Base):
    """One kind of error (exception type and where it was met) alerted to the admins: no
    process alerts it again before `quiet_until`; the errors of the kind met meanwhile, in any
    process, are counted in `suppressed` and told with the next alert (bot/db/alert_windows.py).
    No user data: the kind is a type name and a place in the code."""

    __tablename__ = "alert_window"

    kind: Mapped[str] = mapped_column(String(400), primary_key=True)
    quiet_until: Mapped[datetime] = mapped_column()
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
