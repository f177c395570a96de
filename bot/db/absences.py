"""Absences (/away): who is away at a moment, their deputies, colleagues who may stand in,
and the absences over whose return summary is due.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.base import UTCDateTime
from bot.db.models import (
    Absence,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    Routing,
)


def _active(now: Any, absence: Any = Absence) -> ColumnElement[bool]:
    return and_(absence.starts_at <= now, absence.ends_at > now, absence.ended_at.is_(None))


def is_away(official_id: Any, now: Any) -> ColumnElement[bool]:
    """SQL: the official (a column or a value) is away at `now` (a value or a bound parameter).
    Over its own alias of the table, so it also fits in a query that selects absences."""
    other = aliased(Absence)
    return exists().where(other.official_id == official_id, _active(now, other))


def reachable(official: Any, now: Any) -> ColumnElement[bool]:
    """SQL: a question for this official (the mapped class or an alias of it) reaches someone
    at `now`: they are not away, or the deputy they named (active, of their city, not away
    themselves) stands in for them."""
    absence, deputy = aliased(Absence), aliased(Official)
    stands_in = exists().where(
        absence.official_id == official.id,
        _active(now, absence),
        deputy.id == absence.deputy_id,
        deputy.status == OfficialStatus.ACTIVE,
        deputy.city_id == official.city_id,
        ~is_away(deputy.id, now),
    )
    return or_(~is_away(official.id, now), stands_in)


async def current_or_next(session: AsyncSession, official_id: int, now: datetime) -> Absence | None:
    """The official's absence under way, else the next one planned."""
    return await session.scalar(
        select(Absence)
        .where(
            Absence.official_id == official_id,
            Absence.ends_at > now,
            Absence.ended_at.is_(None),
        )
        .order_by(Absence.starts_at)
        .limit(1)
    )


async def away_now(
    session: AsyncSession, official_ids: Collection[int], now: datetime
) -> dict[int, Absence]:
    """Of these officials, those away at `now`, with their absence."""
    if not official_ids:
        return {}
    rows = await session.scalars(
        select(Absence).where(Absence.official_id.in_(sorted(official_ids)), _active(now))
    )
    return {a.official_id: a for a in rows}


def add(session: AsyncSession, **values: Any) -> Absence:
    absence = Absence(**values)
    session.add(absence)
    return absence


async def replace_from(
    session: AsyncSession, official_id: int, starts_at: datetime, now: datetime
) -> None:
    """A new absence replaces the others from its first day on: those starting that day or
    later are dropped; one under way before it is cut back to end there (until then the
    person stays away, with that absence's deputy)."""
    mine = (Absence.official_id == official_id, Absence.ended_at.is_(None))
    await session.execute(
        update(Absence)
        .where(*mine, Absence.starts_at >= starts_at)
        .values(ended_at=now, summary_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Absence)
        .where(*mine, Absence.starts_at < starts_at, Absence.ends_at > starts_at)
        .values(ends_at=starts_at)
        .execution_options(synchronize_session=False)
    )


async def colleagues(
    session: AsyncSession, official: Official, now: datetime
) -> Sequence[Official]:
    """Active officials of the same city who are not away now: who may stand in."""
    if official.city_id is None:
        return []
    return (
        await session.scalars(
            select(Official)
            .where(
                Official.city_id == official.city_id,
                Official.id != official.id,
                Official.status == OfficialStatus.ACTIVE,
                ~is_away(Official.id, now),
            )
            .order_by(Official.name, Official.id)
        )
    ).all()


def _deputies_statement() -> Select[int, int | None, int, str]:
    absent, deputy = aliased(Official), aliased(Official)
    now = bindparam("now", type_=UTCDateTime())
    return (
        select(deputy.id, deputy.city_id, deputy.chat_id, deputy.locale)
        .distinct()
        .select_from(Absence)
        .join(absent, absent.id == Absence.official_id)
        .join(OfficialTopic, OfficialTopic.official_id == absent.id)
        .join(deputy, deputy.id == Absence.deputy_id)
        .where(
            _active(now),
            OfficialTopic.topic_id == bindparam("topic_id", type_=Integer),
            absent.status == OfficialStatus.ACTIVE,
            absent.city_id.in_(bindparam("cities", expanding=True)),
            deputy.status == OfficialStatus.ACTIVE,
            deputy.city_id == absent.city_id,
            deputy.id != bindparam("asker_id", type_=Integer),
            ~is_away(deputy.id, now),
        )
        .order_by(deputy.city_id, deputy.id)
    )


# Built once: routing runs it for every question (as bot/db/routings.py's statements).
_DEPUTIES = _deputies_statement()


async def deputies_for(
    session: AsyncSession, topic_id: int, city_ids: Collection[int], asker_id: int, now: datetime
) -> Sequence[Any]:
    """Deputies of the officials of these cities who cover the topic and are away now (the
    deputy active, not away, not the asker): `id, city_id, chat_id, locale`."""
    params = {"topic_id": topic_id, "cities": sorted(city_ids), "asker_id": asker_id, "now": now}
    return (await session.execute(_DEPUTIES, params)).all()


async def over(session: AsyncSession, now: datetime, limit: int) -> Sequence[Absence]:
    """Absences that ended (their last day passed, or ended early) and whose return summary
    is still to be written, of officials who are back (not straight into another absence);
    locked (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    return (
        await session.scalars(
            select(Absence)
            .where(
                Absence.summary_sent_at.is_(None),
                or_(Absence.ends_at <= now, Absence.ended_at.is_not(None)),
                ~is_away(Absence.official_id, now),
            )
            .order_by(Absence.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def routed_during(
    session: AsyncSession, official: Official, start: datetime, end: datetime
) -> Sequence[Any]:
    """Questions on the official's topics routed to their city between two moments: `id,
    status, first_answer_at`, and whether someone of the city answered it."""
    topics = select(OfficialTopic.topic_id).where(OfficialTopic.official_id == official.id)
    answered_here = exists().where(
        ExchangeMessage.question_id == Question.id,
        ExchangeMessage.kind == ExchangeKind.ANSWER,
        ExchangeMessage.from_city_id == official.city_id,
    )
    rows = await session.execute(
        select(Question.id, Question.status, answered_here.label("answered_here"))
        .where(
            Question.topic_id.in_(topics),
            exists().where(
                Routing.question_id == Question.id,
                Routing.city_id == official.city_id,
                Routing.created_at >= start,
                Routing.created_at < end,
            ),
        )
        .order_by(Question.id)
    )
    return rows.all()
