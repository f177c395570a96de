"""What happened to each delivered question: delivered (a reply to it will find the thread),
failed, or blocked (the official is marked unreachable); when a whole city failed or
declined, the next-ranked city is tried."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import city_calendar
from bot.db import audit_log, exchange_log, officials, questions, routings
from bot.db.catalogue import CityName
from bot.db.models import OfficialStatus, Question, RoutingStatus
from bot.runtime import Deps
from bot.services import calendars
from bot.services.exchange import lookups
from bot.services.exchange.types import CLOSED, DONE_ROUTING, Outgoing, Recorded, Sent
from bot.services.routing import route_round

log = logging.getLogger(__name__)


async def _reached_cities(
    session: AsyncSession, question_id: int, routing_ids: list[int]
) -> list[CityName]:
    return await routings.reached_city_names(
        session,
        question_id,
        [RoutingStatus.DELIVERED, RoutingStatus.ANSWERED, RoutingStatus.CLOSED],
        routing_ids,
    )


async def mark_unreachable(session: AsyncSession, now: datetime, official_id: int) -> None:
    official = await officials.official_by_id(session, official_id)
    if official is not None and official.status == OfficialStatus.ACTIVE:
        official.status = OfficialStatus.UNREACHABLE
        await audit_log.record(
            session,
            now,
            "official.unreachable",
            actor=official,
            target_type="official",
            target_id=official.id,
            via="exchange",
        )
        log.info("official unreachable official_id=%s", official.id)


async def reroute_exhausted(
    session: AsyncSession, deps: Deps, question: Question, city_ids: set[int]
) -> list[Outgoing]:
    """Cities where every routed official declined or could not be reached: try the next."""
    if not city_ids or question.status in CLOSED:
        return []
    alive: dict[int, bool] = {c: False for c in city_ids}
    for row in await routings.statuses_in(session, question.id, city_ids):
        if row.status not in DONE_ROUTING:
            alive[row.city_id] = True
    exhausted = sorted(c for c, ok in alive.items() if not ok)
    if not exhausted:
        return []
    decisions = await route_round(session, deps, question, question.round, top_k=len(exhausted))
    log.info(
        "question rerouted question_id=%s exhausted=%s new=%s",
        question.id,
        ",".join(map(str, exhausted)),
        ",".join(str(d.city_id) for d in decisions),
    )
    return await lookups.outgoings_for(session, question, decisions)


async def record_deliveries(deps: Deps, sent: Sequence[Sent]) -> Recorded:
    """Write what happened to each delivered question; a whole city failing tries the next."""
    now = deps.clock.now()
    if not sent:
        return Recorded([], [])
    question_id = sent[0].outgoing.question_id
    async with deps.db.transaction() as session:
        question = await questions.get(session, question_id)
        assert question is not None
        failed_cities: set[int] = set()
        delivered: list[int] = []
        rows = [await routings.routing(session, s.outgoing.routing_id) for s in sent]
        cals = await calendars.calendars(session, {r.city_id for r in rows if r is not None})
        for s, routing in zip(sent, rows, strict=True):
            if routing is None:
                continue
            if s.message_id is not None:
                delivered.append(routing.id)
                # Resolved while it was being sent: delivered, but nobody waits for it.
                routing.status = (
                    RoutingStatus.CLOSED if question.status in CLOSED else RoutingStatus.DELIVERED
                )
                routing.delivered_message_id = s.message_id
                routing.delivered_at = now
                routing.nudge_due_at = city_calendar.add_working_hours(
                    cals[routing.city_id], now, deps.settings.nudge_delay_hours
                )
                await exchange_log.mark_delivered(
                    session,
                    question_id,
                    routing.recipient_id,
                    s.outgoing.recipient.chat_id,
                    s.message_id,
                    now,
                    s.outgoing.translation.as_log() if s.outgoing.translation else None,
                )
                continue
            routing.status = RoutingStatus.UNREACHABLE if s.blocked else RoutingStatus.FAILED
            routing.last_error = (s.error or "unknown")[:500]
            if s.blocked:
                # Only a person-specific failure moves on to the next city: a failure of the
                # question itself (its original deleted, Telegram down) would fail there too.
                failed_cities.add(routing.city_id)
                await mark_unreachable(session, now, routing.recipient_id)
            log.info(
                "question delivery failed question_id=%s routing_id=%s blocked=%s",
                question_id,
                routing.id,
                s.blocked,
            )
        await session.flush()
        more = await reroute_exhausted(session, deps, question, failed_cities)
        return Recorded(await _reached_cities(session, question_id, delivered), more)
