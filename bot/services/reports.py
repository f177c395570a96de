"""Reports for organisers and admins: the exchange log as a stream of rows, and statistics.

The export never holds the log in memory: rows come from a server-side cursor in batches
(`session.stream` with `yield_per`), and the small tables they refer to (cities, topics,
officials) are read once up front.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import repo
from bot.db.models import (
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    Role,
    Topic,
)
from bot.runtime import Deps
from bot.services import InvalidInput, NotFound
from bot.services.identity import require_role

ERASED_NAME = "(erased)"
BATCH_ROWS = 5000
FORMATS = ("csv", "xlsx", "jsonl")

# The messages people exchanged; nudges and escalations are the bot's own and stay out.
EXPORT_KINDS = (
    ExchangeKind.QUESTION,
    ExchangeKind.ROUTING,
    ExchangeKind.ANSWER,
    ExchangeKind.FOLLOW_UP,
    ExchangeKind.DECLINE,
    ExchangeKind.RESOLVED,
)
RESPONSE_KINDS = {ExchangeKind.ANSWER.value, ExchangeKind.DECLINE.value}

# One row per exchange message; the keys are the CSV/XLSX header and the JSON field names.
COLUMNS = (
    "message_id",
    "time_utc",
    "time_local",
    "asker_timezone",
    "question_id",
    "topic",
    "kind",
    "asker_name",
    "asker_city",
    "asker_country",
    "answerer_name",
    "answerer_city",
    "answerer_country",
    "sent_by",
    "response_seconds",
    "text",
)
DATETIME_COLUMNS = frozenset({1, 2})
TEXT_COLUMNS = frozenset({5, 7, 8, 10, 11, 15})

PERIOD_DAYS = {"7": 7, "30": 30, "90": 90}


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


@dataclass(frozen=True)
class ExportStarted:
    rows: int
    audit_id: int


@dataclass(frozen=True)
class Choice:
    """A city, country or topic an admin can pick as a filter."""

    key: str
    label: str


@dataclass(frozen=True)
class FilterChoices:
    cities: list[Choice]
    countries: list[Choice]
    topics: list[Choice]


@dataclass(frozen=True)
class CityCount:
    city: str
    country: str
    count: int


@dataclass(frozen=True)
class Stats:
    since: datetime | None
    until: datetime
    active_officials: list[CityCount]
    questions: int
    answered: int
    median_first_answer: timedelta | None
    top_topics: list[tuple[str, int]]
    helpful_cities: list[CityCount]
    answers: int

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None


@dataclass(frozen=True)
class WeeklySeries:
    """Questions and answers per ISO week (its Monday), split by topic group."""

    weeks: list[date]
    groups: list[str]
    questions: dict[str, list[int]] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=dict)


# ---- periods and filters ------------------------------------------------------------------


def period_filter(now: datetime, period: str) -> tuple[datetime | None, datetime | None]:
    """'7', '30', '90' days back from now, or 'all'."""
    if period == "all":
        return None, None
    if period not in PERIOD_DAYS:
        raise InvalidInput("period")
    return now - timedelta(days=PERIOD_DAYS[period]), None


def parse_dates(text: str, now: datetime) -> tuple[datetime, datetime]:
    """'2026-01-01 2026-01-31' (both days included) -> [start, end) in UTC."""
    parts = text.replace("—", " ").replace("–", " ").replace("..", " ").replace(",", " ").split()
    if len(parts) == 1:
        parts.append(now.date().isoformat())
    if len(parts) != 2:
        raise InvalidInput("dates")
    try:
        first, last = (date.fromisoformat(p) for p in parts)
    except ValueError:
        raise InvalidInput("dates") from None
    if last < first:
        raise InvalidInput("dates_order")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


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


def _export_query(flt: ExportFilter, country_city_ids: Sequence[int] | None) -> Select[Any]:
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
        )
        .join(Question, Question.id == em.question_id)
        .where(and_(*_where(flt, country_city_ids)))
        .order_by(em.created_at, em.id)
    )


# ---- the export ---------------------------------------------------------------------------


async def filter_choices(deps: Deps, actor_tg_id: int, locale: str) -> FilterChoices:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        cities = await repo.all_cities(session)
        topics = await repo.all_topics(session)
        countries = sorted({c.country for c in cities})
        return FilterChoices(
            cities=[Choice(str(c.id), f"{c.name} ({c.country})") for c in cities],
            countries=[Choice(c, c) for c in countries],
            topics=[Choice(str(t.id), t.name(locale)) for t in topics],
        )


async def resolve_names(
    deps: Deps, city_names: Sequence[str], topic_slugs: Sequence[str]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """City names and topic slugs (as typed on the command line) to ids."""
    async with deps.db.transaction() as session:
        city_ids: list[int] = []
        for name in city_names:
            city = await repo.city_by_name(session, name)
            if city is None:
                raise NotFound(what="city", name=name)
            city_ids.append(city.id)
        topic_ids: list[int] = []
        for slug in topic_slugs:
            topic = await session.scalar(select(Topic).where(Topic.slug == slug))
            if topic is None:
                raise NotFound(what="topic", slug=slug)
            topic_ids.append(topic.id)
        return tuple(city_ids), tuple(topic_ids)


async def count_rows(deps: Deps, flt: ExportFilter) -> int:
    async with deps.db.transaction() as session:
        ids = await _country_city_ids(session, flt.countries)
        query = (
            select(func.count())
            .select_from(ExchangeMessage)
            .join(Question, Question.id == ExchangeMessage.question_id)
            .where(and_(*_where(flt, ids)))
        )
        return int(await session.scalar(query) or 0)


async def start_export(
    deps: Deps, actor_tg_id: int | None, flt: ExportFilter, fmt: str, *, via: str = "telegram"
) -> ExportStarted:
    """Check the actor is an admin (None: the command line), count the rows, audit the export."""
    if fmt not in FORMATS:
        raise InvalidInput("format")
    rows = await count_rows(deps, flt)
    async with deps.db.transaction() as session:
        actor = None
        if actor_tg_id is not None:
            actor = await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        entry = await repo.audit(
            session,
            deps.clock.now(),
            "export.created",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="exchange_message",
            format=fmt,
            rows=rows,
            via=via,
            **flt.describe(),
        )
        return ExportStarted(rows, entry.id)


def _zone(name: str | None, cache: dict[str, ZoneInfo]) -> ZoneInfo:
    key = name or "UTC"
    zone = cache.get(key)
    if zone is None:
        try:
            zone = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        cache[key] = zone
    return zone


async def export_rows(
    deps: Deps, flt: ExportFilter, locale: str = "en", batch: int = BATCH_ROWS
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The exchange log in COLUMNS order, in batches, oldest first; memory stays flat.

    Erased officials appear as ERASED_NAME and their texts are left out, whatever the row.
    """
    zones: dict[str, ZoneInfo] = {}
    utc = _zone("UTC", zones)
    async with deps.db.transaction() as session:
        cities = {
            c.id: (c.name, c.country, _zone(c.timezone, zones))
            for c in await repo.all_cities(session)
        }
        topics = {t.id: t.name(locale) for t in await repo.all_topics(session)}
        people: dict[int, tuple[str | None, int | None, bool]] = {}
        officials = await session.execute(
            select(Official.id, Official.name, Official.city_id, Official.status)
        )
        for oid, name, city_id, status in officials:
            erased = status == OfficialStatus.ERASED
            people[oid] = (ERASED_NAME if erased else name, city_id, erased)
        ids = await _country_city_ids(session, flt.countries)
        result = await session.stream(_export_query(flt, ids).execution_options(yield_per=batch))
        nobody: tuple[str | None, int | None, bool] = (None, None, False)
        nowhere: tuple[str | None, str | None, ZoneInfo] = (None, None, utc)
        async for part in result.partitions():
            out: list[tuple[Any, ...]] = []
            for (
                mid,
                created,
                qid,
                kind,
                from_id,
                to_id,
                from_city,
                to_city,
                text,
                asker_id,
                topic_id,
                q_city,
                asked_at,
            ) in part:
                asker_name, asker_home, _asker_erased = people.get(asker_id, nobody)
                asker_city_id = q_city if q_city is not None else asker_home
                asker_city = cities.get(asker_city_id, nowhere) if asker_city_id else nowhere
                if from_id is not None and from_id == asker_id:
                    sent_by, peer_id, peer_city_id = "asker", to_id, to_city
                elif from_id is None:
                    sent_by, peer_id, peer_city_id = "bot", to_id, to_city
                else:
                    sent_by, peer_id, peer_city_id = "answerer", from_id, from_city
                peer_name, peer_home, _ = people.get(peer_id, nobody) if peer_id else nobody
                if peer_city_id is None:
                    peer_city_id = peer_home
                peer_city = cities.get(peer_city_id, nowhere) if peer_city_id else nowhere
                if from_id is not None and people.get(from_id, nobody)[2]:
                    text = None
                zone = asker_city[2]
                response = (
                    int((created - asked_at).total_seconds())
                    if kind in RESPONSE_KINDS and asked_at is not None
                    else None
                )
                out.append(
                    (
                        mid,
                        created,
                        created.astimezone(zone),
                        zone.key,
                        qid,
                        topics.get(topic_id, ""),
                        kind,
                        asker_name,
                        asker_city[0],
                        asker_city[1],
                        peer_name,
                        peer_city[0],
                        peer_city[1],
                        sent_by,
                        response,
                        text,
                    )
                )
            yield out


# ---- statistics ---------------------------------------------------------------------------


async def stats(
    deps: Deps,
    actor_tg_id: int | None,
    since: datetime | None,
    until: datetime | None = None,
    top: int = 5,
    locale: str = "en",
) -> Stats:
    """The exchange in a period; organisers and admins only (None: the command line)."""
    until = until or deps.clock.now()
    async with deps.db.transaction() as session:
        if actor_tg_id is not None:
            await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        cities = {c.id: c for c in await repo.all_cities(session)}
        topics = {t.id: t for t in await repo.all_topics(session)}

        active = await session.execute(
            select(Official.city_id, func.count())
            .where(Official.status == OfficialStatus.ACTIVE, Official.city_id.is_not(None))
            .group_by(Official.city_id)
        )
        active_rows = [
            CityCount(cities[cid].name, cities[cid].country, n)
            for cid, n in active
            if cid in cities
        ]
        active_rows.sort(key=lambda r: (-r.count, r.country, r.city))

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
        questions = answered = 0
        delays: list[float] = []
        per_topic: Counter[int] = Counter()
        for _qid, topic_id, created, first in rows:
            questions += 1
            per_topic[topic_id] += 1
            if first is not None:
                answered += 1
                first_at = (
                    first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
                )
                if first_at.tzinfo is None:
                    first_at = first_at.replace(tzinfo=UTC)
                delays.append((first_at - created).total_seconds())
        median = timedelta(seconds=statistics.median(delays)) if delays else None

        answer_where = [
            ExchangeMessage.kind == ExchangeKind.ANSWER,
            ExchangeMessage.created_at < until,
        ]
        if since is not None:
            answer_where.append(ExchangeMessage.created_at >= since)
        helpful = await session.execute(
            select(ExchangeMessage.from_city_id, func.count())
            .where(*answer_where, ExchangeMessage.from_city_id.is_not(None))
            .group_by(ExchangeMessage.from_city_id)
        )
        helpful_rows = [
            CityCount(cities[cid].name, cities[cid].country, n)
            for cid, n in helpful
            if cid in cities
        ]
        helpful_rows.sort(key=lambda r: (-r.count, r.country, r.city))
        answers = sum(r.count for r in helpful_rows)

        top_topics = sorted(per_topic.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return Stats(
            since=since,
            until=until,
            active_officials=active_rows,
            questions=questions,
            answered=answered,
            median_first_answer=median,
            top_topics=[
                (topics[t].name(locale) if t in topics else str(t), n) for t, n in top_topics
            ],
            helpful_cities=helpful_rows[:top],
            answers=answers,
        )


def _monday(when: datetime) -> date:
    day = when.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


async def weekly_series(
    deps: Deps,
    actor_tg_id: int | None,
    since: datetime | None,
    until: datetime | None = None,
    locale: str = "en",
) -> WeeklySeries:
    """Counts per week and topic group for the chart (streamed, so 'all' stays cheap)."""
    until = until or deps.clock.now()
    async with deps.db.transaction() as session:
        if actor_tg_id is not None:
            await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        groups = {t.id: t.group_name(locale) for t in await session.scalars(select(Topic))}
        counts: dict[str, dict[tuple[date, str], int]] = {
            "q": defaultdict(int),
            "a": defaultdict(int),
        }
        q_where = [Question.created_at < until]
        a_where = [ExchangeMessage.kind == ExchangeKind.ANSWER, ExchangeMessage.created_at < until]
        if since is not None:
            q_where.append(Question.created_at >= since)
            a_where.append(ExchangeMessage.created_at >= since)
        queries = {
            "q": select(Question.created_at, Question.topic_id).where(*q_where),
            "a": select(ExchangeMessage.created_at, Question.topic_id)
            .join(Question, Question.id == ExchangeMessage.question_id)
            .where(*a_where),
        }
        for key, query in queries.items():
            result = await session.stream(query.execution_options(yield_per=BATCH_ROWS))
            async for created, topic_id in result:
                counts[key][(_monday(created), groups.get(topic_id, "?"))] += 1
    start = (
        _monday(since)
        if since is not None
        else min((week for table in counts.values() for week, _g in table), default=_monday(until))
    )
    weeks: list[date] = []
    week = start
    while week <= _monday(until):
        weeks.append(week)
        week += timedelta(days=7)
    names = sorted({g for table in counts.values() for _w, g in table})
    series = WeeklySeries(weeks, names)
    for key, target in (("q", series.questions), ("a", series.answers)):
        for name in names:
            target[name] = [counts[key].get((w, name), 0) for w in weeks]
    return series
