"""What the outbox is not to send any more: the rows still waiting of a cancelled broadcast, or
of a deleted or paused reminder. SQL only: callers own the transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Broadcast, BroadcastStatus, Delivery, DeliveryStatus


async def cancelled_broadcasts(session: AsyncSession, broadcast_ids: set[int]) -> set[int]:
    if not broadcast_ids:
        return set()
    rows = await session.scalars(
        select(Broadcast.id).where(
            Broadcast.id.in_(sorted(broadcast_ids)), Broadcast.status == BroadcastStatus.CANCELLED
        )
    )
    return set(rows.all())


async def cancel_broadcast(session: AsyncSession, broadcast_id: int) -> None:
    """A cancelled broadcast's rows not sent yet stay unsent. A copy already on its way keeps
    its claim, so the sender still records it as sent."""
    await session.execute(
        update(Delivery)
        .where(Delivery.broadcast_id == broadcast_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )


async def cancel_reminder(session: AsyncSession, reminder_id: int) -> None:
    """A deleted or paused reminder's rows not sent yet stay unsent."""
    await session.execute(
        update(Delivery)
        .where(Delivery.reminder_id == reminder_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED)
    )
