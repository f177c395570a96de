"""Texts about reminders, from plain data: what recipients receive (rendered in each
recipient's locale and city timezone) and how a schedule is described to organisers."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format, get_day_names

from bot.i18n import _, babel_locale, use_locale
from bot.services.reminder_runs import ReminderNotice
from handlers.translation_render import reminder_words


def format_when(when: datetime, timezone: str | None) -> str:
    """'Dec 1, 2026, 10:00 AM': a medium date and a short time, joined the locale's way."""
    zone = ZoneInfo(timezone or "UTC")
    locale = babel_locale()
    local = when.astimezone(zone)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", format_date(local.date(), "medium", locale=locale)).replace(
        "{0}", format_time(local.time(), "short", locale=locale)
    )


def day_name(weekday: int) -> str:
    return str(get_day_names("wide", locale=babel_locale())[weekday])


def time_of_day(hhmm: str) -> str:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return format_time(time(hour, minute), "short", locale=babel_locale())


def describe_rule(rule: dict[str, Any], timezone: str) -> str:
    """'every week on Tuesday at 10:00 AM (Europe/Rome)'."""
    day, at = day_name(int(rule["weekday"])), time_of_day(rule["time"])
    if rule.get("kind") == "weekly":
        text = _("every week on {day} at {time}").format(day=day, time=at)
    elif rule.get("nth") == -1:
        text = _("the last {day} of each month at {time}").format(day=day, time=at)
    else:
        text = _("the first {day} of each month at {time}").format(day=day, time=at)
    return f"{text} ({timezone})"


def reminder_notice(notice: ReminderNotice) -> str:
    """The message one recipient receives, in their locale and their city's time."""
    with use_locale(notice.locale):
        parts = [_("🔔 <b>Reminder</b>")]
        if notice.late:
            parts.append(
                _("<i>Sent late: the bot was offline when this was due ({time}).</i>").format(
                    time=format_when(notice.scheduled_for, notice.timezone)
                )
            )
        if notice.text:
            parts.append(reminder_words(notice.text, notice.translation))
        if notice.event_at is not None:
            parts.append(
                _("📅 When: {time}").format(time=format_when(notice.event_at, notice.timezone))
            )
        return "\n\n".join(parts)
