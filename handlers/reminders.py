"""Organisers' reminders: /remind (message → audience → when → event time → confirm),
/reminders (next runs, late and skipped runs; pause, resume, delete), and the scheduler job
that sends due runs."""

from __future__ import annotations

import logging

from telegram import Update

from bot.i18n import _
from bot.runtime import Deps
from bot.services import dialog, reminder_draft, reminder_list, reminder_runs
from bot.services.dialog import Step
from bot.services.reminder_list import Role
from handlers.common import answer, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.keyboards import button, markup
from handlers.outreach_buttons import (
    ReminderAudience,
    ReminderAudienceDone,
    ReminderButton,
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
from handlers.reminder_texts import format_when, reminder_notice
from handlers.reminder_views import prompt, show_list

log = logging.getLogger(__name__)

JOB_BATCH = 50

# ---- commands and buttons ----------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded
async def cmd_remind(update: Update, context: Ctx) -> None:
    """Starts a new reminder: asks for its message."""
    draft = await reminder_draft.start(context.deps, context.who.tg_user_id)
    await prompt(update, draft)


@requires(Role.ORGANISER)
@guarded
async def cmd_reminders(update: Update, context: Ctx) -> None:
    """Lists scheduled reminders with their next run and Pause/Resume/Delete buttons."""
    await show_list(update, context)


@guarded
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
@guarded
async def on_remind(update: Update, context: Ctx) -> None:
    """A button of the /remind flow: the next question, or the scheduled reminder."""
    query = update.callback_query
    assert query is not None
    pressed = ReminderButton.decode(query.data)
    user_id, deps = context.who.tg_user_id, context.deps
    page = 0
    if isinstance(pressed, ReminderAudience):
        draft = await reminder_draft.choose_audience(deps, user_id, pressed.kind)
    elif isinstance(pressed, ReminderToggle):
        page = pressed.page
        draft = await reminder_draft.toggle(deps, user_id, pressed.value)
    elif isinstance(pressed, ReminderPage):
        page = pressed.page
        draft = await reminder_draft.toggle_page(deps, user_id)
    elif isinstance(pressed, ReminderAudienceDone):
        draft = await reminder_draft.audience_done(deps, user_id)
    elif isinstance(pressed, ReminderWhen):
        draft = await reminder_draft.choose_when(deps, user_id, pressed.kind)
    elif isinstance(pressed, ReminderWeekday):
        draft = await reminder_draft.set_weekday(deps, user_id, pressed.weekday)
    elif isinstance(pressed, ReminderEvent):
        draft = await reminder_draft.ask_event(deps, user_id, pressed.answer == "yes")
    elif isinstance(pressed, ReminderWorkingDays):
        draft = await reminder_draft.toggle_working_days(deps, user_id)
    elif isinstance(pressed, ReminderConfirm):
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
    elif isinstance(pressed, ReminderCancel):
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
@guarded
async def on_list(update: Update, context: Ctx) -> None:
    """A /reminders button: pause, resume or delete (after a confirmation); shows the new list."""
    query = update.callback_query
    assert query is not None
    pressed = ReminderListAction.decode(query.data)
    action, reminder_id = pressed.action, pressed.reminder_id
    user_id, deps = context.who.tg_user_id, context.deps
    if action == "pause":
        await reminder_list.pause(deps, user_id, reminder_id)
        await answer(query, _("Paused."))
    elif action == "resume":
        await reminder_list.resume(deps, user_id, reminder_id)
        await answer(query, _("Resumed."))
    elif action == "delete":
        await answer(query)
        await show(
            update,
            _("Delete reminder #{id}? Messages not sent yet are cancelled.").format(id=reminder_id),
            markup(
                [
                    button(_("Yes, delete"), ReminderListAction("confirm-delete", reminder_id)),
                    button(_("No"), ReminderListAction("keep", reminder_id)),
                ]
            ),
        )
        return
    elif action == "confirm-delete":
        await reminder_list.delete(deps, user_id, reminder_id)
        await answer(query, _("Deleted."))
    elif action == "keep":
        await answer(query)
    else:
        await answer(query, _("This button is no longer active."), alert=True)
        return
    await show_list(update, context)


# ---- the scheduler job -------------------------------------------------------------------


async def reminders_job(deps: Deps) -> None:
    """Scheduler job: send due reminder runs (late within the grace period, else skipped)."""
    while True:
        now = deps.clock.now()
        translated = await reminder_runs.translate_due(deps, now, limit=JOB_BATCH)
        report = await reminder_runs.run_due(
            deps, now, reminder_notice, limit=JOB_BATCH, translated=translated
        )
        if report.claimed < JOB_BATCH:
            return
