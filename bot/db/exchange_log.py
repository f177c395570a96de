"""The exchange log (`exchange_message`): every question, answer and follow-up as sent, with
the ids it was delivered under (a reply is looked up by them), and the relay's one write.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import routing_stats
from bot.db.base import UTCDateTime
from bot.db.models import (
    DialogState,
    ExchangeKind,
    ExchangeMessage,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
)

# The tables, for statements built once (the relay's below, the routing rows' log): every
# question and relay runs them, and building a statement (or going through the ORM's bulk
# machinery) costs more Python than running it.
_LOG = cast(Table, ExchangeMessage.__table__)
_QUESTION = cast(Table, Question.__table__)
_ROUTING = cast(Table, Routing.__table__)
_DIALOG = cast(Table, DialogState.__table__)
_INSERT_LOG = insert(_LOG)


def add(session: AsyncSession, **columns: Any) -> ExchangeMessage:
    """One row of the log (question asked, declined, resolved, thanks...), added to the session."""
    row = ExchangeMessage(**columns)
    session.add(row)
    return row


async def add_routings(
    session: AsyncSession, question: Question, now: datetime, recipients: Sequence[tuple[int, int]]
) -> None:
    """The log's row for each official a round reaches, (official, their city): the question as
    sent, its delivered ids filled in once delivered (`mark_delivered`). One statement."""
    if not recipients:
        return
    await session.execute(
        _INSERT_LOG,
        [
            {
                "question_id": question.id,
                "from_official_id": question.asker_id,
                "to_official_id": official_id,
                "from_city_id": question.city_id,
                "to_city_id": city_id,
                "kind": ExchangeKind.ROUTING,
                "text": None,
                "content_type": question.content_type,
                "original_chat_id": question.source_chat_id,
                "original_message_id": question.source_message_id,
                "created_at": now,
            }
            for official_id, city_id in recipients
        ],
    )


async def mark_delivered(
    session: AsyncSession,
    question_id: int,
    recipient_id: int,
    chat_id: int,
    message_id: int,
    now: datetime,
    translation: dict[str, Any] | None = None,
) -> None:
    """The question reached this official as that message (translated so, if it was): a reply
    to it finds the thread."""
    await session.execute(
        update(ExchangeMessage)
        .where(
            ExchangeMessage.question_id == question_id,
            ExchangeMessage.to_official_id == recipient_id,
            ExchangeMessage.kind == ExchangeKind.ROUTING,
        )
        .values(
            delivered_chat_id=chat_id,
            delivered_message_id=message_id,
            created_at=now,
            translation=translation,
        )
        .execution_options(synchronize_session=False)
    )


# The relay's statements.
_INSERT_RELAY = insert(_LOG).returning(_LOG.c.id)
_QUESTION_ANSWERED = (
    update(_QUESTION)
    .where(_QUESTION.c.id == bindparam("b_question_id"))
    .values(
        first_answer_at=func.coalesce(
            _QUESTION.c.first_answer_at, bindparam("b_now", type_=UTCDateTime())
        ),
        status=case(
            (_QUESTION.c.status == QuestionStatus.OPEN.value, QuestionStatus.ANSWERED.value),
            else_=_QUESTION.c.status,
        ),
    )
)
_ROUTING_ANSWERED = (
    update(_ROUTING)
    .where(_ROUTING.c.id == bindparam("b_routing_id"), _ROUTING.c.answered_at.is_(None))
    .values(
        status=RoutingStatus.ANSWERED.value,
        answered_at=bindparam("b_now", type_=UTCDateTime()),
    )
    .returning(_ROUTING.c.city_id, _ROUTING.c.topic_id, _ROUTING.c.delivered_at)
)
_END_STEP = delete(_DIALOG).where(
    _DIALOG.c.tg_user_id == bindparam("b_tg_user_id"), _DIALOG.c.step == bindparam("b_step")
)


async def record_relay(
    session: AsyncSession,
    row: dict[str, Any],
    *,
    answers_routing: int | None,
    tg_user_id: int,
    answer_step: str | None,
) -> int:
    """A relayed answer or follow-up, the relay's whole write; the log row's id.

    `row`: the log row's columns (created_at is the relay's time). `answers_routing`: the
    routing row this message answers for the first time, if it counts as an answer: the
    question and routing rows are marked answered and the city's history counted. The
    writer's answer step (the dialog state `answer_step`), if any, ends; None when the caller
    knows none is open.
    """
    now: datetime = row["created_at"]
    row_id = (await session.execute(_INSERT_RELAY, row)).scalar_one()
    if answers_routing is not None:
        # The question row first: its lock orders two answers to one question, which the
        # city's answered count relies on (routing_stats.add_answer).
        await session.execute(
            _QUESTION_ANSWERED, {"b_question_id": row["question_id"], "b_now": now}
        )
        answered = (
            await session.execute(
                _ROUTING_ANSWERED, {"b_routing_id": answers_routing, "b_now": now}
            )
        ).first()
        if answered is not None:
            await routing_stats.add_answer(
                session,
                row["question_id"],
                answered.city_id,
                answered.topic_id,
                answered.delivered_at,
                now,
            )
    if answer_step is not None:
        await end_step(session, tg_user_id, answer_step)
    return int(row_id)


async def end_step(session: AsyncSession, tg_user_id: int, step: str) -> None:
    """The person's dialog state, only if it is at `step`."""
    await session.execute(_END_STEP, {"b_tg_user_id": tg_user_id, "b_step": step})


async def answer_counts(session: AsyncSession, question_ids: Collection[int]) -> dict[int, int]:
    """Answers relayed per question."""
    rows = await session.execute(
        select(ExchangeMessage.question_id, func.count().label("answers"))
        .where(
            ExchangeMessage.question_id.in_(sorted(question_ids)),
            ExchangeMessage.kind == ExchangeKind.ANSWER,
        )
        .group_by(ExchangeMessage.question_id)
    )
    return {row.question_id: int(row.answers) for row in rows}


async def thanked(session: AsyncSession, question_id: int) -> bool:
    """Whether the asker already thanked the question's helpers."""
    found = await session.scalar(
        select(func.count())
        .select_from(ExchangeMessage)
        .where(
            ExchangeMessage.question_id == question_id,
            ExchangeMessage.kind == ExchangeKind.RESOLVED,
            ExchangeMessage.to_official_id.is_not(None),
        )
    )
    return bool(found)
