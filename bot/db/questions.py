"""Questions and their threads: a question as asked, the asker's recent and open ones, the
questions waiting in an official's inbox, and the cities each one reached.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.catalogue import CityName
from bot.db.models import City, Official, OfficialStatus, Question, Routing


async def add(session: AsyncSession, **columns: Any) -> Question:
    """A new question, flushed (it has its id)."""
    question = Question(**columns)
    session.add(question)
    await session.flush()
    return question


async def get(session: AsyncSession, question_id: int) -> Question | None:
    return await session.get(Question, question_id)


async def asked_since(session: AsyncSession, asker_id: int, since: datetime) -> list[datetime]:
    """When this official asked their questions after `since`, oldest first."""
    rows = await session.scalars(
        select(Question.created_at)
        .where(Question.asker_id == asker_id, Question.created_at > since)
        .order_by(Question.created_at)
    )
    return list(rows.all())


async def of_asker(
    session: AsyncSession, asker_id: int, statuses: Collection[str], limit: int | None = None
) -> Sequence[Question]:
    """The asker's questions in these statuses, newest first."""
    query = (
        select(Question)
        .where(Question.asker_id == asker_id, Question.status.in_(list(statuses)))
        .order_by(Question.created_at.desc(), Question.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def reached_cities(
    session: AsyncSession, question_ids: Collection[int], statuses: Collection[str]
) -> dict[int, list[CityName]]:
    """Per question, the names of the cities it was delivered to (routing in `statuses`)."""
    cities: dict[int, list[CityName]] = {}
    rows = await session.execute(
        select(Routing.question_id, City.name, City.names)
        .join(City, City.id == Routing.city_id)
        .where(
            Routing.question_id.in_(sorted(question_ids)),
            Routing.delivered_at.is_not(None),
            Routing.status.in_(list(statuses)),
        )
        .group_by(Routing.question_id, City.id)
        .order_by(Routing.question_id, City.name)
    )
    for row in rows:
        cities.setdefault(row.question_id, []).append(CityName(row.name, row.names or {}))
    return cities


async def inbox(
    session: AsyncSession,
    recipient_id: int,
    waiting: Collection[str],
    open_statuses: Collection[str],
    limit: int,
) -> list[tuple[Routing, Question]]:
    """The routings of open questions still waiting for this official's answer, oldest first."""
    rows = await session.execute(
        select(Routing, Question)
        .join(Question, Question.id == Routing.question_id)
        .where(
            Routing.recipient_id == recipient_id,
            Routing.status.in_(list(waiting)),
            Question.status.in_(list(open_statuses)),
        )
        .order_by(Question.created_at, Question.id)
        .limit(limit)
    )
    return [(row.Routing, row.Question) for row in rows]


async def cities_to_route_to(session: AsyncSession, except_city_id: int | None) -> Sequence[City]:
    """Cities with an active official, but this one (the asker's): routing by hand."""
    with_officials = (
        select(Official.city_id)
        .where(
            Official.status == OfficialStatus.ACTIVE,
            Official.city_id.is_not(None),
            Official.city_id != (except_city_id or -1),
        )
        .distinct()
    )
    return (
        await session.scalars(
            select(City).where(City.id.in_(with_officials)).order_by(City.name, City.id)
        )
    ).all()


async def by_ids(session: AsyncSession, question_ids: Collection[int]) -> dict[int, Question]:
    if not question_ids:
        return {}
    found = await session.scalars(select(Question).where(Question.id.in_(sorted(question_ids))))
    return {q.id: q for q in found}
