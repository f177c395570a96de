"""Telegram update ids already taken (`handled_update`): a second delivery of one is dropped.
SQL only; never commit."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import dialect_name, upsert
from bot.db.coordination import HandledUpdate


async def take(session: AsyncSession, update_ids: Collection[int], now: datetime) -> set[int]:
    """Remember these update ids in one statement; returns those not taken before (by this or
    another process)."""
    dialect = dialect_name(session)
    stmt = (
        upsert(dialect, HandledUpdate)
        .values([{"update_id": i, "handled_at": now} for i in sorted(update_ids)])
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(HandledUpdate.update_id)
    )
    return set((await session.scalars(stmt)).all())


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Drop ids taken before `before` (Telegram delivers an update again for 24 h at most)."""
    result = await session.execute(delete(HandledUpdate).where(HandledUpdate.handled_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
