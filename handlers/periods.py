"""The period of a report (exports and statistics): its buttons, its label, numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.numbers import format_decimal
from telegram import InlineKeyboardMarkup

from bot.i18n import _, current_locale, format_datetime, ngettext
from handlers.keyboards import button, markup, rows


def num(value: int) -> str:
    return format_decimal(value, locale=current_locale())


def period_text(data: dict[str, Any]) -> str:
    period = data.get("period")
    if period == "range":
        last = datetime.fromisoformat(data["until"]) - timedelta(days=1)
        return _("{first} to {last}").format(
            first=format_datetime(datetime.fromisoformat(data["since"]), "UTC", "yyyy-MM-dd"),
            last=format_datetime(last, "UTC", "yyyy-MM-dd"),
        )
    if period == "all":
        return _("everything")
    days = int(period or 0)
    return ngettext("the last {n} day", "the last {n} days", days).format(n=days)


def period_keyboard(prefix: str, typed: bool) -> InlineKeyboardMarkup:
    buttons = [
        button(_("Last 7 days"), prefix, "7"),
        button(_("Last 30 days"), prefix, "30"),
        button(_("Last 90 days"), prefix, "90"),
        button(_("Everything"), prefix, "all"),
    ]
    extra = [button(_("Type dates"), prefix, "dates")] if typed else []
    return markup(*rows(buttons, 2), extra)
