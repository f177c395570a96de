"""The lists: /questions (the asker's open and recent questions, where they went, how many
answers) and /inbox (questions still waiting for this official's answer)."""

from __future__ import annotations

from bot.db import catalogue, exchange_log, questions
from bot.db.models import RoutingStatus
from bot.runtime import Deps
from bot.services.catalogue import topic_info
from bot.services.exchange import lookups
from bot.services.exchange.types import CLOSED, INBOX_MAX, REACHED, RECENT_QUESTIONS, Brief
from bot.services.routing import OPEN_QUESTION


async def my_questions(deps: Deps, tg_user_id: int) -> list[Brief]:
    """Open questions, then the most recent closed ones."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        found = [
            *await questions.of_asker(session, me.id, OPEN_QUESTION),
            *await questions.of_asker(session, me.id, CLOSED, limit=RECENT_QUESTIONS),
        ]
        if not found:
            return []
        ids = [q.id for q in found]
        cities = await questions.reached_cities(session, ids, REACHED)
        answers = await exchange_log.answer_counts(session, ids)
        people = await lookups.load_people(session, [me.id])
        topics = {t.id: topic_info(t) for t in await catalogue.all_topics(session)}
        return [
            Brief(
                q.id,
                topics[q.topic_id],
                people[me.id],
                q.text,
                q.content_type,
                q.status,
                q.created_at,
                None,
                cities.get(q.id, []),
                int(answers.get(q.id, 0)),
            )
            for q in found
        ]


async def inbox(deps: Deps, tg_user_id: int) -> list[Brief]:
    """Questions routed to this official that still wait for their answer."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        rows = await questions.inbox(
            session,
            me.id,
            [RoutingStatus.PENDING, RoutingStatus.DELIVERED],
            OPEN_QUESTION,
            INBOX_MAX,
        )
        people = await lookups.load_people(session, [q.asker_id for _r, q in rows])
        topics = {t.id: topic_info(t) for t in await catalogue.all_topics(session)}
        return [
            Brief(
                q.id,
                topics[q.topic_id],
                people[q.asker_id],
                q.text,
                q.content_type,
                q.status,
                q.created_at,
                r.id,
            )
            for r, q in rows
        ]
