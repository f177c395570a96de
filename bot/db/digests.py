"""The weekly digest's reads: the opted-in officials whose digest may be due (with their city),
and the open, unanswered questions in a set of topics.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.absences import is_away
from bot.db.models import City, Official, OfficialStatus, Question, QuestionStatus, Topic


class DigestCandidate(NamedTuple):
    official: Official
    city: City | None  # their city (its timezone and calendar); None without a city


class UnansweredQuestion(NamedTuple):
    question: Question
    topic: Topic
    city: City | None  # the asker's city


async def officials_due(
    session: AsyncSession, now: datetime, handled_before: datetime, limit: int
) -> list[DigestCandidate]:
    """Active officials who opted in, are not away, and whose last digest slot was handled
    before then (or never), locked (FOR UPDATE SKIP LOCKED on PostgreSQL); by id."""
    rows = await session.execute(
        select(Official, City)
        .outerjoin(City, City.id == Official.city_id)
        .where(
            Official.digest_opt_in.is_(True),
            Official.status == OfficialStatus.ACTIVE,
            ~is_away(Official.id, now),
            or_(Official.last_digest_at.is_(None), Official.last_digest_at <= handled_before),
        )
        .order_by(Official.id)
        .limit(limit)
        .with_for_update(of=Official, skip_locked=True)
    )
    return [DigestCandidate(official, city) for official, city in rows.all()]


def _unanswered(topic_ids: Collection[int], except_asker_id: int) -> tuple[ColumnElement[Any], ...]:
    return (
        Question.status == QuestionStatus.OPEN,
        Question.first_answer_at.is_(None),
        Question.topic_id.in_(sorted(topic_ids)),
        Question.asker_id != except_asker_id,
    )


async def count_unanswered(
    session: AsyncSession, topic_ids: Collection[int], except_asker_id: int
) -> int:
    """Open questions in these topics without any answer, but this official's own."""
    where = _unanswered(topic_ids, except_asker_id)
    return int(await session.scalar(select(func.count()).select_from(Question).where(*where)) or 0)


async def newest_unanswered(
    session: AsyncSession, topic_ids: Collection[int], except_asker_id: int, limit: int
) -> list[UnansweredQuestion]:
    """The newest of those questions, with their topic and city."""
    rows = await session.execute(
        select(Question, Topic, City)
        .join(Topic, Topic.id == Question.topic_id)
        .outerjoin(City, City.id == Question.city_id)
        .where(*_unanswered(topic_ids, except_asker_id))
        .order_by(Question.created_at.desc(), Question.id.desc())
        .limit(limit)
    )
    return [UnansweredQuestion(q, t, c) for q, t, c in rows.all()]
