"""Organisers' broadcasts once confirmed: /broadcasts (recent and scheduled, cancel), and the
progress message the scheduler keeps up to date while one goes out."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.error import BadRequest, TelegramError

from bot.i18n import _, format_datetime, ngettext, use_locale
from bot.runtime import Deps
from bot.services import broadcast_progress
from bot.services.broadcast_progress import BroadcastStatus, Counts, Progress, Role, Summary
from bot.services.errors import ErrorCode, ServiceError
from handlers.common import answer, guarded, reply, requires, send_text, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, rows
from handlers.outreach_buttons import BroadcastListAction
from handlers.user_text import isolate

log = logging.getLogger(__name__)


def status_name(status: str) -> str:
    return {
        BroadcastStatus.DRAFT: _("draft"),
        BroadcastStatus.SCHEDULED: _("scheduled"),
        BroadcastStatus.SENDING: _("sending"),
        BroadcastStatus.DONE: _("done"),
        BroadcastStatus.CANCELLED: _("cancelled"),
    }.get(BroadcastStatus(status), status)


# ---- /broadcasts -----------------------------------------------------------------------------


def counts_text(c: Counts) -> str:
    return _("{sent} of {total} sent · {failed} failed · {unreachable} unreachable").format(
        sent=c.sent, total=c.total, failed=c.failed, unreachable=c.unreachable
    )


def summary_line(s: Summary, timezone: str) -> str:
    if s.status == BroadcastStatus.SCHEDULED and s.scheduled_at is not None:
        state = _("scheduled for {when}").format(when=format_datetime(s.scheduled_at, timezone))
        numbers = ngettext("{count} recipient", "{count} recipients", s.counts.total).format(
            count=s.counts.total
        )
    else:
        state = status_name(s.status)
        numbers = counts_text(s.counts)
        if s.counts.cancelled:  # the rest of a cancelled broadcast, or recipients who left
            numbers += " · " + _("{count} not sent").format(count=s.counts.cancelled)
    return _("#{id} · {state} · {numbers}\n   {author}, {created}").format(
        id=s.id,
        state=state,
        numbers=numbers,
        author=isolate(s.author or "—"),
        created=format_datetime(s.created_at, timezone, "short"),
    )


@requires(Role.ORGANISER)
@guarded
async def cmd_broadcasts(update: Update, context: Ctx) -> None:
    """Lists scheduled, running and recent broadcasts with their counts; Cancel buttons."""
    listing = await broadcast_progress.recent(context.deps, context.who.tg_user_id)
    if not listing.broadcasts:
        await reply(update, _("No broadcasts yet. Send /broadcast to write one."))
        return
    text = (
        _("<b>Broadcasts</b>")
        + "\n"
        + "\n".join(summary_line(s, listing.timezone) for s in listing.broadcasts)
    )
    cancel_buttons = [
        button(_("Cancel #{id}").format(id=s.id), BroadcastListAction("cancel", s.id))
        for s in listing.broadcasts
        if s.status in broadcast_progress.LIVE
    ]
    await reply(update, text, markup(*rows(cancel_buttons, 2)) if cancel_buttons else None)


@requires(Role.ORGANISER)
@guarded
async def on_list(update: Update, context: Ctx) -> None:
    """Cancel buttons of /broadcasts: ask to confirm, then stop what is not sent yet."""
    query = update.callback_query
    assert query is not None
    pressed = BroadcastListAction.decode(query.data)
    bid = pressed.broadcast_id
    if pressed.action == "keep":
        await answer(query)
        await show(update, _("Nothing was changed."))
        return
    if pressed.action == "cancel":
        summary = await broadcast_progress.get_summary(context.deps, context.who.tg_user_id, bid)
        if summary.status not in broadcast_progress.LIVE:
            raise ServiceError(ErrorCode.NOT_CANCELLABLE, id=bid)
        await answer(query)
        await show(
            update,
            ngettext(
                "Cancel broadcast #{id}? The {count} message not sent yet will stay unsent.",
                "Cancel broadcast #{id}? The {count} messages not sent yet will stay unsent.",
                summary.counts.pending,
            ).format(id=bid, count=summary.counts.pending),
            markup(
                [
                    button(_("Yes, cancel it"), BroadcastListAction("confirm-cancel", bid)),
                    button(_("No"), BroadcastListAction("keep", bid)),
                ]
            ),
        )
        return
    summary = await broadcast_progress.cancel(context.deps, context.who.tg_user_id, bid)
    await answer(query)
    await show(
        update,
        _("Broadcast #{id} cancelled: {sent} sent, {not_sent} not sent.").format(
            id=bid, sent=summary.counts.sent, not_sent=summary.counts.cancelled
        ),
    )


# ---- the progress message (a scheduler job, not a handler) -------------------------------------


def progress_text(p: Progress) -> str:
    if p.final:
        return _("📣 Broadcast #{id} finished: {numbers}").format(
            id=p.id, numbers=counts_text(p.counts)
        )
    return _("📣 Broadcast #{id} is going out: {numbers}").format(
        id=p.id, numbers=counts_text(p.counts)
    )


def report_text(p: Progress) -> str:
    c = p.counts
    text = _(
        "<b>Broadcast #{id}: delivery report</b>\n"
        "Delivered: {sent} of {total}\n"
        "Failed: {failed}\n"
        "Unreachable (they blocked the bot): {unreachable}"
    ).format(id=p.id, sent=c.sent, total=c.total, failed=c.failed, unreachable=c.unreachable)
    if c.cancelled:  # removed or erased after the broadcast was confirmed
        text += "\n" + _("Not sent (no longer registered): {count}").format(count=c.cancelled)
    return text


def rendered_report(p: Progress) -> str:
    with use_locale(p.locale):
        return report_text(p)


async def progress_job(bot: Bot, deps: Deps) -> None:
    """Scheduler job: keeps each running broadcast's progress message up to date; the final
    report goes through the outbox (written with the broadcast's end, so it is never lost)."""
    for p in await broadcast_progress.progress_due(deps, rendered_report):
        with use_locale(p.locale):
            text = progress_text(p)
        try:
            if p.message_id is not None:
                try:
                    await bot.edit_message_text(text, chat_id=p.chat_id, message_id=p.message_id)
                except BadRequest as exc:
                    if "not modified" not in str(exc).lower():
                        raise
            elif not p.final:
                # It follows the organiser's "Send now" at once: keep the chat's spacing.
                message_id = await send_text(bot, p.chat_id, text, spaced=True)
                await broadcast_progress.set_progress_message(deps, p.id, message_id)
        except TelegramError as exc:
            log.info("broadcast progress not shown broadcast_id=%s error=%s", p.id, exc)
