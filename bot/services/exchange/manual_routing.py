"""Organisers route a question by hand: the cities they may choose, and the routing itself
(audited)."""

from __future__ import annotations

from bot.db import audit_log, catalogue, questions
from bot.db.models import Role
from bot.runtime import Deps
from bot.services.catalogue import CityInfo, city_info
from bot.services.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from bot.services.exchange import lookups
from bot.services.exchange.types import CLOSED, Brief, Outgoing
from bot.services.identity import require_role
from bot.services.routing import route_to_city


async def manual_route_options(
    deps: Deps, tg_user_id: int, question_id: int
) -> tuple[Brief, list[CityInfo]]:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        question = await questions.get(session, question_id)
        if question is None:
            raise NotFound(ErrorCode.QUESTION)
        if question.status in CLOSED:
            raise ServiceError(ErrorCode.CLOSED)
        cities = await questions.cities_to_route_to(session, question.city_id)
        return await lookups.brief(session, question), [city_info(c) for c in cities]


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
