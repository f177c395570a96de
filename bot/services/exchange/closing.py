"""Closing a question's threads: an official declines (the next city may be tried), the asker
resolves it, then thanks the officials who answered."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import dialogs, exchange_log, questions, routings
from bot.db.models import (
    ExchangeKind,
    Official,
    Question,
    QuestionStatus,
    RoutingStatus,
)
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotAllowed, ServiceError
from bot.services.exchange import delivery_records, lookups
from bot.services.exchange.types import CLOSED, STEP_ANSWER, Outgoing, Resolved, Thanks
from bot.services.routing import WAITING

log = logging.getLogger(__name__)


async def decline(deps: Deps, tg_user_id: int, routing_id: int) -> list[Outgoing]:
    """Not for me: recorded; when the whole city has declined, the next ranked city is tried."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        routing, question = await lookups.my_routing(session, me, routing_id)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        if routing.status == RoutingStatus.DECLINED:
            raise ServiceError(ErrorCode.ALREADY_DECLINED)
        if routing.answered_at is not None:
            raise ServiceError(ErrorCode.ALREADY_ANSWERED)
        routing.status = RoutingStatus.DECLINED
        exchange_log.add(
            session,
            question_id=question.id,
            from_official_id=me.id,
            to_official_id=question.asker_id,
            from_city_id=me.city_id,
            to_city_id=question.city_id,
            kind=ExchangeKind.DECLINE,
            content_type="text",
            created_at=now,
        )
        state = await dialogs.get_dialog(session, tg_user_id)
        if state is not None and state.step == STEP_ANSWER:
            await dialogs.clear_dialog(session, tg_user_id)
        await session.flush()
        log.info("question declined question_id=%s routing_id=%s", question.id, routing.id)
        return await delivery_records.reroute_exhausted(session, deps, question, {routing.city_id})


async def _my_question(session: AsyncSession, me: Official, question_id: int) -> Question:
    question = await questions.get(session, question_id)
    if question is None or question.asker_id != me.id:
        raise NotAllowed(ErrorCode.NOT_ASKER)
    return question


async def resolve(deps: Deps, tg_user_id: int, question_id: int) -> Resolved:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        question = await _my_question(session, me, question_id)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        question.status = QuestionStatus.RESOLVED
        question.resolved_at = now
        # No longer waiting for anyone: this is what keeps the routing's open load honest.
        await routings.close_waiting(session, question.id, WAITING)
        exchange_log.add(
            session,
            question_id=question.id,
            from_official_id=me.id,
            from_city_id=me.city_id,
            kind=ExchangeKind.RESOLVED,
            content_type="text",
            created_at=now,
        )
        answered = await routings.answered_count(session, question.id)
        log.info("question resolved question_id=%s", question.id)
        return Resolved(
            question.id,
            await lookups.topic_of(session, question.topic_id),
            len(await routings.answerer_ids(session, question.id)),  # those who can be thanked
            shareable=bool(question.text) and bool(answered),
        )


async def thank(deps: Deps, tg_user_id: int, question_id: int) -> Thanks:
    """Tell the officials who answered a resolved question that it helped (once): those still
    in the exchange (not those who erased their data or were removed since)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        question = await _my_question(session, me, question_id)
        if question.status != QuestionStatus.RESOLVED:
            raise ServiceError(ErrorCode.NOT_RESOLVED)
        if await exchange_log.thanked(session, question.id):
            raise ServiceError(ErrorCode.ALREADY_THANKED)
        helper_ids = await routings.answerer_ids(session, question.id)
        people = await lookups.load_people(session, [me.id, *helper_ids])
        helpers = [people[h] for h in helper_ids]
        for h in helpers:
            exchange_log.add(
                session,
                question_id=question.id,
                from_official_id=me.id,
                to_official_id=h.official_id,
                from_city_id=me.city_id,
                to_city_id=h.city_id,
                kind=ExchangeKind.RESOLVED,
                text="thanks",
                content_type="text",
                created_at=now,
            )
        return Thanks(
            people[me.id],
            await lookups.topic_of(session, question.topic_id),
            helpers,
            question.text,
            question.content_type,
        )
