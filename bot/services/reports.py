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
from zoneinfo import ZoneInfo

from bot.db import audit_log, catalogue, exchange_stats, library, ratings
from bot.db.exchange_stats import ExportFilter
from bot.db.models import (
    Role,
)
from bot.runtime import Deps
from bot.services import calendars
from bot.services.calendars import CityAnswerTime
from bot.services.errors import ErrorCode, InvalidInput, NotFound
from bot.services.export_rows import shape, zone_named
from bot.services.identity import require_role

ERASED_NAME = "(erased)"
BATCH_ROWS = 5000
FORMATS = ("csv", "xlsx", "jsonl")


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
    "response_working_seconds",  # in the answering city's working hours (bot.city_calendar)
    "text",
    # The message as its reader got it when it crossed languages: machine-translated from the
    # detected language, or (translator unavailable) the original.
    "translation_from",
    "translation_to",
    "translation_status",
    "translation",
    "rating",  # an answer's, by its asker: useful | not useful
)
DATETIME_COLUMNS = frozenset({1, 2})
TEXT_COLUMNS = frozenset({5, 7, 8, 10, 11, 16, 20})

PERIOD_DAYS = {"7": 7, "30": 30, "90": 90}


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
    names: dict[str, str] = field(default_factory=dict)  # the city's name per language


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
    # Per answering city, its median time to a first answer in its own working hours.
    answer_times: list[CityAnswerTime] = field(default_factory=list)
    from_library: int = 0  # questions their askers closed with a library entry, unsent
    # Per city, the answers their askers rated in the period: (city, rated, rated useful).
    ratings: list[tuple[str, int, int]] = field(default_factory=list)

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
        raise InvalidInput(ErrorCode.PERIOD)
    return now - timedelta(days=PERIOD_DAYS[period]), None


def parse_dates(text: str, now: datetime) -> tuple[datetime, datetime]:
    """'2026-01-01 2026-01-31' (both days included) -> [start, end) in UTC."""
    parts = text.replace("—", " ").replace("–", " ").replace("..", " ").replace(",", " ").split()
    if len(parts) == 1:
        parts.append(now.date().isoformat())
    if len(parts) != 2:
        raise InvalidInput(ErrorCode.DATES)
    try:
        first, last = (date.fromisoformat(p) for p in parts)
    except ValueError:
        raise InvalidInput(ErrorCode.DATES) from None
    if last < first:
        raise InvalidInput(ErrorCode.DATES_ORDER)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


# ---- the export ---------------------------------------------------------------------------


async def filter_choices(deps: Deps, actor_tg_id: int, locale: str) -> FilterChoices:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        cities = await catalogue.all_cities(session)
        topics = await catalogue.all_topics(session)
        countries = sorted({c.country for c in cities})
        return FilterChoices(
            cities=[
                Choice(str(c.id), f"{(c.names or {}).get(locale) or c.name} ({c.country})")
                for c in cities
            ],
            countries=[Choice(c, c) for c in countries],
            topics=[Choice(str(t.id), t.name(locale)) for t in topics],
        )


async def resolve_names(
    deps: Deps,
    city_names: Sequence[str],
    topic_slugs: Sequence[str],
    countries: Sequence[str] = (),
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    """City names, topic slugs and country codes (as typed on the command line) to ids and
    codes; NotFound for one the catalogue does not have."""
    async with deps.db.transaction() as session:
        city_ids: list[int] = []
        for name in city_names:
            city = await catalogue.city_by_name(session, name)
            if city is None:
                raise NotFound(ErrorCode.CITY, name=name)
            city_ids.append(city.id)
        topic_ids: list[int] = []
        topics = {t.slug: t for t in await catalogue.all_topics(session)}
        for slug in topic_slugs:
            topic = topics.get(slug)
            if topic is None:
                raise NotFound(ErrorCode.NOT_FOUND, what="topic", slug=slug)
            topic_ids.append(topic.id)
        known_countries = {c.country for c in await catalogue.all_cities(session)}
        codes = tuple(c.strip().upper() for c in countries)
        for code in codes:
            if code not in known_countries:
                raise NotFound(ErrorCode.NOT_FOUND, what="country", country=code)
        return tuple(city_ids), tuple(topic_ids), codes


async def count_rows(deps: Deps, flt: ExportFilter) -> int:
    async with deps.db.transaction() as session:
        return await exchange_stats.count_messages(session, flt)


async def start_export(
    deps: Deps, actor_tg_id: int | None, flt: ExportFilter, fmt: str, *, via: str = "telegram"
) -> ExportStarted:
    """Check the actor is an admin (None: the command line), count the rows, audit the export."""
    if fmt not in FORMATS:
        raise InvalidInput(ErrorCode.FORMAT)
    rows = await count_rows(deps, flt)
    async with deps.db.transaction() as session:
        actor = None
        if actor_tg_id is not None:
            actor = await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        entry = await audit_log.record(
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


async def export_rows(
    deps: Deps, flt: ExportFilter, locale: str = "en", batch: int = BATCH_ROWS
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The exchange log in COLUMNS order, in batches, oldest first; memory stays flat.

    Erased officials appear as ERASED_NAME and their texts are left out, whatever the row.
    """
    zones: dict[str, ZoneInfo] = {}
    utc = zone_named("UTC", zones)
    async with deps.db.transaction() as session:
        cities = {
            c.id: (c.name, c.country, zone_named(c.timezone, zones))
            for c in await catalogue.all_cities(session)
        }
        topics = {t.id: t.name(locale) for t in await catalogue.all_topics(session)}
        cals = await calendars.calendars(session, cities)
        people: dict[int, tuple[str | None, int | None, bool]] = {
            p.id: (ERASED_NAME if p.erased else p.name, p.city_id, p.erased)
            for p in await exchange_stats.participants(session)
        }
        async for part in exchange_stats.stream_messages(session, flt, batch):
            yield shape(part, people, cities, topics, utc, cals)


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
        cities = {c.id: c for c in await catalogue.all_cities(session)}
        topics = {t.id: t for t in await catalogue.all_topics(session)}

        active = await exchange_stats.active_per_city(session)
        active_rows = [
            CityCount(cities[cid].name, cities[cid].country, n, dict(cities[cid].names))
            for cid, n in active
            if cid in cities
        ]
        active_rows.sort(key=lambda r: (-r.count, r.country, r.city))

        rows = await exchange_stats.questions_with_first_answer(session, since, until)
        # Closed by their askers with a library entry before being sent: answered, by the
        # library (no first answer time).
        from_library = await library.questions_answered_from(session, since, until)
        questions = answered = 0
        delays: list[float] = []
        per_topic: Counter[int] = Counter()
        for qid, topic_id, created, first in rows:
            questions += 1
            per_topic[topic_id] += 1
            if first is None and qid in from_library:
                answered += 1
            elif first is not None:
                answered += 1
                first_at = (
                    first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
                )
                if first_at.tzinfo is None:
                    first_at = first_at.replace(tzinfo=UTC)
                delays.append((first_at - created).total_seconds())
        median = timedelta(seconds=statistics.median(delays)) if delays else None

        helpful = await exchange_stats.answers_per_city(session, since, until)
        helpful_rows = [
            CityCount(cities[cid].name, cities[cid].country, n, dict(cities[cid].names))
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
            answer_times=await calendars.answer_times(session, since, until),
            from_library=len(from_library),
            ratings=sorted(
                (
                    (cities[c].name, n, useful)
                    for c, n, useful in await ratings.per_city(session, since, until)
                    if c in cities
                ),
                key=lambda r: (-r[2], -r[1], r[0]),
            ),
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
        groups = {t.id: t.group_name(locale) for t in await catalogue.all_topics(session)}
        counts: dict[str, dict[tuple[date, str], int]] = {
            "q": defaultdict(int),
            "a": defaultdict(int),
        }
        streams = {
            "q": exchange_stats.stream_question_topics(session, since, until, BATCH_ROWS),
            "a": exchange_stats.stream_answer_topics(session, since, until, BATCH_ROWS),
        }
        for key, stream in streams.items():
            async for created, topic_id in stream:
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
