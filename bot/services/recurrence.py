"""Recurrence rules: RFC 5545 RRULEs (python-dateutil) evaluated in local time of an IANA zone.

A rule is evaluated on naive local datetimes and each occurrence is then placed in the zone,
so a weekly 10:00 Europe/Rome reminder stays at 10:00 local time across a DST change while
its UTC time moves by an hour. Stored rules are JSON: the RRULE string, the local start it
counts from, and the plain fields (kind, weekday, nth, time) the handlers describe it with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr  # type: ignore[import-untyped]

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKLY = "weekly"
MONTHLY = "monthly"  # the nth weekday of each month
# A fall-back hour repeats local times: start the search this far back so no occurrence
# in the repeated hour is missed, then keep only those after the wanted instant.
_AMBIGUITY = timedelta(hours=3)
MAX_OCCURRENCES = 1000


def make_rule(
    kind: str, weekday: int, hour: int, minute: int, start: datetime, timezone: str, nth: int = 1
) -> dict[str, Any]:
    """A weekly or nth-weekday-of-the-month rule, counted from `start` (UTC) in `timezone`."""
    if kind not in (WEEKLY, MONTHLY) or not 0 <= weekday <= 6:
        raise ValueError(f"bad rule kind={kind} weekday={weekday}")
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError("bad time of day")
    day = WEEKDAY_CODES[weekday]
    if kind == WEEKLY:
        byday = day
        freq = "WEEKLY"
    else:
        if nth not in (1, 2, 3, 4, -1):
            raise ValueError(f"bad nth={nth}")
        byday = f"{nth:+d}{day}"
        freq = "MONTHLY"
    local_start = start.astimezone(ZoneInfo(timezone)).replace(tzinfo=None, second=0, microsecond=0)
    return {
        "kind": kind,
        "weekday": weekday,
        "nth": nth if kind == MONTHLY else None,
        "time": f"{hour:02d}:{minute:02d}",
        "rrule": f"FREQ={freq};BYDAY={byday};BYHOUR={hour};BYMINUTE={minute};BYSECOND=0",
        "dtstart": local_start.isoformat(),
    }


def _parse(rule: dict[str, Any]) -> rrule:
    parsed = rrulestr(rule["rrule"], dtstart=datetime.fromisoformat(rule["dtstart"]))
    assert isinstance(parsed, rrule)
    return parsed


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def next_after(rule: dict[str, Any], timezone: str, after: datetime) -> datetime | None:
    """The first occurrence strictly after `after` (UTC), in UTC; None when the rule ends."""
    zone = ZoneInfo(timezone)
    parsed = _parse(rule)
    cursor = after.astimezone(zone).replace(tzinfo=None) - _AMBIGUITY
    for _ in range(MAX_OCCURRENCES):
        local = parsed.after(cursor)
        if local is None:
            return None
        when = _to_utc(local, zone)
        if when > after:
            return when
        cursor = local
    return None


def between(rule: dict[str, Any], timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Occurrences with start <= t <= end (UTC), oldest first, at most MAX_OCCURRENCES."""
    found: list[datetime] = []
    when = next_after(rule, timezone, start - timedelta(microseconds=1))
    while when is not None and when <= end and len(found) < MAX_OCCURRENCES:
        found.append(when)
        when = next_after(rule, timezone, when)
    return found
