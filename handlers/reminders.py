"""Organisers' reminders: /remind (message → audience → when → event time → confirm),
/reminders (next runs, late and skipped runs; pause, resume, delete), and the scheduler job
that sends due runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Update

from bot.i18n import _
from bot.runtime import Deps
from bot.services import dialog, reminder_draft, reminder_list, reminder_runs
from bot.services.dialog import Step
from bot.services.reminder_list import Role
from handlers.common import answer, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.dialog import on_step
from handlers.keyboards import button, markup, parse, parse_int
from handlers.reminder_texts import format_when, reminder_notice
from handlers.reminder_views import prompt, show_list

log = logging.getLogger(__name__)

JOB_BATCH = 50

ERRORS: dict[str, Callable[..., str]] = {
    "bad_datetime": lambda **_k: _(
        "Please write the date and time like 2026-12-01 10:00 (year-month-day hours:minutes)."
    ),
    "bad_time": lambda **_k: _("Please write the time like 10:00 (hours:minutes)."),
    "in_past": lambda **_k: _("That time has already passed. Please give a time in the future."),
    "text_length": lambda max, **_k: _("Please send a message of at most {max} characters.").format(
        max=max
    ),
    "no_message": lambda **_k: _("Please send the reminder as a message: text, photo or document."),
    "empty_audience": lambda **_k: _("Choose at least one."),
    "time_passed": lambda **_k: _(
        "This one-off reminder's time has passed, so it cannot be resumed. Delete it and "
        "schedule a new one."
    ),
}


# ---- commands and buttons ----------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_remind(update: Update, context: Ctx) -> None:
    """Starts a new reminder: asks for its message."""
    draft = await reminder_draft.start(context.deps, context.who.tg_user_id)
    await prompt(update, draft)


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_reminders(update: Update, context: Ctx) -> None:
    """Lists scheduled reminders with their next run and Pause/Resume/Delete buttons."""
    await show_list(update, context)


@on_step("remind.")
@guarded(ERRORS)
async def on_typed(update: Update, context: Ctx, state: Step) -> None:
    """A message during /remind: the reminder itself, or a typed date or time."""
    message = update.effective_message
    assert message is not None
    user_id = context.who.tg_user_id
    deps = context.deps
    typed = message.text
    if state.step == reminder_draft.STEP_MESSAGE:
        if typed is not None:
            draft = await reminder_draft.set_message(deps, user_id, text=message.text_html)
        else:
            draft = await reminder_draft.set_message(
                deps, user_id, chat_id=message.chat_id, message_id=message.message_id
            )
    elif typed is None:
        await reply(update, _("Please type it as text."))
        return
    elif state.step == reminder_draft.STEP_ONCE:
        draft = await reminder_draft.set_once(deps, user_id, typed)
    elif state.step == reminder_draft.STEP_TIME:
        draft = await reminder_draft.set_time(deps, user_id, typed)
    elif state.step == reminder_draft.STEP_EVENT:
        draft = await reminder_draft.set_event(deps, user_id, typed)
    else:
        await reply(update, _("Please use the buttons above, or send /cancel to stop."))
        return
    await prompt(update, draft)


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_remind(update: Update, context: Ctx) -> None:
    """A button of the /remind flow: the next question, or the scheduled reminder."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "rem")
    user_id, deps = context.who.tg_user_id, context.deps
    action, args = parts[0], parts[1:]
    page = 0
    if action == "aud" and len(args) == 1:
        draft = await reminder_draft.choose_audience(deps, user_id, args[0])
    elif action == "t" and len(args) == 2:
        page = parse_int(args[1])
        draft = await reminder_draft.toggle(deps, user_id, args[0])
    elif action == "pg" and len(args) == 1:
        page = parse_int(args[0])
        draft = await reminder_draft.toggle_page(deps, user_id)
    elif action == "done" and not args:
        draft = await reminder_draft.audience_done(deps, user_id)
    elif action == "when" and len(args) == 1:
        draft = await reminder_draft.choose_when(deps, user_id, args[0])
    elif action == "wd" and len(args) == 1:
        draft = await reminder_draft.set_weekday(deps, user_id, parse_int(args[0]))
    elif action == "ev" and len(args) == 1 and args[0] in ("yes", "no"):
        draft = await reminder_draft.ask_event(deps, user_id, args[0] == "yes")
    elif action == "ok" and not args:
        created = await reminder_draft.confirm(deps, user_id)
        await answer(query)
        when = format_when(created.next_run_at, created.timezone) if created.next_run_at else "—"
        await show(
            update,
            _(
                "Reminder #{id} is scheduled. First run: {time} ({timezone}). See /reminders."
            ).format(id=created.id, time=when, timezone=created.timezone),
        )
        return
    elif action == "cancel" and not args:
        await dialog.clear(deps, user_id)
        await answer(query)
        await show(update, _("Cancelled. Nothing was scheduled."))
        return
    else:
        await answer(query, _("This button is no longer active."), alert=True)
        return
    await answer(query)
    await prompt(update, draft, page)


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_list(update: Update, context: Ctx) -> None:
    """A /reminders button: pause, resume or delete (after a confirmation); shows the new list."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "rml", count=2)
    action, reminder_id = parts[0], parse_int(parts[1])
    user_id, deps = context.who.tg_user_id, context.deps
    if action == "p":
        await reminder_list.pause(deps, user_id, reminder_id)
        await answer(query, _("Paused."))
    elif action == "r":
        await reminder_list.resume(deps, user_id, reminder_id)
        await answer(query, _("Resumed."))
    elif action == "d":
        await answer(query)
        await show(
            update,
            _("Delete reminder #{id}? Messages not sent yet are cancelled.").format(id=reminder_id),
            markup(
                [
                    button(_("Yes, delete"), "rml", "dy", reminder_id),
                    button(_("No"), "rml", "dn", reminder_id),
                ]
            ),
        )
        return
    elif action == "dy":
        await reminder_list.delete(deps, user_id, reminder_id)
        await answer(query, _("Deleted."))
    elif action == "dn":
        await answer(query)
    else:
        await answer(query, _("This button is no longer active."), alert=True)
        return
    await show_list(update, context)


# ---- the scheduler job -------------------------------------------------------------------


async def reminders_job(deps: Deps) -> None:
    """Scheduler job: send due reminder runs (late within the grace period, else skipped)."""
    while True:
        report = await reminder_runs.run_due(
            deps, deps.clock.now(), reminder_notice, limit=JOB_BATCH
        )
        if report.claimed < JOB_BATCH:
            return
