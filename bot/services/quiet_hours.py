"""Quiet hours: a daily window, in the official's city time, when nudges and digests wait.

Stored on the official as minutes after local midnight; a window may wrap past midnight
(22:00–07:00). Reminders and urgent broadcasts are not held back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue, officials
from bot.runtime import Deps
from bot.services import settings_access
from bot.services.errors import ErrorCode, InvalidInput, NotAllowed

_RANGE = re.compile(
    r"^\s*(\d{1,2})[:.h](\d{2})\s*(?:-|–|—|to|\s)\s*(\d{1,2})[:.h](\d{2})\s*$", re.I
)


class HasQuietHours(Protocol):
    quiet_start: int | None
    quiet_end: int | None


@dataclass(frozen=True)
class QuietHours:
    start: int | None  # minutes after local midnight
    end: int | None
    timezone: str

    @property
    def enabled(self) -> bool:
        return self.start is not None and self.end is not None and self.start != self.end


def not_before(official: HasQuietHours, now: datetime, timezone: str | None) -> datetime | None:
    """When quiet hours end if `now` falls inside them (UTC), else None: send now."""
    start, end = official.quiet_start, official.quiet_end
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(timezone or "UTC")
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    end_day = local.date() if minute < end else local.date() + timedelta(days=1)
    end_local = datetime.combine(end_day, time(end // 60, end % 60), tzinfo=zone)
    return end_local.astimezone(UTC)


async def timezone_of(session: AsyncSession, city_id: int | None) -> str:
    city = await catalogue.city_by_id(session, city_id)
    return city.timezone if city else "UTC"


def parse_range(typed: str) -> tuple[int, int]:
    """'22:00-07:00' (also '22.00 07.00', '22h00 to 7h00') → minutes after midnight."""
    match = _RANGE.match(typed or "")
    if not match:
        raise InvalidInput(ErrorCode.QUIET_FORMAT)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise InvalidInput(ErrorCode.QUIET_FORMAT)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise InvalidInput(ErrorCode.QUIET_EMPTY)
    return start, end


async def get(deps: Deps, tg_user_id: int) -> QuietHours:
    async with deps.db.transaction() as session:
        official = await officials.official_by_tg(session, tg_user_id)
        code = settings_access.refusal_code(official)
        if code is not None:
            raise NotAllowed(code)
        assert official is not None
        tz = await timezone_of(session, official.city_id)
        return QuietHours(official.quiet_start, official.quiet_end, tz)


@settings_access.audited
async def set_hours(deps: Deps, tg_user_id: int, typed: str | None) -> QuietHours:
    """Set quiet hours from typed text, or clear them when `typed` is None."""
    async with deps.db.transaction() as session:
        official = await officials.official_by_tg_for_update(session, tg_user_id)
        settings_access.ensure(official, "quiet_hours")
        assert official is not None
        window = parse_range(typed) if typed is not None else (None, None)
        official.quiet_start, official.quiet_end = window
        tz = await timezone_of(session, official.city_id)
        return QuietHours(official.quiet_start, official.quiet_end, tz)
