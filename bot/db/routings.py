"""Routing rows: who a question was sent to, the candidates a round ranks, their open load.

SQL only: callers own the transaction. Rows come back named (`row.city_id`), never by position.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.absences import is_away, reachable
from bot.db.base import UTCDateTime
from bot.db.catalogue import CityName
from bot.db.models import (
    City,
    CityTopicStats,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    Routing,
    RoutingStatus,
    routing_waiting,
)
from bot.db.rating_models import AnswerRating


def _candidates_statement() -> Select[Any]:
    """Coverage, history and the askers' ratings per candidate city; parameters: the topic, the
    excluded cities, the question (the cities it was already routed to are excluded too) and
    the time. Coverage counts the officials a question would reach now (not away, or away with
    a deputy standing in): a city where nobody can take it is no candidate, so the next city
    in the ranking takes its place."""
    topic_id = bindparam("topic_id", type_=Integer)
    routed = select(Routing.city_id).where(Routing.question_id == bindparam("question_id"))
    coverage = (
        select(Official.city_id.label("city_id"), func.count().label("covering"))
        .join(OfficialTopic, OfficialTopic.official_id == Official.id)
        .where(
            OfficialTopic.topic_id == topic_id,
            Official.status == OfficialStatus.ACTIVE,
            Official.city_id.is_not(None),
            Official.city_id.not_in(bindparam("excluded", expanding=True)),
            Official.city_id.not_in(routed),
            reachable(Official, bindparam("now", type_=UTCDateTime())),
        )
        .group_by(Official.city_id)
        .subquery("coverage")
    )
    history = CityTopicStats
    rated = (
        select(
            AnswerRating.city_id.label("city_id"),
            func.count().label("rated"),
            func.sum(case((AnswerRating.useful.is_(True), 1), else_=0)).label("useful"),
        )
        .where(AnswerRating.topic_id == topic_id)
        .group_by(AnswerRating.city_id)
        .subquery("rated")
    )
    return (
        select(
            City.id.label("city_id"),
            City.name,
            # As stored (JSON text): a few distinct values among hundreds of cities, decoded
            # once each by candidate_cities.
            cast(City.languages, Text).label("languages"),
            coverage.c.covering,
            history.asked,
            history.answered,
            history.answer_seconds,
            history.answer_count,
            rated.c.rated,
            rated.c.useful,
        )
        .join(coverage, coverage.c.city_id == City.id)
        .outerjoin(history, and_(history.city_id == City.id, history.topic_id == topic_id))
        .outerjoin(rated, rated.c.city_id == City.id)
    )


# Built once, as the load query below: every question runs them, and building them costs more
# Python than SQLite spends running them.
_CANDIDATES = _candidates_statement()
_OPEN_LOAD = (
    select(Routing.city_id, func.count().label("waiting"))
    .where(
        routing_waiting(),
        Routing.city_id.in_(bindparam("cities", expanding=True)),
        Routing.created_at >= bindparam("since", type_=UTCDateTime()),
    )
    .group_by(Routing.city_id)
)


# Over the table, not the mapped class: the ORM's bulk machinery costs more than the insert.
_ROUTING = typing.cast(Table, Routing.__table__)
_INSERT_ROUTINGS = insert(_ROUTING).returning(_ROUTING.c.recipient_id, _ROUTING.c.id)
_COVERING_OFFICIALS = (
    select(Official.id, Official.city_id, Official.chat_id, Official.locale)
    .join(OfficialTopic, OfficialTopic.official_id == Official.id)
    .where(
        OfficialTopic.topic_id == bindparam("topic_id", type_=Integer),
        Official.status == OfficialStatus.ACTIVE,
        Official.city_id.in_(bindparam("cities", expanding=True)),
        Official.id != bindparam("asker_id", type_=Integer),
        ~is_away(Official.id, bindparam("now", type_=UTCDateTime())),
    )
    .order_by(Official.city_id, Official.id)
)


class CandidateCity(NamedTuple):
    city_id: int
    name: str
    languages: tuple[str, ...]
    covering: int
    asked: int | None
    answered: int | None
    answer_seconds: float | None
    answer_count: int | None
    rated: int | None  # its answers on the topic their askers rated (None: none)
    useful: int | None  # of those, rated useful


async def candidate_cities(
    session: AsyncSession,
    topic_id: int,
    excluded: Collection[int],
    question_id: int | None,
    now: datetime,
) -> list[CandidateCity]:
    """Every city with an active official covering the topic, but the excluded ones and those
    the question was already routed to, with its coverage, its history on the topic and its
    ratings (None without them)."""
    params = {
        "topic_id": topic_id,
        "excluded": sorted(set(excluded)),
        "question_id": question_id,
        "now": now,
    }
    decoded: dict[str | None, tuple[str, ...]] = {}
    out = []
    for row in await session.execute(_CANDIDATES, params):
        languages = decoded.get(row.languages)
        if languages is None:
            languages = decoded[row.languages] = tuple(json.loads(row.languages or "[]"))
        out.append(CandidateCity(row.city_id, row.name, languages, *row[3:]))
    return out


async def open_load(
    session: AsyncSession, city_ids: Collection[int], since: datetime
) -> dict[int, int]:
    """Per city, what its officials were sent since `since` and have not answered yet.
    Waiting rows belong to open questions (resolving closes them), so the partial index of
    waiting rows by (city, created_at) answers it alone."""
    rows = await session.execute(_OPEN_LOAD, {"cities": sorted(city_ids), "since": since})
    return {row.city_id: int(row.waiting) for row in rows}


async def covering_officials(
    session: AsyncSession, topic_id: int, city_ids: Collection[int], asker_id: int, now: datetime
) -> Sequence[Any]:
    """The active officials of these cities who cover the topic and are not away, but the
    asker: `id, city_id, chat_id, locale`, by city then id."""
    rows = await session.execute(
        _COVERING_OFFICIALS,
        {"topic_id": topic_id, "cities": sorted(city_ids), "asker_id": asker_id, "now": now},
    )
    return rows.all()


async def officials_for_city(
    session: AsyncSession,
    city_id: int,
    topic_id: int,
    asker_id: int,
    already: Collection[int],
    now: datetime,
) -> Sequence[Official]:
    """Routing by hand to a city: its active officials covering the topic, else all its active
    ones; never the asker, those the question already reached, nor anyone away."""
    base = select(Official).where(
        Official.city_id == city_id,
        Official.status == OfficialStatus.ACTIVE,
        Official.id != asker_id,
        Official.id.not_in(sorted(already)),
        ~is_away(Official.id, now),
    )
    covering = (
        await session.scalars(
            base.join(OfficialTopic, OfficialTopic.official_id == Official.id)
            .where(OfficialTopic.topic_id == topic_id)
            .order_by(Official.id)
        )
    ).all()
    return covering or (await session.scalars(base.order_by(Official.id))).all()


async def routed(session: AsyncSession, question_id: int) -> tuple[set[int], set[int]]:
    """The cities and the officials a question was routed to."""
    rows = await session.execute(
        select(Routing.city_id, Routing.recipient_id).where(Routing.question_id == question_id)
    )
    cities: set[int] = set()
    people: set[int] = set()
    for row in rows:
        cities.add(row.city_id)
        people.add(row.recipient_id)
    return cities, people


async def add_routings(
    session: AsyncSession,
    question: Question,
    round_no: int,
    now: datetime,
    rows: Sequence[Mapping[str, Any]],
) -> dict[int, int]:
    """Pending routing rows for a round (each: recipient_id, city_id, score, reason), in one
    statement however many; the new row's id per recipient (a question reaches each once)."""
    if not rows:
        return {}
    result = await session.execute(
        _INSERT_ROUTINGS,
        [
            {
                "question_id": question.id,
                "topic_id": question.topic_id,
                "round": round_no,
                "status": RoutingStatus.PENDING,
                "created_at": now,
                **row,
            }
            for row in rows
        ],
    )
    return {r.recipient_id: r.id for r in result}


async def routing(session: AsyncSession, routing_id: int | None) -> Routing | None:
    if routing_id is None:
        return None
    return await session.get(Routing, routing_id)


async def routing_of(session: AsyncSession, question_id: int, recipient_id: int) -> Routing | None:
    return await session.scalar(
        select(Routing).where(
            Routing.question_id == question_id, Routing.recipient_id == recipient_id
        )
    )


async def close_waiting(session: AsyncSession, question_id: int, waiting: Collection[str]) -> None:
    """The question no longer waits for anyone: what keeps the ranking's open load honest."""
    await session.execute(
        update(Routing)
        .where(Routing.question_id == question_id, Routing.status.in_(list(waiting)))
        .values(status=RoutingStatus.CLOSED)
    )


async def answered_count(session: AsyncSession, question_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Routing)
        .where(Routing.question_id == question_id, Routing.answered_at.is_not(None))
    )
    return int(found or 0)


async def answerer_ids(session: AsyncSession, question_id: int) -> list[int]:
    """The officials who answered the question and are still in the exchange (not erased,
    removed or unreachable since): those who can be thanked."""
    rows = await session.scalars(
        select(Routing.recipient_id)
        .join(Official, Official.id == Routing.recipient_id)
        .where(
            Routing.question_id == question_id,
            Routing.answered_at.is_not(None),
            Official.status == OfficialStatus.ACTIVE,
        )
        .order_by(Routing.recipient_id)
    )
    return list(rows.all())


async def statuses_in(
    session: AsyncSession, question_id: int, city_ids: Collection[int]
) -> Sequence[Any]:
    """`city_id, status` of the question's routing rows in these cities."""
    rows = await session.execute(
        select(Routing.city_id, Routing.status).where(
            Routing.question_id == question_id, Routing.city_id.in_(sorted(city_ids))
        )
    )
    return rows.all()


async def reached_city_names(
    session: AsyncSession,
    question_id: int,
    statuses: Collection[str],
    routing_ids: Collection[int] | None = None,
) -> list[CityName]:
    """The cities where the question was delivered (routing in `statuses`; only these routing
    rows when given), best score first."""
    best = func.max(Routing.score)
    query = (
        select(City.name, City.names)
        .select_from(Routing)
        .join(City, City.id == Routing.city_id)
        .where(
            Routing.question_id == question_id,
            Routing.delivered_at.is_not(None),
            Routing.status.in_(list(statuses)),
        )
        .group_by(City.id)
        .order_by(best.desc(), City.name)
    )
    if routing_ids is not None:
        query = query.where(Routing.id.in_(list(routing_ids)))
    return [CityName(row.name, row.names or {}) for row in await session.execute(query)]
