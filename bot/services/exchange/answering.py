"""Answering and the threads that follow: Answer and Reply open a step for the next message,
a Telegram reply finds its thread, the relay is prepared (who it goes to) and recorded (one
write, bot/db/exchange_log.record_relay); albums keep the step open for their other items."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import dialogs, exchange_log, participants
from bot.db.models import ExchangeKind, Official, Question, Routing
from bot.runtime import Deps
from bot.services.catalogue import TopicInfo
from bot.services.errors import ErrorCode, NotAllowed, NotFound, ServiceError
from bot.services.exchange import delivery_records, lookups
from bot.services.exchange.types import (
    CLOSED,
    STEP_ANSWER,
    AskedQuestion,
    Brief,
    Content,
    Outgoing,
    Person,
    Sent,
)
from bot.services.identity import REGISTERED

log = logging.getLogger(__name__)


async def begin_answer(deps: Deps, tg_user_id: int, routing_id: int) -> Brief:
    """Answer: the next message this official sends goes to the asker."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        routing, question = await lookups.my_routing(session, me, routing_id)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        await dialogs.put_dialog(
            session, tg_user_id, STEP_ANSWER, {"routing_id": routing.id}, deps.clock.now()
        )
        return await lookups.brief(session, question, routing.id)


async def continue_album(deps: Deps, tg_user_id: int, routing_id: int, group: str) -> None:
    """The answer just relayed was one item of an album, whose items arrive one message each:
    the step stays open for the rest of that album only (step_answer ends it otherwise)."""
    async with deps.db.transaction() as session:
        await dialogs.put_dialog(
            session,
            tg_user_id,
            STEP_ANSWER,
            {"routing_id": routing_id, "album": group},
            deps.clock.now(),
        )


async def album_continues(deps: Deps, tg_user_id: int, routing_id: int | None, group: str) -> bool:
    """Whether an earlier item of this album already went to this thread (continue_album)."""
    async with deps.db.read() as session:
        state = await dialogs.get_dialog(session, tg_user_id)
    return (
        state is not None
        and state.step == STEP_ANSWER
        and (state.data or {}).get("album") == group
        and (state.data or {}).get("routing_id") == routing_id
    )


async def end_answer(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await exchange_log.end_step(session, tg_user_id, STEP_ANSWER)


async def begin_reply(deps: Deps, tg_user_id: int, routing_id: int) -> Person:
    """Reply: the next message goes to the other side of this thread (asker or helper)."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        routing, question = await lookups.thread_of(session, me, routing_id)
        other = question.asker_id if me.id == routing.recipient_id else routing.recipient_id
        await dialogs.put_dialog(
            session, tg_user_id, STEP_ANSWER, {"routing_id": routing.id}, deps.clock.now()
        )
        return (await lookups.load_people(session, [other]))[other]


async def prepare_relay(
    deps: Deps,
    tg_user_id: int,
    content: Content,
    *,
    routing_id: int | None = None,
    replied: tuple[int, int] | None = None,
) -> Outgoing:
    """Who a message goes to: via Answer or Reply (a routing row), or a Telegram reply.

    Only threads this person is part of are found; a new answer to a closed question is
    refused, a follow-up between people who already talked is not.
    """
    if replied is not None and routing_id is None:
        outgoing = await relay_by_reply(deps, tg_user_id, replied, content)
        if outgoing is not None:
            return outgoing
    async with deps.db.read() as session:  # decides only; record_relay writes
        if replied is not None and routing_id is None:
            # The one-statement lookup found no thread: not registered, or not a relayed message.
            await _me_person(session, tg_user_id)
            raise NotFound(ErrorCode.NO_THREAD)
        me, me_person = await _me_person(session, tg_user_id)
        known = {me.id: me_person}
        if routing_id is None:
            raise NotFound(ErrorCode.NO_THREAD)
        routing, question = await lookups.thread_of(session, me, routing_id)
        if me.id == routing.recipient_id:
            return await _answer_outgoing(session, me, routing, question, content, known=known)
        return await _follow_up(session, me, routing, question, content, known=known)


async def _me_person(session: AsyncSession, tg_user_id: int) -> tuple[Official, Person]:
    """The registered official writing, with their city, in one statement."""
    found = await participants.by_tg_with_city(session, tg_user_id)
    if found is None or found[0].status not in REGISTERED:
        raise NotAllowed(ErrorCode.NOT_REGISTERED)
    return found[0], lookups.person(*found)


async def relay_by_reply(
    deps: Deps, tg_user_id: int, replied: tuple[int, int], content: Content
) -> Outgoing | None:
    """A Telegram reply: everything the relay needs, the replier's identity included, in one
    statement; None when no thread was found (prepare_relay then asks why)."""
    async with deps.db.read() as session:
        found = await participants.thread_by_reply(
            session, replied[0], replied[1], tg_user_id, STEP_ANSWER, deps.clock.now()
        )
    if found is None:
        return None
    me = lookups.person_of_row(found.me)
    if me.status not in REGISTERED:
        raise NotAllowed(ErrorCode.NOT_REGISTERED)
    if found.kind not in (ExchangeKind.ROUTING, ExchangeKind.ANSWER, ExchangeKind.FOLLOW_UP):
        raise NotFound(ErrorCode.NO_THREAD)
    if found.kind != ExchangeKind.ROUTING and found.from_official_id is None:
        raise NotFound(ErrorCode.NO_THREAD)
    if found.routing_id is None or found.routing_recipient_id is None:
        raise NotFound(ErrorCode.NO_THREAD)
    if found.topic is None:
        raise NotFound(ErrorCode.TOPIC)
    people = {me.official_id: me}
    other_id = None
    if found.other is not None:
        other = lookups.person_of_row(found.other)
        people[other.official_id] = other
        other_id = other.official_id
    info = TopicInfo(*found.topic)
    answered = found.routing_answered_at is not None
    if found.kind == ExchangeKind.ROUTING or me.official_id != found.asker_id:
        # As _answer_outgoing.
        if not answered and found.question_status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        lookups.check_reachable(people, found.asker_id)
        return Outgoing(
            "follow_up" if answered else "answer",
            found.question_id,
            found.routing_id,
            me,
            people[found.asker_id],
            info,
            content,
            ends_step=found.answer_step_open,
            recipient_may_be_away=found.other_away or other_id != found.asker_id,
            asked=AskedQuestion(found.question_text, found.question_type),
        )
    if not answered and found.question_status in CLOSED:  # as _follow_up
        raise ServiceError(ErrorCode.CLOSED)
    lookups.check_reachable(people, found.routing_recipient_id)
    return Outgoing(
        "follow_up",
        found.question_id,
        found.routing_id,
        me,
        people[found.routing_recipient_id],
        info,
        content,
        ends_step=found.answer_step_open,
        recipient_may_be_away=found.other_away or other_id != found.routing_recipient_id,
    )


async def _follow_up(
    session: AsyncSession,
    me: Official,
    routing: Routing,
    question: Question,
    content: Content,
    topic: TopicInfo | None = None,
    known: dict[int, Person] | None = None,
) -> Outgoing:
    """The asker writes to a helper (an answerer, or a recipient who has not answered yet)."""
    other = routing.recipient_id
    if routing.answered_at is None and question.status in CLOSED:
        raise ServiceError(ErrorCode.CLOSED)
    people = await lookups.people_known(session, [me.id, other], known)
    lookups.check_reachable(people, other)
    return Outgoing(
        "follow_up",
        question.id,
        routing.id,
        people[me.id],
        people[other],
        topic or await lookups.topic_of(session, question.topic_id),
        content,
    )


async def _answer_outgoing(
    session: AsyncSession,
    me: Official,
    routing: Routing,
    question: Question,
    content: Content,
    topic: TopicInfo | None = None,
    known: dict[int, Person] | None = None,
) -> Outgoing:
    first = routing.answered_at is None
    if first and question.status in CLOSED:
        raise ServiceError(ErrorCode.CLOSED)
    people = await lookups.people_known(session, [me.id, question.asker_id], known)
    lookups.check_reachable(people, question.asker_id)
    return Outgoing(
        "answer" if first else "follow_up",
        question.id,
        routing.id,
        people[me.id],
        people[question.asker_id],
        topic or await lookups.topic_of(session, question.topic_id),
        content,
        asked=AskedQuestion(question.text, question.content_type),
    )


async def record_relay(deps: Deps, tg_user_id: int, sent: Sent) -> int:
    """Log a relayed answer or follow-up (with the delivered ids a reply will be looked up by)."""
    now = deps.clock.now()
    o = sent.outgoing
    kind = ExchangeKind.ANSWER if o.kind == "answer" else ExchangeKind.FOLLOW_UP
    counts_answer = (
        sent.message_id is not None and kind == ExchangeKind.ANSWER and o.routing_id is not None
    )
    row = {
        "question_id": o.question_id,
        "from_official_id": o.sender.official_id,
        "to_official_id": o.recipient.official_id,
        "from_city_id": o.sender.city_id,
        "to_city_id": o.recipient.city_id,
        "kind": kind,
        "text": o.content.text,
        "content_type": o.content.content_type,
        "original_chat_id": o.content.chat_id,
        "original_message_id": o.content.message_id,
        "delivered_chat_id": o.recipient.chat_id if sent.message_id is not None else None,
        "delivered_message_id": sent.message_id,
        "translation": o.translation.as_log() if o.translation else None,
        "created_at": now,
    }
    async with deps.db.transaction() as session:
        row_id = await exchange_log.record_relay(
            session,
            row,
            answers_routing=o.routing_id if counts_answer else None,
            tg_user_id=tg_user_id,
            answer_step=STEP_ANSWER if o.ends_step else None,
        )
        if sent.blocked:
            await delivery_records.mark_unreachable(session, now, o.recipient.official_id)
    log.info(
        "relay kind=%s question_id=%s exchange_id=%s delivered=%s",
        kind,
        o.question_id,
        row_id,
        sent.message_id is not None,
    )
    return row_id
