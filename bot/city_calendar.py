"""Each city's working calendar: working days, working hours and public holidays.

Defaults come from the country (its weekend and public holidays, from the `holidays`
package); a city's entry in the seed file may override them (`CalendarOverrides`). Every
function here is pure: it is given the time (or the clock) and the calendar, and reads
nothing else, so tests move a FakeClock across weekends, holidays and DST changes.

Working time is counted in the city's own timezone, day by day: a day's window is its working
hours on a working day (a date that is neither a weekend day nor a holiday), and a delay of N
working hours ends once N hours of such windows have passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.clock import Clock

if TYPE_CHECKING:
    from holidays import HolidayBase

DEFAULT_HOURS = (9 * 60, 17 * 60)  # minutes after local midnight, when a city sets none
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Longer than any run of days off a real calendar has: past it, a calendar without working
# days (a mistake in the seed file) counts plain time instead of never ending.
_HORIZON_DAYS = 60
_HOURS = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*-\s*(\d{1,2})[:.h](\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
# Our locales and the `holidays` package's names for them, best first.
_HOLIDAY_LANGUAGES = {
    "en": ("en_US", "en_GB"),
    "fr": ("fr", "fr_FR"),
    "ar": ("ar",),
    "it": ("it", "it_IT"),
    "es": ("es", "es_ES"),
}


@dataclass(frozen=True)
class Season:
    """Hours that differ for part of every year (summer hours): month-day bounds, inclusive."""

    start: tuple[int, int]
    end: tuple[int, int]
    hours: tuple[int, int]

    def covers(self, day: date) -> bool:
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True)
class CityCalendar:
    country: str
    timezone: str
    weekend: frozenset[int]  # 0 = Monday
    hours: tuple[int, int]
    seasons: tuple[Season, ...] = ()
    subdivision: str | None = None
    extra_holidays: tuple[tuple[date, str], ...] = ()  # local holidays from the seed file
    not_holidays: frozenset[date] = frozenset()  # country holidays the city works on

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Availability:
    """Whether a city works at a moment, and if not why and when it starts again."""

    state: str  # working | holiday | weekend | closed
    holiday: str | None  # the holiday's name (in the language asked for) when state is holiday
    next_start: datetime  # UTC; the moment itself when working


class CalendarError(ValueError):
    """A city's calendar overrides that cannot be read; the message says which part."""


def parse_hours(text: str) -> tuple[int, int]:
    """'08:00-16:30' → minutes after midnight (start before end)."""
    match = _HOURS.match(str(text))
    if not match:
        raise CalendarError(f"hours must look like 08:00-16:30, not {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or h1 * 60 + m1 >= h2 * 60 + m2:
        raise CalendarError(f"hours {text!r}: the start must come before the end")
    return h1 * 60 + m1, h2 * 60 + m2


def _month_day(text: Any) -> tuple[int, int]:
    match = _MONTH_DAY.match(str(text))
    if not match:
        raise CalendarError(f"season bounds are month-day like 07-01, not {text!r}")
    month, day = int(match.group(1)), int(match.group(2))
    date(2024, month, day)  # a leap year: 02-29 is allowed
    return month, day


def normalise_overrides(country: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """The seed file's `[city.calendar]` table checked and reduced to what is stored on the
    city (JSON); raises CalendarError naming the part it cannot read."""
    raw = dict(raw or {})
    unknown = set(raw) - {"weekend", "hours", "season", "holidays", "not_holidays", "subdivision"}
    if unknown:
        raise CalendarError(f"unknown calendar keys {sorted(unknown)}")
    out: dict[str, Any] = {}
    if "weekend" in raw:
        days = [str(d).lower()[:3] for d in raw["weekend"]]
        if any(d not in WEEKDAYS for d in days):
            raise CalendarError(f"weekend days are mon…sun, not {raw['weekend']!r}")
        out["weekend"] = sorted({WEEKDAYS.index(d) for d in days})
    if "hours" in raw:
        parse_hours(raw["hours"])
        out["hours"] = str(raw["hours"]).strip()
    seasons = []
    for season in raw.get("season", []):
        try:
            _month_day(season["from"]), _month_day(season["to"]), parse_hours(season["hours"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarError(f"season {season!r}: {exc}") from None
        seasons.append({"from": season["from"], "to": season["to"], "hours": season["hours"]})
    if seasons:
        out["season"] = seasons
    extra = {}
    for day, name in dict(raw.get("holidays", {})).items():
        try:
            extra[date.fromisoformat(str(day)).isoformat()] = str(name)
        except ValueError:
            raise CalendarError(f"holiday dates are YYYY-MM-DD, not {day!r}") from None
    if extra:
        out["holidays"] = extra
    worked = []
    for day in raw.get("not_holidays", []):
        try:
            worked.append(date.fromisoformat(str(day)).isoformat())
        except ValueError:
            raise CalendarError(f"not_holidays dates are YYYY-MM-DD, not {day!r}") from None
    if worked:
        out["not_holidays"] = sorted(worked)
    if raw.get("subdivision"):
        try:
            _country_calendar(country, subdiv=str(raw["subdivision"]))
        except NotImplementedError:
            raise CalendarError(
                f"unknown subdivision {raw['subdivision']!r} of {country}"
            ) from None
        out["subdivision"] = str(raw["subdivision"])
    return out


def build(country: str, timezone: str, overrides: dict[str, Any] | None = None) -> CityCalendar:
    """A city's calendar: the country's defaults with the city's stored overrides on top."""
    o = overrides or {}
    weekend = o.get("weekend")
    return CityCalendar(
        country=country,
        timezone=timezone,
        weekend=frozenset(weekend if weekend is not None else _country_weekend(country)),
        hours=parse_hours(o["hours"]) if "hours" in o else DEFAULT_HOURS,
        seasons=tuple(
            Season(_month_day(s["from"]), _month_day(s["to"]), parse_hours(s["hours"]))
            for s in o.get("season", [])
        ),
        subdivision=o.get("subdivision"),
        extra_holidays=tuple(
            sorted((date.fromisoformat(d), n) for d, n in o.get("holidays", {}).items())
        ),
        not_holidays=frozenset(date.fromisoformat(d) for d in o.get("not_holidays", [])),
    )


def _country_calendar(country: str, **options: Any) -> HolidayBase:
    """The `holidays` package's calendar of a country; the package (calendars of some 200
    countries) is imported here, with the first calendar a city needs, not at start."""
    import holidays

    return holidays.country_holidays(country, **options)


@lru_cache(maxsize=64)
def _country_weekend(country: str) -> frozenset[int]:
    try:
        return frozenset(_country_calendar(country).weekend)
    except NotImplementedError:
        return frozenset({5, 6})


@lru_cache(maxsize=512)
def _country_holidays(
    country: str, subdivision: str | None, year: int, language: str | None
) -> dict[date, str]:
    try:
        found = _country_calendar(country, subdiv=subdivision, years=year, language=language)
    except NotImplementedError:
        return {}
    return dict(found.items())


@lru_cache(maxsize=64)
def _language_for(country: str, locale: str) -> str | None:
    """The package's language closest to the reader's: theirs, else English, else its own."""
    try:
        supported = _country_calendar(country).supported_languages
    except NotImplementedError:
        return None
    for candidate in (*_HOLIDAY_LANGUAGES.get(locale, ()), "en_US"):
        if candidate in supported:
            return candidate
    return None


def holiday_name(cal: CityCalendar, day: date, locale: str = "en") -> str | None:
    """The name of the holiday on that local date (in the reader's language where the package
    has it), or None on a day that is not a holiday in this city."""
    if day in cal.not_holidays:
        return None
    for extra_day, name in cal.extra_holidays:
        if extra_day == day:
            return name
    names = _country_holidays(
        cal.country, cal.subdivision, day.year, _language_for(cal.country, locale)
    )
    return names.get(day)


def is_working_day(cal: CityCalendar, day: date) -> bool:
    return day.weekday() not in cal.weekend and holiday_name(cal, day) is None


def hours_on(cal: CityCalendar, day: date) -> tuple[int, int]:
    for season in cal.seasons:
        if season.covers(day):
            return season.hours
    return cal.hours


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """A local wall-clock time on that day, in UTC: 09:00 stays 09:00 across a DST change."""
    day, minutes = day + timedelta(days=minutes // (24 * 60)), minutes % (24 * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=4096)  # an export asks for the same few days of a city row after row
def window(cal: CityCalendar, day: date) -> tuple[datetime, datetime] | None:
    """The day's working window in UTC, or None on a day off."""
    if not is_working_day(cal, day):
        return None
    start, end = hours_on(cal, day)
    return _at(day, start, cal.zone), _at(day, end, cal.zone)


def _windows_from(cal: CityCalendar, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working windows from `moment` on (the first one cut at `moment`), day by day up to
    the horizon; lazily, as most callers need the first one or two."""
    first = moment.astimezone(cal.zone).date()
    for offset in range(_HORIZON_DAYS):
        found = window(cal, first + timedelta(days=offset))
        if found is None or found[1] <= moment:
            continue
        yield max(found[0], moment), found[1]


def add_working_hours(cal: CityCalendar, start: datetime, hours: float) -> datetime:
    """The moment `hours` working hours after `start` in this city."""
    left = timedelta(hours=hours)
    moment = start
    while True:
        seen = False
        for begin, end in _windows_from(cal, moment):
            seen = True
            if end - begin >= left:
                return begin + left
            left -= end - begin
            moment = end
        if not seen:
            return moment + left  # no working day at all: plain time rather than never


def working_seconds_between(cal: CityCalendar, start: datetime, end: datetime) -> float:
    """Working time in this city between two moments, in seconds."""
    total = 0.0
    moment = start
    while moment < end:
        seen = False
        for begin, finish in _windows_from(cal, moment):
            seen = True
            if begin >= end:
                return total
            total += (min(finish, end) - begin).total_seconds()
            moment = finish
        if not seen:
            return total + (end - moment).total_seconds()
    return total


def next_working_start(cal: CityCalendar, moment: datetime) -> datetime:
    """`moment` itself inside working hours, else the start of the next working window."""
    found = next(_windows_from(cal, moment), None)
    return found[0] if found else moment


def next_working_day(cal: CityCalendar, day: date) -> date:
    """`day` itself when it is a working day, else the next one."""
    for offset in range(_HORIZON_DAYS):
        candidate = day + timedelta(days=offset)
        if is_working_day(cal, candidate):
            return candidate
    return day


def on_working_day(cal: CityCalendar, moment: datetime, hour: int | None = None) -> datetime:
    """`moment` when it falls on a working day, else `hour` o'clock (default: the start of
    working hours) on the next working day, local time: where "working days only" sends go."""
    day = moment.astimezone(cal.zone).date()
    working = next_working_day(cal, day)
    if working == day:
        return moment
    return _at(working, hours_on(cal, working)[0] if hour is None else hour * 60, cal.zone)


def availability(cal: CityCalendar, clock: Clock, locale: str = "en") -> Availability:
    """Whether the city works now; if not, why (a holiday named in `locale`, the weekend, or
    outside working hours) and when work starts again."""
    now = clock.now()
    start = next_working_start(cal, now)
    if start <= now:
        return Availability("working", None, now)
    today = now.astimezone(cal.zone).date()
    name = holiday_name(cal, today, locale)
    if name is not None:
        return Availability("holiday", name, start)
    if today.weekday() in cal.weekend:
        return Availability("weekend", None, start)
    return Availability("closed", None, start)
