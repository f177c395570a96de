"""Cities' working calendars as the exchange uses them: when a follow-up falls due in the
recipients' working hours, and what an asker should expect from cities not at work now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import city_calendar
from bot.city_calendar import Availability, CityCalendar
from bot.db import catalogue
from bot.db.models import City
from bot.runtime import Deps


@dataclass(frozen=True)
class CityWait:
    """A city that received a question but is not at work now, for the asker."""

    city: str
    timezone: str
    availability: Availability


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
            out.append(CityWait(city.name, city.timezone, found))
    return out
