"""Times organisers type and read: their city's timezone, and the dates and times they type in it.

Broadcasts read one date and time and refuse a time skipped by a DST change; reminders read
a date and time or a time of day and raise InvalidInput for what they cannot read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue
from bot.db.models import Official
from bot.services.errors import ErrorCode, InvalidInput

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M")
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M")
_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


async def organiser_timezone(session: AsyncSession, official: Official | None) -> str:
    """The timezone of the official's city; UTC when they have none."""
    city = await catalogue.city_by_id(session, official.city_id if official else None)
    return city.timezone if city else "UTC"


def parse_local_time(text: str, timezone: str) -> datetime | None:
    """'2026-03-02 14:30' (and a few usual spellings) in `timezone`, as UTC; None if unreadable."""
    cleaned = re.sub(r"\s+", " ", text.strip())
    for fmt in TIME_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        zone = ZoneInfo(timezone)
        local = naive.replace(tzinfo=zone)
        # A time skipped by a DST change does not survive the round trip: refuse it.
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            return None
        return local.astimezone(UTC)
    return None


def parse_local_datetime(typed: str, timezone: str) -> datetime:
    """'2026-12-01 10:00' (or 01.12.2026 10:00) in `timezone`, returned in UTC."""
    cleaned = " ".join((typed or "").split())
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    raise InvalidInput(ErrorCode.BAD_DATETIME)


def parse_time_of_day(typed: str) -> tuple[int, int]:
    match = _TIME.match(typed or "")
    if not match:
        raise InvalidInput(ErrorCode.BAD_TIME)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise InvalidInput(ErrorCode.BAD_TIME)
    return hour, minute
