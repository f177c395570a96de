"""Following up unanswered questions: nudge the recipients once, then escalate.

Timeline per question (settings NUDGE_DELAY_HOURS, ESCALATION_DELAY_HOURS, both counted in
the recipient cities' working hours: bot.city_calendar):
- a recipient who got the question and has not answered after the nudge delay gets one
  reminder through the outbox (it waits for the end of their quiet hours);
- a question still without any answer after the escalation delay goes to the next ranked
  cities (round 2); the asker is told;
- still without an answer one escalation delay after that, the organisers are told and can
  route it by hand; the asker is told.
Questions with an answer are never nudged or escalated; resolved ones neither. Each step is
claimed in one transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite),
so two processes never do it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import exchange_log, officials, questions
from bot.db import followups as due
from bot.db.models import ExchangeKind, Routing
from bot.db.outbox import delivery_row, enqueue
from bot.runtime import Deps
from bot.services.catalogue import TopicInfo
from bot.services.exchange import lookups
from bot.services.exchange.types import Outgoing, Person
from bot.services.quiet_hours import not_before
from bot.services.routing import route_round

log = logging.getLogger(__name__)

BATCH = 200
# A routing row still "pending" this long after it was written was never delivered (the
# process died between routing and sending): the escalation job delivers it.
STALE_PENDING = timedelta(minutes=5)


@dataclass(frozen=True)
class NudgeNotice:
    """What a nudge says: who waits, on what, since when; rendered in the recipient's locale."""

    routing_id: int
    question_id: int
    recipient: Person
    asker: Person
    topic: TopicInfo
    excerpt: str | None
    content_type: str
    asked_at: datetime


# Returns the text and the reply markup (as a Bot API dict) of a nudge.
RenderNudge = Callable[[NudgeNotice], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Escalation:
    """One question moved on: new deliveries to send, or organisers to tell."""

    question_id: int
    stage: str  # rerouted | organisers
    asker: Person
    topic: TopicInfo
    deliveries: list[Outgoing] = field(default_factory=list)
    organisers: list[Person] = field(default_factory=list)
    waited: timedelta = timedelta(0)  # since the question was asked
    # The question's own words (text or caption; None for bare media), to tell it from others.
    text: str | None = None
    content_type: str = "text"


async def run_nudges(deps: Deps, now: datetime, render: RenderNudge) -> int:
    """Write one nudge per waiting recipient into the outbox; returns how many. Nudges held
    back (quiet hours) for questions closed or answered meanwhile are dropped first."""
    cutoff = now - timedelta(hours=deps.settings.nudge_delay_hours)
    async with deps.db.transaction() as session:
        await due.cancel_stale_nudges(session)
        routings = await due.routings_to_nudge(
            session, now, cutoff, BATCH, skip_locked=deps.db.is_postgres
        )
        if not routings:
            return 0
        asked = await questions.by_ids(session, {r.question_id for r in routings})
        everyone = await lookups.load_people(
            session, [r.recipient_id for r in routings] + [q.asker_id for q in asked.values()]
        )
        recipients = await officials.by_ids(session, {r.recipient_id for r in routings})
        topics: dict[int, TopicInfo] = {}
        rows = []
        for r in routings:
            q = asked[r.question_id]
            if q.topic_id not in topics:
                topics[q.topic_id] = await lookups.topic_of(session, q.topic_id)
            recipient = everyone[r.recipient_id]
            notice = NudgeNotice(
                r.id,
                q.id,
                recipient,
                everyone[q.asker_id],
                topics[q.topic_id],
                q.text,
                q.content_type,
                q.created_at,
            )
            text, markup = render(notice)
            official = recipients[r.recipient_id]
            rows.append(
                delivery_row(
                    dedupe_key=f"{due.NUDGE_KEY}{r.id}",
                    source=due.NUDGE_SOURCE,
                    chat_id=recipient.chat_id,
                    now=now,
                    recipient_id=recipient.official_id,
                    text=text,
                    reply_markup=markup,
                    not_before=not_before(official, now, recipient.timezone),
                )
            )
            r.nudged_at = now
            exchange_log.add(
                session,
                question_id=q.id,
                from_official_id=None,
                to_official_id=r.recipient_id,
                from_city_id=q.city_id,
                to_city_id=r.city_id,
                kind=ExchangeKind.NUDGE,
                delivered_chat_id=None,
                created_at=now,
            )
        await enqueue(session, rows)
        log.info("nudges queued count=%s", len(rows))
        return len(rows)


async def run_escalations(deps: Deps, now: datetime) -> list[Escalation]:
    """Claim questions due for the next step and return what the job must send."""
    delay = timedelta(hours=deps.settings.escalation_delay_hours)
    out: list[Escalation] = []
    async with deps.db.transaction() as session:
        lock = deps.db.is_postgres
        for q in await due.questions_to_reroute(session, now, now - delay, BATCH, skip_locked=lock):
            q.escalated_at = now
            q.round += 1
            decisions = await route_round(session, deps, q, q.round)
            asker = (await lookups.load_people(session, [q.asker_id]))[q.asker_id]
            topic = await lookups.topic_of(session, q.topic_id)
            exchange_log.add(
                session,
                question_id=q.id,
                from_official_id=None,
                to_official_id=q.asker_id,
                from_city_id=None,
                to_city_id=q.city_id,
                kind=ExchangeKind.ESCALATION,
                text=None,
                created_at=now,
            )
            if decisions:
                out.append(
                    Escalation(
                        q.id,
                        "rerouted",
                        asker,
                        topic,
                        deliveries=await lookups.outgoings_for(session, q, decisions),
                        waited=now - q.created_at,
                        text=q.text,
                        content_type=q.content_type,
                    )
                )
            else:
                q.organisers_notified_at = now
                out.append(
                    Escalation(
                        q.id,
                        "organisers",
                        asker,
                        topic,
                        organisers=await _organisers_except(session, deps, q.asker_id),
                        waited=now - q.created_at,
                        text=q.text,
                        content_type=q.content_type,
                    )
                )
            log.info(
                "question escalated question_id=%s round=%s cities=%s",
                q.id,
                q.round,
                len(decisions),
            )

        for q in await due.questions_for_organisers(
            session, now, now - delay, BATCH, skip_locked=lock
        ):
            q.organisers_notified_at = now
            asker = (await lookups.load_people(session, [q.asker_id]))[q.asker_id]
            out.append(
                Escalation(
                    q.id,
                    "organisers",
                    asker,
                    await lookups.topic_of(session, q.topic_id),
                    organisers=await _organisers_except(session, deps, q.asker_id),
                    waited=now - q.created_at,
                    text=q.text,
                    content_type=q.content_type,
                )
            )
            log.info("question sent to organisers question_id=%s", q.id)

        # Routing rows written but never delivered (a crash between routing and sending).
        stale = await due.undelivered_routings(
            session, now - STALE_PENDING, BATCH, skip_locked=lock
        )
        by_question: dict[int, list[Routing]] = {}
        for r in stale:
            r.created_at = now  # a lease: another process skips it for STALE_PENDING
            by_question.setdefault(r.question_id, []).append(r)
        for question_id, rows in by_question.items():
            out.append(await _redelivery(session, question_id, rows))
    return out


async def _organisers_except(session: AsyncSession, deps: Deps, official_id: int) -> list[Person]:
    return [p for p in await lookups.organisers(session, deps) if p.official_id != official_id]


async def _redelivery(session: AsyncSession, question_id: int, rows: list[Routing]) -> Escalation:
    """The question again, to the recipients of routing rows never delivered."""
    q = await questions.get(session, question_id)
    assert q is not None
    people = await lookups.load_people(session, [q.asker_id] + [r.recipient_id for r in rows])
    topic = await lookups.topic_of(session, q.topic_id)
    content = lookups.question_content(q)
    deliveries = [
        Outgoing("question", q.id, r.id, people[q.asker_id], people[r.recipient_id], topic, content)
        for r in rows
    ]
    log.info("undelivered routing resumed question_id=%s rows=%s", q.id, len(rows))
    return Escalation(q.id, "redeliver", people[q.asker_id], topic, deliveries=deliveries)
