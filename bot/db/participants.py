"""The people of the exchange as it needs them: officials with their city, the organisers, and
the two sides of the thread a Telegram reply belongs to.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.models import (
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    Role,
    Routing,
    Topic,
)

WithCity = tuple[Official, City | None]


async def with_cities(session: AsyncSession, official_ids: Collection[int]) -> list[WithCity]:
    """These officials, each with their city (None when they have none)."""
    wanted = sorted(set(official_ids))
    if not wanted:
        return []
    rows = await session.execute(
        select(Official, City)
        .outerjoin(City, City.id == Official.city_id)
        .where(Official.id.in_(wanted))
    )
    return [(row.Official, row.City) for row in rows]


async def by_tg_with_city(session: AsyncSession, tg_user_id: int) -> WithCity | None:
    """The official behind a Telegram user, with their city, in one statement."""
    row = (
        await session.execute(
            select(Official, City)
            .outerjoin(City, City.id == Official.city_id)
            .where(Official.tg_user_id == tg_user_id)
        )
    ).first()
    return (row.Official, row.City) if row is not None else None


async def organisers(session: AsyncSession, admin_tg_ids: Collection[int]) -> list[WithCity]:
    """Active organisers and admins (by role, or by Telegram id from the settings)."""
    rows = await session.execute(
        select(Official, City)
        .outerjoin(City, City.id == Official.city_id)
        .where(
            Official.status == OfficialStatus.ACTIVE,
            Official.role.in_([Role.ORGANISER, Role.ADMIN])
            | Official.tg_user_id.in_(sorted(admin_tg_ids)),
        )
        .order_by(Official.id)
    )
    return [(row.Official, row.City) for row in rows]


@dataclass(frozen=True)
class ReplyThread:
    """What a Telegram reply to a logged message leads to."""

    me: WithCity  # the replier (the message was delivered to them)
    kind: str  # the kind of the message replied to
    from_official_id: int | None  # who wrote it
    question: Question
    routing: Routing | None  # the thread's routing row
    topic: Topic | None
    other: WithCity | None  # the other side of the thread


async def thread_by_reply(
    session: AsyncSession, chat_id: int, message_id: int, tg_user_id: int
) -> ReplyThread | None:
    """For a Telegram reply: the replier (by Telegram id) and their city, the logged message
    replied to (delivered to them), its question, the thread's routing row, the topic, and the
    other side with their city, in one statement. The routing row is the replier's own when
    they received the question or wrote the answer, the helper's when the asker replies to one.
    None when no message delivered to this person has these ids."""
    me, my_city, other, other_city = (
        aliased(Official, name="me"),
        aliased(City, name="my_city"),
        aliased(Official, name="other"),
        aliased(City, name="other_city"),
    )
    asker_replies = and_(ExchangeMessage.kind != ExchangeKind.ROUTING, Question.asker_id == me.id)
    helper = case((asker_replies, ExchangeMessage.from_official_id), else_=me.id)
    other_id = case((asker_replies, ExchangeMessage.from_official_id), else_=Question.asker_id)
    row = (
        await session.execute(
            select(
                me,
                my_city,
                ExchangeMessage.kind,
                ExchangeMessage.from_official_id,
                Question,
                Routing,
                Topic,
                other,
                other_city,
            )
            .select_from(ExchangeMessage)
            .join(me, me.id == ExchangeMessage.to_official_id)
            .join(Question, Question.id == ExchangeMessage.question_id)
            .outerjoin(my_city, my_city.id == me.city_id)
            .outerjoin(
                Routing, and_(Routing.question_id == Question.id, Routing.recipient_id == helper)
            )
            .outerjoin(Topic, Topic.id == Question.topic_id)
            .outerjoin(other, other.id == other_id)
            .outerjoin(other_city, other_city.id == other.city_id)
            .where(
                ExchangeMessage.delivered_chat_id == chat_id,
                ExchangeMessage.delivered_message_id == message_id,
                me.tg_user_id == tg_user_id,
            )
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return ReplyThread(
        me=(row.me, row.my_city),
        kind=row.kind,
        from_official_id=row.from_official_id,
        question=row.Question,
        routing=row.Routing,
        topic=row.Topic,
        other=(row.other, row.other_city) if row.other is not None else None,
    )
