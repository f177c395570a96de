"""Telegram update ids already taken (`handled_update`): a second delivery of one is dropped.
SQL only; never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.coordination import HandledUpdate


async def take(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Remember `update_id`; False if it was taken before (by this or another process)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(HandledUpdate)
        .values(update_id=update_id, handled_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(HandledUpdate.update_id)
    )
    return (await session.execute(stmt)).first() is not None


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Drop ids taken before `before` (Telegram delivers an update again for 24 h at most)."""
    result = await session.execute(delete(HandledUpdate).where(HandledUpdate.handled_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
