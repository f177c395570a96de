"""The asker rates an answer useful or not: one rating per answering official and question
(they may change it), which routing then weighs for that city and topic."""

from __future__ import annotations

import logging

from bot.db import questions, ratings, routings
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotAllowed, NotFound
from bot.services.exchange import lookups

log = logging.getLogger(__name__)


async def rate(deps: Deps, tg_user_id: int, routing_id: int, useful: bool) -> None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        routing = await routings.routing(session, routing_id)
        if routing is None or routing.answered_at is None:
            raise NotFound(ErrorCode.NOT_FOUND)
        question = await questions.get(session, routing.question_id)
        if question is None or question.asker_id != me.id:
            raise NotAllowed(ErrorCode.NOT_ASKER)
        await ratings.rate(session, routing.id, routing.city_id, question.topic_id, useful, now)
        log.info(
            "answer rated routing_id=%s question_id=%s useful=%s", routing.id, question.id, useful
        )
