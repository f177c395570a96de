"""The askers' ratings of answers: written (or changed) one per answered routing, read per
city for a period (statistics); routing reads them per city for a topic with its candidates
(bot/db/routings.py).

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.rating_models import AnswerRating

_USEFUL = func.sum(case((AnswerRating.useful.is_(True), 1), else_=0))


async def rate(
    session: AsyncSession, routing_id: int, city_id: int, topic_id: int, useful: bool, now: datetime
) -> None:
    """The asker's rating of one official's answers to their question; a new one replaces it."""
    row = await session.get(AnswerRating, routing_id)
    if row is None:
        session.add(
            AnswerRating(
                routing_id=routing_id,
                city_id=city_id,
                topic_id=topic_id,
                useful=useful,
                rated_at=now,
            )
        )
    else:
        row.useful, row.rated_at = useful, now
    await session.flush()


async def per_city(
    session: AsyncSession, since: datetime | None, until: datetime
) -> list[tuple[int, int, int]]:
    """(city, answers rated, rated useful) for ratings given in the period."""
    stmt = (
        select(AnswerRating.city_id, func.count(), _USEFUL)
        .where(AnswerRating.rated_at < until)
        .group_by(AnswerRating.city_id)
    )
    if since is not None:
        stmt = stmt.where(AnswerRating.rated_at >= since)
    return [(c, int(n), int(u or 0)) for c, n, u in await session.execute(stmt)]


async def useful_routings(session: AsyncSession, routing_ids: Collection[int]) -> set[int]:
    """Of these answered routings, the ones their asker rated useful."""
    if not routing_ids:
        return set()
    rows = await session.scalars(
        select(AnswerRating.routing_id).where(
            AnswerRating.routing_id.in_(bindparam("ids", expanding=True)),
            AnswerRating.useful.is_(True),
        ),
        {"ids": list(routing_ids)},
    )
    return set(rows.all())
