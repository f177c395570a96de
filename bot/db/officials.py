"""Officials and the topics they work on. SQL only: add, flush, select; never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Official, OfficialStatus, OfficialTopic, Role


async def official_by_tg(session: AsyncSession, tg_user_id: int) -> Official | None:
    return await session.scalar(select(Official).where(Official.tg_user_id == tg_user_id))


async def official_by_tg_for_update(session: AsyncSession, tg_user_id: int) -> Official | None:
    return await session.scalar(
        select(Official).where(Official.tg_user_id == tg_user_id).with_for_update()
    )


async def official_by_id(
    session: AsyncSession, official_id: int, *, for_update: bool = False
) -> Official | None:
    return await session.get(Official, official_id, with_for_update=for_update)


async def by_ids(session: AsyncSession, official_ids: Collection[int]) -> dict[int, Official]:
    if not official_ids:
        return {}
    found = await session.scalars(select(Official).where(Official.id.in_(sorted(official_ids))))
    return {o.id: o for o in found}


async def add_official(
    session: AsyncSession, *, tg_user_id: int, chat_id: int, locale: str, now: datetime
) -> Official:
    """A new person, registering, with no profile yet."""
    official = Official(
        tg_user_id=tg_user_id,
        chat_id=chat_id,
        locale=locale,
        status=OfficialStatus.REGISTERING,
        role=Role.OFFICIAL,
        languages=[],
        created_at=now,
        updated_at=now,
    )
    session.add(official)
    await session.flush()
    return official


async def organisers(session: AsyncSession, admin_tg_ids: Collection[int]) -> Sequence[Official]:
    """Active organisers and admins, the configured admins included, by number."""
    return (
        await session.scalars(
            select(Official)
            .where(
                Official.status == OfficialStatus.ACTIVE,
                (Official.role.in_([Role.ORGANISER, Role.ADMIN]))
                | (Official.tg_user_id.in_(sorted(admin_tg_ids) or [0])),
            )
            .order_by(Official.id)
        )
    ).all()


async def with_status(session: AsyncSession, status: OfficialStatus) -> Sequence[Official]:
    return (
        await session.scalars(
            select(Official).where(Official.status == status).order_by(Official.id)
        )
    ).all()


async def count_by_city(
    session: AsyncSession, statuses: Collection[OfficialStatus]
) -> dict[int | None, int]:
    """How many officials with one of `statuses` each city has (cities with none are left out)."""
    rows = await session.execute(
        select(Official.city_id, func.count())
        .where(Official.status.in_(list(statuses)))
        .group_by(Official.city_id)
    )
    return {city_id: int(n) for city_id, n in rows.all()}


async def in_city(
    session: AsyncSession, city_id: int, statuses: Collection[OfficialStatus]
) -> Sequence[Official]:
    """A city's officials with one of `statuses`, by name."""
    return (
        await session.scalars(
            select(Official)
            .where(Official.city_id == city_id, Official.status.in_(list(statuses)))
            .order_by(Official.name, Official.id)
        )
    ).all()


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


async def drop_topics(session: AsyncSession, official_id: int) -> None:
    await session.execute(delete(OfficialTopic).where(OfficialTopic.official_id == official_id))
