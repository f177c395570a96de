"""What several exchange services look up alike: the people (with their city), the caller as
a registered official, a topic, the dialog step, a routing the caller is part of, and the
messages routing decisions turn into."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue, dialogs, officials, participants, questions, routings
from bot.db.models import City, Official, Question, Routing
from bot.runtime import Deps
from bot.services.catalogue import TopicInfo, topic_info
from bot.services.errors import ErrorCode, NotAllowed, NotFound, ServiceError
from bot.services.exchange.types import Brief, Content, Outgoing, Person
from bot.services.identity import REGISTERED
from bot.services.routing import RoutingDecision


async def load_people(session: AsyncSession, ids: Sequence[int]) -> dict[int, Person]:
    """These officials as the exchange shows them, by id."""
    found = await participants.with_cities(session, [i for i in ids if i is not None])
    return {o.id: person(o, c) for o, c in found}


async def people_known(
    session: AsyncSession, ids: Sequence[int], known: dict[int, Person] | None
) -> dict[int, Person]:
    """load_people, without reading again the people already loaded in this transaction."""
    known = known or {}
    return {**known, **await load_people(session, [i for i in ids if i not in known])}


def person(o: Official, c: City | None) -> Person:
    return Person(
        o.id,
        o.chat_id,
        o.locale,
        o.name or "—",
        o.position or "—",
        o.city_id,
        c.name if c else "—",
        c.timezone if c else "UTC",
        o.status,
        o.name_latin,
        dict(c.names or {}) if c else {},
        o.machine_translation,
    )


def person_of_row(row: participants.PersonRow) -> Person:
    return Person(
        row.official_id,
        row.chat_id,
        row.locale,
        row.name or "—",
        row.position or "—",
        row.city_id,
        row.city_name if row.city_name is not None else "—",
        row.timezone if row.timezone is not None else "UTC",
        row.status,
        row.name_latin,
        dict(row.city_names or {}),
        row.machine_translation,
    )


async def registered(session: AsyncSession, tg_user_id: int) -> Official:
    official = await officials.official_by_tg(session, tg_user_id)
    if official is None or official.status not in REGISTERED:
        raise NotAllowed(ErrorCode.NOT_REGISTERED)
    return official


async def topic_of(session: AsyncSession, topic_id: int) -> TopicInfo:
    topic = await catalogue.topic_by_id(session, topic_id)
    if topic is None:
        raise NotFound(ErrorCode.TOPIC)
    return topic_info(topic)


async def expect_step(session: AsyncSession, tg_user_id: int, *steps: str) -> dict[str, Any]:
    state = await dialogs.get_dialog(session, tg_user_id)
    if state is None or state.step not in steps:
        raise ServiceError(ErrorCode.STALE)
    return dict(state.data or {})


def question_content(q: Question) -> Content:
    return Content(
        q.content_type,
        q.text,
        q.source_chat_id,
        q.source_message_id,
        tuple(q.album_message_ids or ()),
    )


def _outgoings(
    decisions: Sequence[RoutingDecision],
    question: Question,
    asker: Person,
    topic: TopicInfo,
    people: dict[int, Person],
) -> list[Outgoing]:
    content = question_content(question)
    return [
        Outgoing(
            "question", question.id, rec.routing_id, asker, people[rec.official_id], topic, content
        )
        for d in decisions
        for rec in d.recipients
    ]


async def outgoings_for(
    session: AsyncSession, question: Question, decisions: Sequence[RoutingDecision]
) -> list[Outgoing]:
    if not decisions:
        return []
    ids = [question.asker_id] + [r.official_id for d in decisions for r in d.recipients]
    people = await load_people(session, ids)
    topic = await topic_of(session, question.topic_id)
    return _outgoings(decisions, question, people[question.asker_id], topic, people)


async def organisers(session: AsyncSession, deps: Deps) -> list[Person]:
    """Active organisers and admins: told when nobody covers a question."""
    found = await participants.organisers(session, deps.settings.admin_ids)
    return [person(o, c) for o, c in found]


async def my_routing(
    session: AsyncSession, me: Official, routing_id: int
) -> tuple[Routing, Question]:
    routing = await routings.routing(session, routing_id)
    if routing is None or routing.recipient_id != me.id:
        raise NotAllowed(ErrorCode.NOT_YOURS)
    question = await questions.get(session, routing.question_id)
    assert question is not None
    return routing, question


async def thread_of(
    session: AsyncSession, me: Official, routing_id: int
) -> tuple[Routing, Question]:
    """A routing row this person is a side of: its recipient, or the question's asker."""
    routing = await routings.routing(session, routing_id)
    if routing is None:
        raise NotAllowed(ErrorCode.NOT_YOURS)
    question = await questions.get(session, routing.question_id)
    assert question is not None
    if me.id not in (routing.recipient_id, question.asker_id):
        raise NotAllowed(ErrorCode.NOT_YOURS)
    return routing, question


async def brief(session: AsyncSession, q: Question, routing_id: int | None = None) -> Brief:
    people = await load_people(session, [q.asker_id])
    return Brief(
        q.id,
        await topic_of(session, q.topic_id),
        people[q.asker_id],
        q.text,
        q.content_type,
        q.status,
        q.created_at,
        routing_id,
    )


def check_reachable(people: dict[int, Person], official_id: int) -> None:
    found = people.get(official_id)
    if found is None or found.status not in REGISTERED:
        raise ServiceError(ErrorCode.GONE)
