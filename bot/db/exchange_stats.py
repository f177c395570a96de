"""The exchange log as reports read it: the filtered export stream, and the counts the
statistics and the weekly chart are made of. SQL only: select; never commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import UTCDateTime
from bot.db.models import (
    AnswerRating,
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    Routing,
)

# The messages people exchanged; nudges and escalations are the bot's own and stay out.
EXPORT_KINDS = (
    ExchangeKind.QUESTION,
    ExchangeKind.ROUTING,
    ExchangeKind.ANSWER,
    ExchangeKind.FOLLOW_UP,
    ExchangeKind.DECLINE,
    ExchangeKind.RESOLVED,
    ExchangeKind.FROM_LIBRARY,
)


@dataclass(frozen=True)
class ExportFilter:
    """Which messages to export: [since, until) in UTC, and cities/countries/topics (AND)."""

    since: datetime | None = None
    until: datetime | None = None
    city_ids: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    topic_ids: tuple[int, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "cities": list(self.city_ids),
            "countries": list(self.countries),
            "topics": list(self.topic_ids),
        }


class Participant(NamedTuple):
    id: int
    name: str | None
    city_id: int | None
    erased: bool


def _where(flt: ExportFilter, country_city_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    em = ExchangeMessage
    conds: list[ColumnElement[bool]] = [em.kind.in_([k.value for k in EXPORT_KINDS])]
    if flt.since is not None:
        conds.append(em.created_at >= flt.since)
    if flt.until is not None:
        conds.append(em.created_at < flt.until)
    if flt.topic_ids:
        conds.append(Question.topic_id.in_(flt.topic_ids))
    for ids in (flt.city_ids or None, country_city_ids):
        if ids is None:
            continue
        wanted = list(ids) or [-1]
        conds.append(
            or_(
                em.from_city_id.in_(wanted), em.to_city_id.in_(wanted), Question.city_id.in_(wanted)
            )
        )
    return conds


async def _country_city_ids(session: AsyncSession, countries: Sequence[str]) -> list[int] | None:
    if not countries:
        return None
    rows = await session.scalars(
        select(City.id).where(City.country.in_([c.upper() for c in countries]))
    )
    return list(rows)


def export_query(
    flt: ExportFilter, country_city_ids: Sequence[int] | None
) -> Select[*tuple[Any, ...]]:
    em = ExchangeMessage
    return (
        select(
            em.id,
            em.created_at,
            em.question_id,
            em.kind,
            em.from_official_id,
            em.to_official_id,
            em.from_city_id,
            em.to_city_id,
            em.text,
            Question.asker_id,
            Question.topic_id,
            Question.city_id,
            Question.created_at,
            em.translation,
            AnswerRating.useful,
        )
        .join(Question, Question.id == em.question_id)
        # An answer's rating: of the answering official's routing for the question.
        .outerjoin(
            Routing,
            and_(
                em.kind == ExchangeKind.ANSWER,
                Routing.question_id == em.question_id,
                Routing.recipient_id == em.from_official_id,
            ),
        )
        .outerjoin(AnswerRating, AnswerRating.routing_id == Routing.id)
        .where(and_(*_where(flt, country_city_ids)))
        .order_by(em.created_at, em.id)
    )


async def count_messages(session: AsyncSession, flt: ExportFilter) -> int:
    ids = await _country_city_ids(session, flt.countries)
    query = (
        select(func.count())
        .select_from(ExchangeMessage)
        .join(Question, Question.id == ExchangeMessage.question_id)
        .where(and_(*_where(flt, ids)))
    )
    return int(await session.scalar(query) or 0)


async def participants(session: AsyncSession) -> list[Participant]:
    """Every official once: the export names them (erased ones flagged)."""
    rows = await session.execute(
        select(Official.id, Official.name, Official.city_id, Official.status)
    )
    return [
        Participant(oid, name, city_id, status == OfficialStatus.ERASED)
        for oid, name, city_id, status in rows
    ]


async def stream_messages(
    session: AsyncSession, flt: ExportFilter, batch: int
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The filtered log, oldest first, in batches from a server-side cursor, one batch read
    ahead. Each row: message
    id, created_at, question_id, kind, from/to official, from/to city, text, then the question's
    asker_id, topic_id, city_id and created_at, what the message went out as (its machine
    translation, if it was translated), and an answer's rating (True: useful)."""
    ids = await _country_city_ids(session, flt.countries)
    # Core, on the session's connection (its transaction): plain rows, none of the ORM's
    # per-row bookkeeping, which cost a third more time for the same rows (bench_export.py).
    connection = await session.connection()
    result = await connection.stream(export_query(flt, ids).execution_options(yield_per=batch))
    parts = result.partitions()
    # The next batch is fetched while the caller works on this one: the driver's thread (or
    # the server) reads ahead instead of waiting for the caller to ask.
    ahead: asyncio.Future[Sequence[Row[Any]] | None] = asyncio.ensure_future(anext(parts, None))
    try:
        while (part := await ahead) is not None:
            ahead = asyncio.ensure_future(anext(parts, None))
            yield part
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ahead


async def active_per_city(session: AsyncSession) -> list[tuple[int, int]]:
    """(city id, active officials) for every city with any."""
    rows = await session.execute(
        select(Official.city_id, func.count())
        .where(Official.status == OfficialStatus.ACTIVE, Official.city_id.is_not(None))
        .group_by(Official.city_id)
    )
    return [(int(cid), int(n)) for cid, n in rows if cid is not None]


async def questions_with_first_answer(
    session: AsyncSession, since: datetime | None, until: datetime
) -> list[tuple[int, int, datetime, Any]]:
    """(question id, topic id, asked at, first answer at or None) of questions asked then."""
    asked = [Question.created_at < until]
    if since is not None:
        asked.append(Question.created_at >= since)
    first_answer = (
        select(ExchangeMessage.question_id, func.min(ExchangeMessage.created_at).label("first"))
        .where(ExchangeMessage.kind == ExchangeKind.ANSWER)
        .group_by(ExchangeMessage.question_id)
        .subquery()
    )
    rows = await session.execute(
        select(Question.id, Question.topic_id, Question.created_at, first_answer.c.first)
        .outerjoin(first_answer, first_answer.c.question_id == Question.id)
        .where(*asked)
    )
    return [(qid, topic_id, created, first) for qid, topic_id, created, first in rows]


def _answered(since: datetime | None, until: datetime) -> list[ColumnElement[bool]]:
    where = [ExchangeMessage.kind == ExchangeKind.ANSWER, ExchangeMessage.created_at < until]
    if since is not None:
        where.append(ExchangeMessage.created_at >= since)
    return where


async def answers_per_city(
    session: AsyncSession, since: datetime | None, until: datetime
) -> list[tuple[int, int]]:
    """(city id, answers sent from it) in [since, until)."""
    rows = await session.execute(
        select(ExchangeMessage.from_city_id, func.count())
        .where(*_answered(since, until), ExchangeMessage.from_city_id.is_not(None))
        .group_by(ExchangeMessage.from_city_id)
    )
    return [(int(cid), int(n)) for cid, n in rows if cid is not None]


async def stream_question_topics(
    session: AsyncSession, since: datetime | None, until: datetime, batch: int
) -> AsyncIterator[tuple[datetime, int]]:
    """(asked at, topic id) of each question asked in [since, until), streamed."""
    where = [Question.created_at < until]
    if since is not None:
        where.append(Question.created_at >= since)
    query = select(Question.created_at, Question.topic_id).where(*where)
    result = await session.stream(query.execution_options(yield_per=batch))
    async for created, topic_id in result:
        yield created, topic_id


async def stream_answer_topics(
    session: AsyncSession, since: datetime | None, until: datetime, batch: int
) -> AsyncIterator[tuple[datetime, int]]:
    """(answered at, topic id of the question) of each answer in [since, until), streamed."""
    query = (
        select(ExchangeMessage.created_at, Question.topic_id)
        .join(Question, Question.id == ExchangeMessage.question_id)
        .where(*_answered(since, until))
    )
    result = await session.stream(query.execution_options(yield_per=batch))
    async for created, topic_id in result:
        yield created, topic_id


async def first_answers_by_city(
    session: AsyncSession, since: datetime | None, until: datetime
) -> list[tuple[int, datetime, datetime]]:
    """Per city and question asked then: when it first reached the city and when someone of
    the city first answered it, `(city id, delivered at, answered at)`."""
    asked = [Question.created_at < until]
    if since is not None:
        asked.append(Question.created_at >= since)
    rows = await session.execute(
        select(
            Routing.city_id,
            type_coerce(func.min(Routing.delivered_at), UTCDateTime()).label("delivered"),
            type_coerce(func.min(Routing.answered_at), UTCDateTime()).label("answered"),
        )
        .join(Question, Question.id == Routing.question_id)
        .where(*asked, Routing.delivered_at.is_not(None), Routing.answered_at.is_not(None))
        .group_by(Routing.city_id, Routing.question_id)
    )
    return [(city_id, delivered, answered) for city_id, delivered, answered in rows]
