"""The outbox's backlog by state, for the metrics (`/metrics`). SQL only; never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Delivery, DeliveryStatus

STATES = ("due", "waiting", "claimed")


async def backlog(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Rows not sent yet: claimed (a sender holds them), due (any sender may take them now),
    waiting (a retry's backoff or a later time)."""
    state = case(
        (and_(Delivery.claimed_until.is_not(None), Delivery.claimed_until >= now), "claimed"),
        (Delivery.next_attempt_at <= now, "due"),
        else_="waiting",
    )
    rows = await session.execute(
        select(state, func.count()).where(Delivery.status == DeliveryStatus.PENDING).group_by(state)
    )
    counts = dict.fromkeys(STATES, 0)
    counts.update({str(s): int(n) for s, n in rows})
    return counts
