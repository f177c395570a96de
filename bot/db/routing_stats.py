"""The per city and topic routing history (`city_topic_stats`) that ranking reads.

Kept exact by the two events that change it, in their transactions: routing rows written for
a question (`add_routed`, in routing's write) and a routing's first answer (`add_answer`).
`rebuild` recomputes it from `routing` (the migration's backfill, and rows written by hand).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.db.base import dialect_name, upsert
from bot.db.models import AnswerRating, CityTopicStats, Routing, UTCDateTime

T = cast(Table, CityTopicStats.__table__)


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


@functools.cache  # built once per dialect: every routed question runs it
def _routed_statement(dialect: str) -> Any:
    return _accumulate(_insert(dialect), "asked")


def _insert(dialect: str) -> Any:
    return upsert(dialect, T)


def _accumulate(stmt: Any, *columns: str) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=[T.c.topic_id, T.c.city_id],
        set_={c: T.c[c] + stmt.excluded[c] for c in columns},
    )


async def add_routed(session: AsyncSession, topic_id: int, city_ids: Sequence[int]) -> None:
    """A question on this topic was routed to these cities for the first time (distinct)."""
    if not city_ids:
        return
    await session.execute(
        _routed_statement(dialect_name(session)),
        [
            {
                "topic_id": topic_id,
                "city_id": city_id,
                "asked": 1,
                "answered": 0,
                "answer_seconds": 0.0,
                "answer_count": 0,
            }
            for city_id in city_ids
        ],
    )


@functools.cache  # built once per dialect: every first answer runs it
def _answer_statement(dialect: str) -> Any:
    first_in_city = (
        select(case((func.count() == 1, 1), else_=0))
        .where(
            Routing.question_id == bindparam("question_id"),
            Routing.city_id == bindparam("city_id"),
            Routing.answered_at.is_not(None),
        )
        .scalar_subquery()
    )
    delivered = bindparam("delivered_at", type_=UTCDateTime())
    seconds = case(
        (delivered.is_(None), 0.0),
        else_=seconds_between(dialect, bindparam("answered_at", type_=UTCDateTime()), delivered),
    )
    stmt = _insert(dialect).values(
        topic_id=bindparam("topic_id"),
        city_id=bindparam("city_id"),
        asked=0,
        answered=first_in_city,
        answer_seconds=seconds,
        answer_count=bindparam("counted"),
    )
    return _accumulate(stmt, "answered", "answer_seconds", "answer_count")


async def add_answer(
    session: AsyncSession,
    question_id: int,
    city_id: int,
    topic_id: int | None,
    delivered_at: datetime | None,
    answered_at: datetime,
) -> None:
    """A routing got its first answer. Call after setting its answered_at in this transaction.

    The question counts as answered in the city when this is the city's only answered routing
    of it. Callers lock the question row first (they update it), so two officials of one city
    answering at once are counted in turn, each seeing the other's committed answer.
    """
    if topic_id is None:
        return
    await session.execute(
        _answer_statement(dialect_name(session)),
        {
            "question_id": question_id,
            "city_id": city_id,
            "topic_id": topic_id,
            "delivered_at": delivered_at,
            "answered_at": answered_at,
            "counted": 1 if delivered_at is not None else 0,
        },
    )


def rebuild_select(dialect: str) -> Any:
    answered = Routing.answered_at.is_not(None) & Routing.delivered_at.is_not(None)
    return (
        select(
            Routing.topic_id,
            Routing.city_id,
            func.count(func.distinct(Routing.question_id)),
            func.count(
                func.distinct(case((Routing.answered_at.is_not(None), Routing.question_id)))
            ),
            func.coalesce(
                func.sum(
                    case(
                        (
                            answered,
                            seconds_between(dialect, Routing.answered_at, Routing.delivered_at),
                        )
                    )
                ),
                0.0,
            ),
            func.count(case((answered, 1))),
        )
        .where(Routing.topic_id.is_not(None))
        .group_by(Routing.topic_id, Routing.city_id)
    )


async def rebuild(session: AsyncSession) -> None:
    """Recompute every row from the routing table."""
    dialect = dialect_name(session)
    await session.execute(delete(CityTopicStats))
    await session.execute(
        T.insert().from_select(
            ["topic_id", "city_id", "asked", "answered", "answer_seconds", "answer_count"],
            rebuild_select(dialect),
        )
    )


@dataclass
class TrackRow:
    """A city's history on a topic, as routing weighs it."""

    asked: int  # questions on the topic routed to it
    answered: int  # of those, answered from it
    rated: int = 0  # its answers on the topic their askers rated
    useful: int = 0  # of those, rated useful
    seconds: list[float] = field(default_factory=list)  # delivery to each first answer


async def track_records(
    session: AsyncSession, topic_id: int, city_ids: Sequence[int]
) -> dict[int, TrackRow]:
    """Per city with questions on this topic routed to it: its history there."""
    if not city_ids:
        return {}
    rows = await session.execute(
        select(CityTopicStats.city_id, CityTopicStats.asked, CityTopicStats.answered).where(
            CityTopicStats.topic_id == topic_id,
            CityTopicStats.city_id.in_(bindparam("ids", expanding=True)),
            CityTopicStats.asked > 0,
        ),
        {"ids": list(city_ids)},
    )
    found = {city_id: TrackRow(asked, answered) for city_id, asked, answered in rows}
    if not found:
        return found
    ids = {"ids": list(found)}
    rated = await session.execute(
        select(
            AnswerRating.city_id,
            func.count(),
            func.sum(case((AnswerRating.useful.is_(True), 1), else_=0)),
        )
        .where(
            AnswerRating.topic_id == topic_id,
            AnswerRating.city_id.in_(bindparam("ids", expanding=True)),
        )
        .group_by(AnswerRating.city_id),
        ids,
    )
    for city_id, n, useful in rated:
        found[city_id].rated, found[city_id].useful = int(n), int(useful or 0)
    times = await session.execute(
        select(
            Routing.city_id,
            seconds_between(dialect_name(session), Routing.answered_at, Routing.delivered_at),
        ).where(
            Routing.topic_id == topic_id,
            Routing.city_id.in_(bindparam("ids", expanding=True)),
            Routing.answered_at.is_not(None),
            Routing.delivered_at.is_not(None),
        ),
        ids,
    )
    for city_id, seconds in times:
        found[city_id].seconds.append(float(seconds))
    return found
