"""What an asker reads about cities not at work now: a holiday (named in the reader's language
where the holidays package has it), the weekend, or outside working hours, and from when to
expect an answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import _, format_datetime, format_list
from bot.services.calendars import CityWait
from handlers.user_text import city_of, isolate


def wait_text(wait: CityWait, now: datetime, reader_timezone: str) -> str:
    """One sentence for one city, in the current locale."""
    a = wait.availability
    zone = ZoneInfo(wait.timezone)
    days = (a.next_start.astimezone(zone).date() - now.astimezone(zone).date()).days
    city = city_of(wait.city, wait.names)
    day = format_datetime(a.next_start, wait.timezone, "EEEE d MMMM")
    if a.state == "holiday":
        holiday = format_list([isolate(n) for n in (a.holiday or "").split("; ") if n])
        if days == 1:
            return _(
                "{city} is on holiday today, {holiday}: expect an answer from tomorrow."
            ).format(city=city, holiday=holiday)
        return _("{city} is on holiday today, {holiday}: expect an answer from {day}.").format(
            city=city, holiday=holiday, day=day
        )
    if a.state == "weekend":
        if days == 1:
            return _("It is the weekend in {city}: expect an answer from tomorrow.").format(
                city=city
            )
        return _("It is the weekend in {city}: expect an answer from {day}.").format(
            city=city, day=day
        )
    if days == 0:
        return _(
            "It is outside working hours in {city}: expect an answer from {time}, your time."
        ).format(city=city, time=format_datetime(a.next_start, reader_timezone, "HH:mm"))
    if days == 1:
        return _("It is outside working hours in {city}: expect an answer from tomorrow.").format(
            city=city
        )
    return _("It is outside working hours in {city}: expect an answer from {day}.").format(
        city=city, day=day
    )


def waits_text(waits: list[CityWait], now: datetime, reader_timezone: str) -> str:
    return "\n".join(wait_text(w, now, reader_timezone) for w in waits)
