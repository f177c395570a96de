"""What organisers see of their reminders: the /remind draft's prompt at each step, its
confirmation, and the /reminders list with its buttons (handlers/reminder_draft.py handles them)."""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _, babel_locale, current_locale, ngettext
from bot.services import reminder_draft, reminder_list
from bot.services.reminder_audience import Option
from bot.services.reminder_draft import Draft
from bot.services.reminder_list import ReminderInfo, ReminderStatus
from handlers.common import esc, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, paged, rows
from handlers.outreach_buttons import (
    ReminderAudience,
    ReminderAudienceDone,
    ReminderCancel,
    ReminderConfirm,
    ReminderEvent,
    ReminderListAction,
    ReminderPage,
    ReminderToggle,
    ReminderWeekday,
    ReminderWhen,
    ReminderWorkingDays,
)
from handlers.reminder_texts import day_name, describe_rule, format_when
from handlers.user_text import isolate_all, shown_city

log = logging.getLogger(__name__)

LIST_LIMIT = 20
TAG = re.compile(r"<[^>]+>")


# ---- rendering for the organiser ---------------------------------------------------------


def option_label(kind: str, option: Option) -> str:
    if kind == "countries":
        return str(babel_locale().territories.get(option.value, option.value))
    if kind == "topics":
        loc = current_locale()
        return option.names.get(loc) or option.names.get("en") or option.name
    return shown_city(option.name, option.names)


def audience_text(audience: tuple[str, list[Option]]) -> str:
    kind, options = audience
    if kind == "all":
        return _("every active official")
    names = isolate_all(option_label(kind, o) for o in options) or "—"
    return {
        "countries": _("officials in {names}"),
        "cities": _("officials of {names}"),
        "topics": _("officials working on {names}"),
    }[kind].format(names=names)


def schedule_text(when: dict[str, Any], timezone: str) -> str:
    if when.get("kind") == "once":
        return _("once, on {time}").format(
            time=format_when(datetime.fromisoformat(when["run_at"]), timezone)
        )
    return describe_rule(when, timezone)


def message_excerpt(text: str | None, is_copy: bool, limit: int = 80) -> str:
    """The start of the reminder's text, without its formatting (a cut could split a tag)."""
    if is_copy or not text:
        return _("(a copy of your message)")
    plain = " ".join(html.unescape(TAG.sub("", text)).split())
    return esc(plain[:limit] + ("…" if len(plain) > limit else ""))


def example_datetime(timezone: str) -> str:
    tomorrow = datetime.now(UTC).astimezone(ZoneInfo(timezone)) + timedelta(days=1)
    return tomorrow.strftime("%Y-%m-%d") + " 10:00"


def pick_keyboard(draft: Draft, page: int) -> InlineKeyboardMarkup:
    kind = draft.data["pick"]
    items = [
        (("✅ " if o.selected else "▫️ ") + option_label(kind, o), ReminderToggle(o.value, page))
        for o in draft.options
    ]
    body, _page = paged(items, page, ReminderPage, width=2)
    body.append([button(_("Done"), ReminderAudienceDone()), button(_("Cancel"), ReminderCancel())])
    return InlineKeyboardMarkup(body)


async def prompt(update: Update, draft: Draft, page: int = 0) -> None:
    """Ask what the draft's step needs."""
    step, tz = draft.step, draft.timezone
    cancel = button(_("Cancel"), ReminderCancel())
    if step == reminder_draft.STEP_MESSAGE:
        await show(
            update,
            _("Send the reminder: any message (text, photo, document). Send /cancel to stop."),
        )
    elif step == reminder_draft.STEP_AUDIENCE:
        await show(
            update,
            _("Who should receive it?"),
            markup(
                [button(_("Everyone"), ReminderAudience("all"))],
                [
                    button(_("By country"), ReminderAudience("countries")),
                    button(_("By city"), ReminderAudience("cities")),
                ],
                [button(_("By topic"), ReminderAudience("topics")), cancel],
            ),
        )
    elif step == reminder_draft.STEP_PICK:
        title = {
            "countries": _("Choose the countries, then Done."),
            "cities": _("Choose the cities, then Done."),
            "topics": _("Choose the topics, then Done."),
        }[draft.data["pick"]]
        await show(update, title, pick_keyboard(draft, page))
    elif step == reminder_draft.STEP_WHEN:
        await show(
            update,
            _("When should it be sent?"),
            markup(
                [button(_("Once"), ReminderWhen("once"))],
                [button(_("Every week"), ReminderWhen("weekly"))],
                [button(_("First weekday of each month"), ReminderWhen("monthly"))],
                [cancel],
            ),
        )
    elif step == reminder_draft.STEP_ONCE:
        await show(
            update,
            _("Type the date and time, in {timezone} time, for example {example}.").format(
                timezone=tz, example=example_datetime(tz)
            ),
        )
    elif step == reminder_draft.STEP_WEEKDAY:
        title = (
            _("On which day of the week?")
            if draft.data["when"]["kind"] == "weekly"
            else _("The first of which weekday of each month?")
        )
        days = [button(day_name(d), ReminderWeekday(d)) for d in range(7)]
        await show(update, title, markup(*rows(days, 2), [cancel]))
    elif step == reminder_draft.STEP_TIME:
        await show(
            update, _("At what time, in {timezone} time? For example 10:00.").format(timezone=tz)
        )
    elif step == reminder_draft.STEP_EVENT_ASK:
        await show(
            update,
            _(
                "Is it about an event? Add the event's date and time and each recipient will see "
                "it in their own city's time."
            ),
            markup(
                [
                    button(_("Add the event time"), ReminderEvent("yes")),
                    button(_("No event time"), ReminderEvent("no")),
                ],
                [cancel],
            ),
        )
    elif step == reminder_draft.STEP_EVENT:
        await show(
            update,
            _("Type the event's date and time, in {timezone} time, for example {example}.").format(
                timezone=tz, example=example_datetime(tz)
            ),
        )
    elif step == reminder_draft.STEP_CONFIRM:
        workdays = (
            _("Every day, please") if draft.data.get("working_days") else _("Working days only")
        )
        await show(
            update,
            confirm_text(draft),
            markup(
                [button(workdays, ReminderWorkingDays())],
                [button(_("Schedule"), ReminderConfirm()), cancel],
            ),
        )


def confirm_text(draft: Draft) -> str:
    data, tz = draft.data, draft.timezone
    lines = [
        _("<b>Check the reminder</b>"),
        _("Message: {message}").format(
            message=message_excerpt(data.get("text"), data.get("message_id") is not None, 300)
        ),
        _("To: {audience} (now {count})").format(
            audience=audience_text(draft.audience), count=draft.recipients or 0
        ),
        _("When: {schedule}").format(schedule=schedule_text(data["when"], tz)),
    ]
    if data.get("event_at"):
        lines.append(
            _("Event: {time} ({timezone})").format(
                time=format_when(datetime.fromisoformat(data["event_at"]), tz), timezone=tz
            )
        )
    if draft.next_run_at is not None:
        lines.append(
            _("First run: {time} ({timezone})").format(
                time=format_when(draft.next_run_at, tz), timezone=tz
            )
        )
    if data.get("working_days"):
        lines.append(
            _(
                "Working days only: on a recipient's weekend or public holiday it arrives the "
                "next working morning."
            )
        )
    return "\n".join(lines)


def reminder_block(r: ReminderInfo, timezone: str) -> str:
    status = {ReminderStatus.PAUSED: "⏸", ReminderStatus.DONE: "⚠️"}.get(
        ReminderStatus(r.status), "🔔"
    )
    schedule = "—"
    if r.rule:
        schedule = describe_rule(r.rule, r.timezone)
    elif r.run_at is not None:
        schedule = schedule_text({"kind": "once", "run_at": r.run_at.isoformat()}, r.timezone)
    lines = [
        f"{status} <b>#{r.id}</b> {message_excerpt(r.text, r.is_copy)}",
        _("To: {audience}").format(audience=audience_text(r.audience)),
        _("When: {schedule}").format(schedule=schedule),
    ]
    if r.status == ReminderStatus.PAUSED:
        lines.append(_("Paused."))
    elif r.status == ReminderStatus.DONE:
        lines.append(_("Finished."))
    elif r.next_run_at is not None:
        lines.append(_("Next run: {time}").format(time=format_when(r.next_run_at, timezone)))
    for issue in r.issues:
        if issue.action == "reminder.skipped":
            lines.append(
                _(
                    "⚠️ Not sent on {time}: the bot was offline for longer than the grace period."
                ).format(time=format_when(issue.run_at, timezone))
            )
        else:
            lines.append(
                _("⚠️ Sent late for {time}: the bot was offline.").format(
                    time=format_when(issue.run_at, timezone)
                )
            )
    return "\n".join(lines)


async def show_list(update: Update, context: Ctx) -> None:
    listing = await reminder_list.list_reminders(context.deps, context.who.tg_user_id)
    if not listing.reminders:
        await show(update, _("No reminders are scheduled. Create one with /remind."))
        return
    shown = listing.reminders[:LIST_LIMIT]
    blocks = [_("<b>Reminders</b> (times in {timezone})").format(timezone=listing.timezone)]
    blocks += [reminder_block(r, listing.timezone) for r in shown]
    if len(listing.reminders) > len(shown):
        more = len(listing.reminders) - len(shown)
        blocks.append(ngettext("…and {count} more.", "…and {count} more.", more).format(count=more))
    keyboard = []
    for r in shown:
        if r.status == ReminderStatus.DONE:
            continue
        toggle = (
            button(_("▶️ Resume #{id}").format(id=r.id), ReminderListAction("resume", r.id))
            if r.status == ReminderStatus.PAUSED
            else button(_("⏸ Pause #{id}").format(id=r.id), ReminderListAction("pause", r.id))
        )
        delete = button(_("🗑 Delete #{id}").format(id=r.id), ReminderListAction("delete", r.id))
        keyboard.append([toggle, delete])
    await show(update, "\n\n".join(blocks), markup(*keyboard) if keyboard else None)
