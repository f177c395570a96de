"""Cities' working calendars as the exchange uses them: when a follow-up falls due in the
recipients' working hours, and what an asker should expect from cities not at work now."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import city_calendar
from bot.city_calendar import Availability, CityCalendar
from bot.db import catalogue, exchange_stats
from bot.db.models import City
from bot.runtime import Deps


@dataclass(frozen=True)
class CityWait:
    """A city that received a question but is not at work now, for the asker."""

    city: str
    timezone: str
    availability: Availability
    names: dict[str, str] = field(default_factory=dict)  # the city's name per language


def of_city(city: City) -> CityCalendar:
    return city_calendar.build(city.country, city.timezone, city.calendar)


async def calendars(session: AsyncSession, city_ids: Iterable[int]) -> dict[int, CityCalendar]:
    return {i: of_city(c) for i, c in (await catalogue.cities_by_ids(session, city_ids)).items()}


async def due_after(
    session: AsyncSession, city_ids: Iterable[int], start: datetime, hours: float
) -> datetime | None:
    """When every one of these cities has had `hours` working hours since `start` (None
    without cities)."""
    found = await calendars(session, city_ids)
    dues = [city_calendar.add_working_hours(cal, start, hours) for cal in found.values()]
    return max(dues) if dues else None


async def waits(deps: Deps, city_names: Iterable[str], locale: str) -> list[CityWait]:
    """The cities among these that are not at work now: why, and when they start again (the
    holiday named in `locale` where the holidays package has that language)."""
    out = []
    async with deps.db.read() as session:
        by_name = await catalogue.cities_by_name(session)
    for name in city_names:
        city = by_name.get(name)
        if city is None:
            continue
        found = city_calendar.availability(of_city(city), deps.clock, locale)
        if found.state != "working":
            out.append(CityWait(city.name, city.timezone, found, dict(city.names or {})))
    return out


@dataclass(frozen=True)
class CityAnswerTime:
    """How soon a city answers: the median time from a question reaching it to its first
    answer from there, counted in the city's working hours."""

    city: str
    country: str
    median_hours: float
    answered: int  # questions it answered in the period


async def answer_times(
    session: AsyncSession, since: datetime | None, until: datetime
) -> list[CityAnswerTime]:
    """Per city that answered questions asked in the period, fastest first."""
    cities = {c.id: c for c in await catalogue.all_cities(session)}
    cals = {i: of_city(c) for i, c in cities.items()}
    hours: dict[int, list[float]] = {}
    for city_id, delivered, answered in await exchange_stats.first_answers_by_city(
        session, since, until
    ):
        if city_id in cals and answered >= delivered:
            seconds = city_calendar.working_seconds_between(cals[city_id], delivered, answered)
            hours.setdefault(city_id, []).append(seconds / 3600)
    out = [
        CityAnswerTime(cities[i].name, cities[i].country, statistics.median(values), len(values))
        for i, values in hours.items()
    ]
    return sorted(out, key=lambda t: (t.median_hours, t.country, t.city))
