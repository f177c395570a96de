"""Organisers route a question by hand: the cities they may choose, and the routing itself
(audited)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, catalogue, questions, routing_stats
from bot.db.models import Role
from bot.runtime import Deps
from bot.services.catalogue import CityInfo, city_info
from bot.services.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from bot.services.exchange import lookups
from bot.services.exchange.types import CLOSED, Brief, Outgoing
from bot.services.identity import require_role
from bot.services.routing import route_to_city

TRACK_RECORDS = 5  # cities shown with their history on the topic


@dataclass(frozen=True)
class TrackRecord:
    """What a city did with questions on the topic: the routing's reason, for organisers."""

    city: CityInfo
    asked: int  # questions on the topic routed to it
    answered: int  # of those, answered from it
    rated: int  # its answers on the topic their askers rated
    useful: int  # of those, rated useful
    median_first_answer: timedelta | None


async def track_records(
    session: AsyncSession, topic_id: int, cities: list[CityInfo]
) -> list[TrackRecord]:
    """The cities with a history on the topic, those with the most answers rated useful
    first, then the most answers."""
    history = await routing_stats.track_records(session, topic_id, [c.id for c in cities])
    records = [
        TrackRecord(
            c,
            h.asked,
            h.answered,
            h.rated,
            h.useful,
            timedelta(seconds=statistics.median(h.seconds)) if h.seconds else None,
        )
        for c in cities
        if (h := history.get(c.id)) is not None
    ]
    records.sort(key=lambda r: (-r.useful, -r.answered, r.rated - r.useful, r.city.name))
    return records[:TRACK_RECORDS]


async def manual_route_options(
    deps: Deps, tg_user_id: int, question_id: int
) -> tuple[Brief, list[CityInfo], list[TrackRecord]]:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        question = await questions.get(session, question_id)
        if question is None:
            raise NotFound(ErrorCode.QUESTION)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        cities = [
            city_info(c) for c in await questions.cities_to_route_to(session, question.city_id)
        ]
        return (
            await lookups.brief(session, question),
            cities,
            await track_records(session, question.topic_id, cities),
        )


async def route_by_hand(
    deps: Deps, tg_user_id: int, question_id: int, city_id: int
) -> list[Outgoing]:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        question = await questions.get(session, question_id)
        if question is None:
            raise NotFound(ErrorCode.QUESTION)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        if city_id == question.city_id:
            raise InvalidInput(ErrorCode.OWN_CITY)
        if await catalogue.city_by_id(session, city_id) is None:
            raise NotFound(ErrorCode.CITY)
        who = f"official #{actor.id}" if actor else f"admin {tg_user_id}"
        decisions = await route_to_city(
            session, deps, question, city_id, f"routed by hand by {who}"
        )
        if not decisions:
            raise ServiceError(ErrorCode.NOBODY_IN_CITY)
        await audit_log.record(
            session,
            now,
            "question.routed_by_hand",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="question",
            target_id=question.id,
            city_id=city_id,
        )
        return await lookups.outgoings_for(session, question, decisions)
