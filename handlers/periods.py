"""The period of a report (exports and statistics): its buttons, its label, numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from babel.numbers import format_decimal
from telegram import InlineKeyboardMarkup

from bot.i18n import _, current_locale, format_datetime, ngettext
from handlers.admin_buttons import ReportPeriod
from handlers.callbacks import CallbackData
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


def period_keyboard(
    choose: Callable[[ReportPeriod], CallbackData], type_dates: CallbackData | None = None
) -> InlineKeyboardMarkup:
    """The periods as buttons sending `choose(period)`, and "Type dates" when given its data."""
    buttons = [
        button(_("Last 7 days"), choose("7")),
        button(_("Last 30 days"), choose("30")),
        button(_("Last 90 days"), choose("90")),
        button(_("Everything"), choose("all")),
    ]
    extra = [button(_("Type dates"), type_dates)] if type_dates else []
    return markup(*rows(buttons, 2), extra)
