"""Small queries shared by several services. SQL only: add, flush, select; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog, City, DialogState, Official, OfficialTopic, Topic


async def official_by_tg(session: AsyncSession, tg_user_id: int) -> Official | None:
    return await session.scalar(select(Official).where(Official.tg_user_id == tg_user_id))


async def official_by_tg_for_update(session: AsyncSession, tg_user_id: int) -> Official | None:
    return await session.scalar(
        select(Official).where(Official.tg_user_id == tg_user_id).with_for_update()
    )


async def city_by_id(session: AsyncSession, city_id: int | None) -> City | None:
    if city_id is None:
        return None
    return await session.get(City, city_id)


async def city_by_name(session: AsyncSession, name: str) -> City | None:
    """Exact name first, then case-insensitive (SQLite lower() is ASCII-only, so compare here)."""
    city = await session.scalar(select(City).where(City.name == name))
    if city is not None:
        return city
    wanted = name.casefold().strip()
    for candidate in await session.scalars(select(City)):
        if candidate.name.casefold() == wanted:
            return candidate
    return None


async def all_cities(session: AsyncSession) -> Sequence[City]:
    return (await session.scalars(select(City).order_by(City.country, City.name))).all()


async def all_topics(session: AsyncSession) -> Sequence[Topic]:
    return (await session.scalars(select(Topic).order_by(Topic.position, Topic.slug))).all()


async def topic_ids_of(session: AsyncSession, official_id: int) -> list[int]:
    rows = await session.scalars(
        select(OfficialTopic.topic_id).where(OfficialTopic.official_id == official_id)
    )
    return sorted(rows.all())


async def set_topics(session: AsyncSession, official_id: int, topic_ids: Sequence[int]) -> None:
    await session.execute(delete(OfficialTopic).where(OfficialTopic.official_id == official_id))
    session.add_all(
        OfficialTopic(official_id=official_id, topic_id=t) for t in sorted(set(topic_ids))
    )
    await session.flush()


async def get_dialog(session: AsyncSession, tg_user_id: int) -> DialogState | None:
    return await session.get(DialogState, tg_user_id)


async def put_dialog(
    session: AsyncSession, tg_user_id: int, step: str, data: dict[str, Any], now: datetime
) -> DialogState:
    state = await session.get(DialogState, tg_user_id)
    if state is None:
        state = DialogState(tg_user_id=tg_user_id, step=step, data=dict(data), updated_at=now)
        session.add(state)
    else:
        state.step = step
        state.data = dict(data)
        state.updated_at = now
    await session.flush()
    return state


async def clear_dialog(session: AsyncSession, tg_user_id: int) -> None:
    await session.execute(delete(DialogState).where(DialogState.tg_user_id == tg_user_id))


async def audit(
    session: AsyncSession,
    now: datetime,
    action: str,
    *,
    actor: Official | None = None,
    actor_tg_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    **details: Any,
) -> AuditLog:
    row = AuditLog(
        actor_id=actor.id if actor else None,
        actor_tg_id=actor.tg_user_id if actor else actor_tg_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row
