"""The weekly digest's "I can answer": an official offers to answer an open question in their
topics; it is routed to them and delivered like any other."""

from __future__ import annotations

import logging

from bot.db import audit_log, officials, questions, routings
from bot.db.models import OfficialStatus, RoutingStatus
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotAllowed, NotFound, ServiceError
from bot.services.exchange import lookups
from bot.services.exchange.types import CLOSED, Outgoing
from bot.services.routing import route_to_official

log = logging.getLogger(__name__)


async def volunteer(deps: Deps, tg_user_id: int, question_id: int) -> list[Outgoing]:
    """An official offers to answer an open question in their topics from the weekly digest:
    it is routed to them (as by hand, the reason saying so) and delivered like any other."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        question = await questions.get(session, question_id)
        if question is None:
            raise NotFound(ErrorCode.QUESTION)
        if question.asker_id == me.id:
            raise ServiceError(ErrorCode.OWN_QUESTION)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        covers = question.topic_id in await officials.topic_ids_of(session, me.id)
        if not covers or me.status != OfficialStatus.ACTIVE or me.city_id is None:
            raise NotAllowed(ErrorCode.NOT_YOURS)
        mine = await routings.routing_of(session, question.id, me.id)
        if mine is not None:
            if mine.answered_at is not None:
                raise ServiceError(ErrorCode.ALREADY_ANSWERED)
            if mine.status == RoutingStatus.DECLINED:
                raise ServiceError(ErrorCode.ALREADY_DECLINED)
            raise ServiceError(ErrorCode.ALREADY_ROUTED)
        decisions = await route_to_official(
            session, deps, question, me, "offered to answer from the weekly digest"
        )
        await audit_log.record(
            session,
            now,
            "question.volunteered",
            actor=me,
            actor_tg_id=tg_user_id,
            target_type="question",
            target_id=question.id,
        )
        log.info("question volunteered question_id=%s official_id=%s", question.id, me.id)
        return await lookups.outgoings_for(session, question, decisions)
