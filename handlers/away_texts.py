"""Texts about absences that several features show: an absence as its official reads it (/away,
/privacy), an asker told that the person they wrote to is away, and the summary an official
reads on return."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from bot.i18n import _, babel_locale, ngettext, use_locale
from bot.services.absence_returns import ReturnSummary
from bot.services.absences import AwayNotice, AwayView
from handlers.user_text import city_of, isolate


def day_label(day: date, fmt: str = "EEEE d MMMM") -> str:
    """A day as people say it in the current locale: 'Monday 20 April'."""
    return format_date(day, fmt, locale=babel_locale())


def view_text(v: AwayView) -> str:
    first, last = day_label(v.first_day), day_label(v.last_day)
    if v.for_self:
        if v.deputy:
            return _(
                "You are away from {first} to {last}. Your questions go to {deputy} meanwhile; "
                "reminders and the weekly digest pause."
            ).format(first=first, last=last, deputy=isolate(v.deputy))
        return _(
            "You are away from {first} to {last}. Your questions go to your city's other "
            "officials on your topics meanwhile; reminders and the weekly digest pause."
        ).format(first=first, last=last)
    if v.deputy:
        return _(
            "{name} is away from {first} to {last}. Their questions go to {deputy} meanwhile."
        ).format(name=isolate(v.name), first=first, last=last, deputy=isolate(v.deputy))
    return _(
        "{name} is away from {first} to {last}. Their questions go to their city's other "
        "officials on their topics meanwhile."
    ).format(name=isolate(v.name), first=first, last=last)


def away_notice_text(notice: AwayNotice) -> str:
    name, until = isolate(notice.name), day_label(notice.last_day)
    if notice.deputy:
        return _(
            "{name} is away until {day}: {deputy} has their questions meanwhile. Your message "
            "waits for their return."
        ).format(name=name, day=until, deputy=isolate(notice.deputy))
    return _(
        "{name} is away until {day}: the other officials of their city have their questions "
        "meanwhile. Your message waits for their return."
    ).format(name=name, day=until)


def return_summary_text(s: ReturnSummary) -> str:
    """The one message an official gets when an absence ends, in their language."""
    with use_locale(s.locale):
        city = city_of(s.city, s.city_names)
        lines = [
            _("👋 Welcome back. While you were away, from {first} to {last}:").format(
                first=day_label(s.first_day), last=day_label(s.last_day)
            )
        ]
        if s.routed == 0:
            lines.append(_("No questions on your topics reached {city}.").format(city=city))
        else:
            lines.append(
                ngettext(
                    "{count} question on your topics reached {city};",
                    "{count} questions on your topics reached {city};",
                    s.routed,
                ).format(count=s.routed, city=city)
            )
            lines.append(
                ngettext(
                    "{count} was answered from {city};",
                    "{count} were answered from {city};",
                    s.answered_here,
                ).format(count=s.answered_here, city=city)
            )
            lines.append(
                ngettext(
                    "{count} is still waiting for an answer.",
                    "{count} are still waiting for an answer.",
                    s.still_open,
                ).format(count=s.still_open)
            )
        if s.deputy:
            lines.append(_("{name} stood in for you.").format(name=isolate(s.deputy)))
        return "\n".join(lines)
