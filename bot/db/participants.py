"""The people of the exchange as it needs them: officials with their city, the organisers, and
the two sides of the thread a Telegram reply belongs to.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, case, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.absences import is_away
from bot.db.base import UTCDateTime
from bot.db.models import (
    City,
    DialogState,
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


class PersonRow(NamedTuple):
    """An official as the exchange shows them, with their city's name and timezone."""

    official_id: int
    chat_id: int
    locale: str
    name: str | None
    position: str | None
    city_id: int | None
    city_name: str | None
    timezone: str | None
    status: str
    name_latin: str | None
    city_names: dict[str, str] | None
    machine_translation: bool


class TopicRow(NamedTuple):
    id: int
    slug: str
    group: str
    names: dict[str, str]
    group_names: dict[str, str]


@dataclass(frozen=True)
class ReplyThread:
    """What a Telegram reply to a logged message leads to."""

    me: PersonRow  # the replier (the message was delivered to them)
    kind: str  # the kind of the message replied to
    from_official_id: int | None  # who wrote it
    question_id: int
    asker_id: int
    question_status: str
    question_text: str | None
    question_type: str
    # The thread's routing row (None when there is none).
    routing_id: int | None
    routing_recipient_id: int | None
    routing_answered_at: datetime | None
    topic: TopicRow | None
    other: PersonRow | None  # the other side of the thread
    # Whether the replier's dialog is at `answer_step` (the relay then ends it; otherwise the
    # relay's write has no dialog row to delete).
    answer_step_open: bool
    other_away: bool  # the other side is away now (/away): the replier is told who has it


def _person_columns(official: Any, city: Any, prefix: str) -> list[Any]:
    return [
        official.id.label(f"{prefix}_official_id"),
        official.chat_id.label(f"{prefix}_chat_id"),
        official.locale.label(f"{prefix}_locale"),
        official.name.label(f"{prefix}_name"),
        official.position.label(f"{prefix}_position"),
        official.city_id.label(f"{prefix}_city_id"),
        city.name.label(f"{prefix}_city_name"),
        city.timezone.label(f"{prefix}_timezone"),
        official.status.label(f"{prefix}_status"),
        official.name_latin.label(f"{prefix}_name_latin"),
        city.names.label(f"{prefix}_city_names"),
        official.machine_translation.label(f"{prefix}_machine_translation"),
    ]


def _person(row: Any, prefix: str) -> PersonRow | None:
    values = [getattr(row, f"{prefix}_{field}") for field in PersonRow._fields]
    return None if values[0] is None else PersonRow(*values)


def _reply_thread_statement() -> Select[Any]:
    """The replier (by Telegram id) and their city, the logged message replied to (delivered
    to them), its question, the thread's routing row, the topic, and the other side with
    their city, and whether they are away now. The routing row is the replier's own when they
    received the question or wrote the answer, the helper's when the asker replies to one."""
    me, my_city = aliased(Official, name="me"), aliased(City, name="my_city")
    other, other_city = aliased(Official, name="other"), aliased(City, name="other_city")
    asker_replies = and_(ExchangeMessage.kind != ExchangeKind.ROUTING, Question.asker_id == me.id)
    helper = case((asker_replies, ExchangeMessage.from_official_id), else_=me.id)
    other_id = case((asker_replies, ExchangeMessage.from_official_id), else_=Question.asker_id)
    return (
        select(
            *_person_columns(me, my_city, "me"),
            ExchangeMessage.kind,
            ExchangeMessage.from_official_id,
            Question.id.label("question_id"),
            Question.asker_id,
            Question.status.label("question_status"),
            Question.text.label("question_text"),
            Question.content_type.label("question_type"),
            Routing.id.label("routing_id"),
            Routing.recipient_id.label("routing_recipient_id"),
            Routing.answered_at.label("routing_answered_at"),
            Topic.id.label("topic_id"),
            Topic.slug.label("topic_slug"),
            Topic.group.label("topic_group"),
            Topic.names.label("topic_names"),
            Topic.group_names.label("topic_group_names"),
            *_person_columns(other, other_city, "other"),
            exists()
            .where(
                DialogState.tg_user_id == me.tg_user_id,
                DialogState.step == bindparam("answer_step"),
            )
            .label("answer_step_open"),
            is_away(other.id, bindparam("now", type_=UTCDateTime())).label("other_away"),
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
            ExchangeMessage.delivered_chat_id == bindparam("chat_id"),
            ExchangeMessage.delivered_message_id == bindparam("message_id"),
            me.tg_user_id == bindparam("tg_user_id"),
        )
        .limit(1)
    )


# Built once: every Telegram reply runs it, and building it (aliases, joins) costs more
# Python than running it.
REPLY_THREAD = _reply_thread_statement()


async def thread_by_reply(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    tg_user_id: int,
    answer_step: str,
    now: datetime,
) -> ReplyThread | None:
    """For a Telegram reply, in one statement: see `_reply_thread_statement`. None when no
    message delivered to this person has these ids."""
    params = {
        "chat_id": chat_id,
        "message_id": message_id,
        "tg_user_id": tg_user_id,
        "answer_step": answer_step,
        "now": now,
    }
    row = (await session.execute(REPLY_THREAD, params)).first()
    if row is None:
        return None
    me = _person(row, "me")
    assert me is not None  # an inner join
    topic = (
        TopicRow(
            row.topic_id, row.topic_slug, row.topic_group, row.topic_names, row.topic_group_names
        )
        if row.topic_id is not None
        else None
    )
    return ReplyThread(
        me=me,
        kind=row.kind,
        from_official_id=row.from_official_id,
        question_id=row.question_id,
        asker_id=row.asker_id,
        question_status=row.question_status,
        question_text=row.question_text,
        question_type=row.question_type,
        routing_id=row.routing_id,
        routing_recipient_id=row.routing_recipient_id,
        routing_answered_at=row.routing_answered_at,
        topic=topic,
        other=_person(row, "other"),
        answer_step_open=bool(row.answer_step_open),
        other_away=bool(row.other_away),
    )
