"""Telegram's send limits shared by every process on one PostgreSQL database.

Overall: `send_pace` (one row) holds the time from which the next send slot is free.
A sender reserves a few slots at once with one conditional upsert: the row moves on by
`slots × interval` from itself or from now, whichever is later, so slots handed to different
processes never overlap and are spaced `interval` apart. Times are the database's
(`clock_timestamp()`); the caller gets how far ahead of now its first slot is, so no two
hosts' clocks need to agree.

Per chat: a claim (`bot.db.outbox.claim`) skips the rows of a chat that another sender holds
or that was sent to within the chat's interval (`chat_free`), and claims run one at a time
(`one_claim_at_a_time`), so two senders never hold one chat's rows at once. `sent_at` comes
from the senders' clocks: hosts keep them in step (NTP).

PostgreSQL only (SQLite runs one process, paced in memory). SQL only; never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Interval, Table, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.base import upsert
from bot.db.coordination import SendPace
from bot.db.models import Delivery

SEND_PACE = cast(Table, SendPace.__table__)
ROW = 1


async def begin(session: AsyncSession) -> None:
    """Open the transaction first, so that `reserve` is one round trip the caller can time."""
    await session.execute(select(1))


async def reserve(session: AsyncSession, slots: int, interval: float) -> float:
    """Reserve `slots` slots `interval` seconds apart; returns the seconds from now to the
    first (negative never: at the earliest it is now)."""
    step = bindparam("step", timedelta(seconds=slots * interval), type_=Interval())
    now = func.clock_timestamp()
    stmt = (
        upsert("postgresql", SEND_PACE)
        .values(id=ROW, next_at=now + step)
        .on_conflict_do_update(
            index_elements=[SEND_PACE.c.id],
            set_={"next_at": func.greatest(SEND_PACE.c.next_at, now) + step},
        )
        .returning(func.extract("epoch", SEND_PACE.c.next_at - now))
    )
    ends_in = float((await session.execute(stmt)).scalar_one())
    return max(0.0, ends_in - slots * interval)


async def pause(session: AsyncSession, seconds: float) -> None:
    """Telegram answered 429 with `retry_after`: no slot before `seconds` from now."""
    until = func.clock_timestamp() + bindparam(
        "pause", timedelta(seconds=seconds), type_=Interval()
    )
    await session.execute(
        upsert("postgresql", SEND_PACE)
        .values(id=ROW, next_at=until)
        .on_conflict_do_update(
            index_elements=[SEND_PACE.c.id],
            set_={"next_at": func.greatest(SEND_PACE.c.next_at, until)},
        )
    )


# Any number a transaction-level advisory lock can be keyed by: "cxb claim".
CLAIM_LOCK = 0x63786220636C61


async def one_claim_at_a_time(session: AsyncSession) -> None:
    """Claims wait for each other until their transactions end (a claim is one short one)."""
    await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))


def chat_free(worker: str, now: datetime, gap: timedelta) -> ColumnElement[bool]:
    """The row's chat has no row held by another sender, nor one sent within `gap`."""
    other = aliased(Delivery)
    return ~exists().where(
        other.chat_id == Delivery.chat_id,
        other.id != Delivery.id,
        or_(
            and_(other.claimed_by != worker, other.claimed_until >= now),
            other.sent_at > now - gap,
        ),
    )
