"""Broadcasts: the organiser's locked draft, the broadcast rows, their delivery counts, and the
compare-and-set claims of the progress job. SQL only: add, flush, select, update; never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Broadcast, BroadcastStatus, Delivery, DialogState, Official

LIVE = (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)


class Sending(NamedTuple):
    """A broadcast being sent, with what its progress message needs of its author."""

    id: int
    progress_at: datetime | None
    progress_chat_id: int | None
    progress_message_id: int | None
    author_locale: str | None
    author_status: str | None


async def dialog_for_update(session: AsyncSession, tg_user_id: int) -> DialogState | None:
    """The person's dialog row (where a draft lives), locked until the transaction ends."""
    return await session.scalar(
        select(DialogState).where(DialogState.tg_user_id == tg_user_id).with_for_update()
    )


async def add(session: AsyncSession, **fields: Any) -> Broadcast:
    broadcast = Broadcast(**fields)
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def for_update(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.scalar(
        select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
    )


async def latest(session: AsyncSession, *, live: bool, limit: int) -> Sequence[Broadcast]:
    """The newest broadcasts that are scheduled or sending (`live`), or the others."""
    status = Broadcast.status.in_(LIVE) if live else Broadcast.status.not_in(LIVE)
    query = select(Broadcast).where(status).order_by(Broadcast.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def author_names(session: AsyncSession, official_ids: set[int]) -> dict[int, str | None]:
    if not official_ids:
        return {}
    rows = await session.execute(
        select(Official.id, Official.name).where(Official.id.in_(official_ids))
    )
    return {oid: name for oid, name in rows}


async def delivery_counts(
    session: AsyncSession, broadcast_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """For each broadcast, its delivery rows counted by status (every id is in the result)."""
    if not broadcast_ids:
        return {}
    rows = await session.execute(
        select(Delivery.broadcast_id, Delivery.status, func.count())
        .where(Delivery.broadcast_id.in_(broadcast_ids))
        .group_by(Delivery.broadcast_id, Delivery.status)
    )
    raw: dict[int, dict[str, int]] = {i: {} for i in broadcast_ids}
    for bid, status, n in rows:
        if bid is not None:  # always: the rows are those of these broadcasts
            raw[bid][status] = int(n)
    return raw


async def start_due(session: AsyncSession, now: datetime) -> None:
    """Scheduled broadcasts whose time has come start sending."""
    await session.execute(
        update(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now)
        .values(status=BroadcastStatus.SENDING, started_at=now)
        .execution_options(synchronize_session=False)
    )


async def sending(session: AsyncSession) -> list[Sending]:
    rows = await session.execute(
        select(
            Broadcast.id,
            Broadcast.progress_at,
            Broadcast.progress_chat_id,
            Broadcast.progress_message_id,
            Official.locale,
            Official.status,
        )
        .outerjoin(Official, Official.id == Broadcast.author_id)
        .where(Broadcast.status == BroadcastStatus.SENDING)
        .order_by(Broadcast.id)
    )
    return [Sending(*row) for row in rows]


async def claim_progress(
    session: AsyncSession,
    broadcast_id: int,
    seen_progress_at: datetime | None,
    *,
    final: bool,
    now: datetime,
    sent: int,
    failed: int,
    unreachable: int,
) -> bool:
    """Compare-and-set: record this progress tick (or the end) unless another worker did."""
    claim = update(Broadcast).where(
        Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SENDING
    )
    if final:
        claim = claim.values(status=BroadcastStatus.DONE, finished_at=now, progress_at=now)
    else:
        claim = claim.where(
            Broadcast.progress_at.is_(None)
            if seen_progress_at is None
            else Broadcast.progress_at == seen_progress_at
        ).values(progress_at=now)
    claim = claim.values(sent=sent, failed=failed, unreachable=unreachable)
    result = await session.execute(claim.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def set_progress_message(session: AsyncSession, broadcast_id: int, message_id: int) -> None:
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .values(progress_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
