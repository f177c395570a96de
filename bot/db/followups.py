"""Follow-ups that fell due: routings whose recipient gets a nudge, questions to send to more
cities or to the organisers, and routing rows written but never delivered.

With `skip_locked` (PostgreSQL) each query claims its rows FOR UPDATE SKIP LOCKED, so two
processes never take the same one; on SQLite the transaction's write lock does that.
SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, and_, cast, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.absences import is_away
from bot.db.models import (
    Delivery,
    DeliveryStatus,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
    routing_waiting,
)

NUDGE_KEY = "n:"  # a nudge's outbox row: source "nudge", dedupe key n:<routing id>
NUDGE_SOURCE = "nudge"


async def cancel_stale_nudges(session: AsyncSession) -> None:
    """Nudges still in the outbox (held by the recipient's quiet hours) whose routing no longer
    waits for an answer, or whose question is no longer open, are not sent."""
    still_due = (
        select(Routing.id)
        .join(Question, Question.id == Routing.question_id)
        .where(
            Delivery.dedupe_key == literal(NUDGE_KEY) + cast(Routing.id, String),
            routing_waiting(),
            Question.status == QuestionStatus.OPEN,
        )
    )
    await session.execute(
        update(Delivery)
        .where(
            Delivery.source == NUDGE_SOURCE,
            Delivery.status == DeliveryStatus.PENDING,
            ~still_due.exists(),
        )
        .values(status=DeliveryStatus.CANCELLED, last_error="question no longer waiting")
        .execution_options(synchronize_session=False)
    )


async def routings_to_nudge(
    session: AsyncSession,
    now: datetime,
    delivered_before: datetime,
    limit: int,
    *,
    skip_locked: bool,
) -> Sequence[Routing]:
    """Delivered, due (in the recipient city's working hours; rows from before those were
    counted, by `delivered_before`), not yet nudged, still waiting for an answer in the
    question's current round, the question open and the recipient active; oldest first."""
    query = (
        select(Routing)
        .join(Question, Question.id == Routing.question_id)
        .join(Official, Official.id == Routing.recipient_id)
        .where(
            routing_waiting(),
            Routing.status == RoutingStatus.DELIVERED,
            Routing.nudged_at.is_(None),
            or_(
                Routing.nudge_due_at <= now,
                and_(Routing.nudge_due_at.is_(None), Routing.delivered_at <= delivered_before),
            ),
            Routing.round == Question.round,
            Question.status == QuestionStatus.OPEN,
            Official.status == OfficialStatus.ACTIVE,
            ~is_away(Official.id, now),  # nudges pause while they are away
        )
        .order_by(Routing.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=Routing)
    return (await session.scalars(query)).all()


async def questions_to_reroute(
    session: AsyncSession, now: datetime, asked_before: datetime, limit: int, *, skip_locked: bool
) -> Sequence[Question]:
    """Open questions due for escalation (their cities had the delay in working hours; older
    rows: asked before `asked_before`), never escalated nor handed to the organisers."""
    query = (
        select(Question)
        .where(
            Question.status == QuestionStatus.OPEN,
            Question.escalated_at.is_(None),
            Question.organisers_notified_at.is_(None),
            or_(
                Question.escalation_due_at <= now,
                and_(Question.escalation_due_at.is_(None), Question.created_at <= asked_before),
            ),
        )
        .order_by(Question.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def questions_for_organisers(
    session: AsyncSession,
    now: datetime,
    escalated_before: datetime,
    limit: int,
    *,
    skip_locked: bool,
) -> Sequence[Question]:
    """Open escalated questions whose new cities had the delay in working hours (older rows:
    escalated before `escalated_before`), not yet handed to the organisers."""
    query = (
        select(Question)
        .where(
            Question.status == QuestionStatus.OPEN,
            Question.escalated_at.is_not(None),
            or_(
                Question.escalation_due_at <= now,
                and_(
                    Question.escalation_due_at.is_(None),
                    Question.escalated_at <= escalated_before,
                ),
            ),
            Question.organisers_notified_at.is_(None),
        )
        .order_by(Question.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def undelivered_routings(
    session: AsyncSession, written_before: datetime, limit: int, *, skip_locked: bool
) -> Sequence[Routing]:
    """Routing rows still pending since before then (never delivered) of questions still open
    or answered; oldest first."""
    query = (
        select(Routing)
        .join(Question, Question.id == Routing.question_id)
        .where(
            routing_waiting(),
            Routing.status == RoutingStatus.PENDING,
            Routing.created_at <= written_before,
            Question.status.in_([QuestionStatus.OPEN, QuestionStatus.ANSWERED]),
        )
        .order_by(Routing.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=Routing)
    return (await session.scalars(query)).all()
